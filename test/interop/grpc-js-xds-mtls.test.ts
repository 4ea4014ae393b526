// Interop over mTLS: gRPC's own proxyless client (@grpc/grpc-js-xds, unmodified, with its
// XdsChannelCredentials) talks mTLS to a Weft gRPC server. A `weft control-plane` process keeps
// the client's certificate files fresh (--cert-files shop/grpc-client=DIR) and sends it ISTIO_MUTUAL
// clusters in gRFC A29 shape (bootstrap from `weft bootstrap --cert-dir DIR`); the server holds a
// Weft mesh's workload certificate (identity via join token) and requires a client certificate.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, experimental, type ServerCredentials } from '@grpc/grpc-js';
import { CSDS_SERVICE_NAME } from '@weft/control-plane';
import { loadXdsProtos } from '@weft/xds-client';
import { startEchoBackend, type EchoBackend } from '@weft/example-demo/echo-service';
import { createMesh, type Mesh, type WorkloadCertificates } from '@weft/sdk';
import {
  eventually,
  startControlPlaneProcess,
  startGrpcXdsDriver,
  WEFT_BIN,
  type ControlPlaneProcess,
  type GrpcXdsDriver,
} from '../helpers/processes.js';
import { joinToken } from '../helpers/mesh-pki.js';
import { staticServiceYaml } from '../helpers/sdk-fixtures.js';

const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/grpc-client';

/**
 * A grpc-js CertificateProvider fed by a mesh's rotating certificates (until the SDK's own
 * grpcServerCredentials lands from the inbound-security work).
 */
class MeshCertificateProvider implements experimental.CertificateProvider {
  private readonly ca = new Set<experimental.CaCertificateUpdateListener>();
  private readonly identity = new Set<experimental.IdentityCertificateUpdateListener>();

  constructor(private readonly certificates: WorkloadCertificates) {
    certificates.onChange(() => {
      for (const l of this.ca) this.sendCa(l);
      for (const l of this.identity) this.sendIdentity(l);
    });
  }

  private sendCa(listener: experimental.CaCertificateUpdateListener): void {
    const m = this.certificates.current();
    if (m !== undefined) listener({ caCertificate: Buffer.from(m.trustBundlePem.join('\n')) });
  }

  private sendIdentity(listener: experimental.IdentityCertificateUpdateListener): void {
    const m = this.certificates.current();
    if (m !== undefined)
      listener({
        certificate: Buffer.from(m.certChainPem.join('\n')),
        privateKey: Buffer.from(m.privateKeyPem),
      });
  }

  // First updates go out after the call returns: grpc-js's CertificateProviderServerCredentials
  // adds its server's watcher only after adding these listeners, and would miss a synchronous one.
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.ca.add(listener);
    queueMicrotask(() => {
      this.sendCa(listener);
    });
  }
  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.ca.delete(listener);
  }
  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identity.add(listener);
    queueMicrotask(() => {
      this.sendIdentity(listener);
    });
  }
  removeIdentityCertificateListener(
    listener: experimental.IdentityCertificateUpdateListener,
  ): void {
    this.identity.delete(listener);
  }
}

const echoYaml = (port: number): string =>
  staticServiceYaml({
    host: 'echo',
    port: 50051,
    protocol: 'GRPC',
    endpointPorts: [port],
    serviceAccount: 'echo',
    mtls: true,
  });

describe('interop: @grpc/grpc-js-xds over mTLS (xDS credentials) to a Weft gRPC server', function () {
  this.timeout(60_000);
  let dir: string;
  let certDir: string;
  let cp: ControlPlaneProcess;
  let serverMesh: Mesh;
  let echo: EchoBackend;
  let driver: GrpcXdsDriver;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-interop-mtls-'));
    certDir = await mkdtemp(join(tmpdir(), 'weft-interop-certs-'));
    await writeFile(join(dir, 'mesh.yaml'), '');
    cp = await startControlPlaneProcess(dir, {}, ['--cert-files', `shop/grpc-client=${certDir}`]);
    // The server: a Weft mesh's workload (default/echo) holding its certificate from the mesh CA.
    serverMesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'echo-server' },
      workload: { name: 'echo', namespace: 'default', serviceAccount: 'echo' },
      env: {},
      identity: { token: joinToken(cp.caDir, 'default', 'echo') },
    });
    const certificates = serverMesh.certificates!;
    await certificates.ready();
    const provider = new MeshCertificateProvider(certificates);
    const serverCredentials: ServerCredentials =
      experimental.createCertificateProviderServerCredentials(provider, provider, true);
    echo = await startEchoBackend('echo', 0, serverCredentials);
    await writeFile(join(dir, 'mesh.yaml'), echoYaml(echo.port));
    // The client's files, written by the control plane.
    for (const f of ['key.pem', 'cert-chain.pem', 'root-cert.pem'])
      await eventually(
        () => access(join(certDir, f)).then(() => true),
        20_000,
        `${f} in --cert-files DIR`,
      );
    const bootstrap = join(dir, 'bootstrap.json');
    await promisify(execFile)(process.execPath, [
      WEFT_BIN,
      'bootstrap',
      '--xds-server',
      `127.0.0.1:${cp.xdsPort}`,
      '--node-id',
      'grpc-mtls-client',
      '--namespace',
      'shop',
      '--service-account',
      'grpc-client',
      '--cert-dir',
      certDir,
      '--out',
      bootstrap,
    ]);
    driver = startGrpcXdsDriver(bootstrap);
  });

  after(async () => {
    await driver.close();
    await echo.close();
    await serverMesh.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(certDir, { recursive: true, force: true });
  });

  it('calls the mTLS-only Weft server with the client certificate from --cert-files', async () => {
    let last: unknown;
    const result = await eventually(
      async () => {
        const r = await driver.calls({
          target: 'xds:///echo:50051',
          n: 20,
          deadlineMs: 5_000,
          xdsCredentials: true,
        });
        last = r;
        return r.counts['echo'] === 20 ? r : undefined;
      },
      30_000,
      'every call to reach the echo server over mTLS',
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(last)}`);
    });
    assert.deepEqual(result.errors, {});
    assert.ok((echo.peers.get(CLIENT_ID) ?? 0) >= 20, JSON.stringify([...echo.peers]));
    assert.equal(echo.peers.get('plaintext'), undefined, 'no plaintext caller');
    assert.deepEqual([...echo.peers.keys()], [CLIENT_ID]);
  });

  it('fails the same client without xDS credentials: the server really requires mTLS', async () => {
    const before = echo.calls;
    const result = await driver.calls({
      target: 'xds:///echo:50051',
      n: 5,
      deadlineMs: 3_000,
      xdsCredentials: false,
    });
    assert.equal(result.counts['echo'] ?? 0, 0, JSON.stringify(result));
    assert.equal(
      Object.values(result.errors).reduce((a, b) => a + b, 0),
      5,
    );
    assert.equal(echo.calls, before, 'no call reached the server');
    assert.equal(echo.peers.get('plaintext'), undefined);
  });

  it('shows the client in /clients with no NACK (the A29 clusters are accepted)', async () => {
    const body = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/clients`)).json()) as {
      clients: { nodeId: string; kind: string }[];
    };
    const client = body.clients.find((c) => c.nodeId === 'grpc-mtls-client');
    assert.ok(client, JSON.stringify(body));
    assert.equal(client.kind, 'grpc');
    assert.doesNotMatch(JSON.stringify(client), /"lastNack":\{/);
  });

  it('shows the client on CSDS with every resource ACKED, its Cluster carrying the A29 TLS', async () => {
    const Csds = loadXdsProtos().serviceClient(CSDS_SERVICE_NAME);
    const csds = new Csds(`127.0.0.1:${cp.xdsPort}`, credentials.createInsecure());
    try {
      const res = await new Promise<{
        config?: { node: { id: string }; generic_xds_configs: Record<string, unknown>[] }[];
      }>((resolve, reject) => {
        (csds as unknown as Record<string, (...a: unknown[]) => void>)['FetchClientStatus']!.call(
          csds,
          { node_matchers: [{ node_id: { exact: 'grpc-mtls-client' } }] },
          (err: Error | null, body: never) => {
            if (err) reject(err);
            else resolve(body);
          },
        );
      });
      const [config] = res.config ?? [];
      assert.equal(config?.node.id, 'grpc-mtls-client');
      const held = config.generic_xds_configs.map(
        (g) => `${String(g['type_url']).split('.').pop()} ${String(g['client_status'])}`,
      );
      assert.ok(held.includes('Cluster ACKED'), held.join(', '));
      assert.ok(
        config.generic_xds_configs.every((g) => g['client_status'] === 'ACKED'),
        held.join(', '),
      );
      // The Cluster the client ACKed holds the UpstreamTlsContext with the server's SPIFFE ID.
      const cluster = config.generic_xds_configs.find((g) =>
        String(g['type_url']).endsWith('.Cluster'),
      );
      const bytes = (cluster?.['xds_config'] as { value?: Uint8Array } | undefined)?.value;
      const text = Buffer.from(bytes ?? []).toString('latin1');
      assert.match(text, /UpstreamTlsContext/);
      assert.match(text, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo/);
    } finally {
      csds.close();
    }
  });
});
