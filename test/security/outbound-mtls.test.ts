// Outbound mTLS through createMesh against a real control plane process (its own temporary CA):
// DestinationRule ISTIO_MUTUAL → the SDK dials TLS with its workload certificate, trusts the mesh
// bundle and checks the server's SPIFFE ID; wrong SA / foreign CA / expired / not-yet-valid
// servers fail as connect failures counted by reason; no identity → WEFT_TLS_NO_CERTIFICATE.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { credentials, status as grpcStatus } from '@grpc/grpc-js';
import { EchoClient } from '@weft/example-demo/echo-service';
import { createMesh, WeftError, type Mesh } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';
import { echoCallWithDetails, staticServiceYaml } from '../helpers/sdk-fixtures.js';
import { joinToken, serverPki, startMtlsServer, type ServerPki } from '../helpers/mesh-pki.js';

const TD = 'cluster.local';
const spiffe = (sa: string): string => `spiffe://${TD}/ns/default/sa/${sa}`;

const mtlsServiceYaml = (host: string, port: number, sa: string): string =>
  staticServiceYaml({
    host,
    port: 8080,
    protocol: 'HTTP',
    endpointPorts: [port],
    serviceAccount: sa,
    mtls: true,
  });

const echoCall = echoCallWithDetails;

async function status(mesh: Mesh, host: string): Promise<number | WeftError> {
  try {
    const res = await request(`http://${host}:8080/`, { dispatcher: mesh.dispatcher });
    await res.body.text();
    return res.statusCode;
  } catch (err) {
    if (err instanceof WeftError) return err;
    throw err;
  }
}

describe('outbound mTLS (ISTIO_MUTUAL) through createMesh', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  const servers: { close(): Promise<void> }[] = [];
  const ports: Record<string, number> = {};
  let good: Awaited<ReturnType<typeof startMtlsServer>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-mtls-'));
    // The control plane creates its CA on start; server certificates need its root, so start it
    // on an empty config first, then write the services.
    await writeFile(join(dir, 'mesh.yaml'), '');
    cp = await startControlPlaneProcess(dir);
    const now = Date.now();
    const pkis: Record<string, ServerPki> = {
      inventory: serverPki({ caDir: cp.caDir, spiffeId: spiffe('inventory') }),
      wrongsa: serverPki({ caDir: cp.caDir, spiffeId: spiffe('payments') }),
      otherca: serverPki({ caDir: undefined, spiffeId: spiffe('inventory') }),
      expired: serverPki({
        caDir: cp.caDir,
        spiffeId: spiffe('inventory'),
        notBeforeMs: now - 7_200_000,
        notAfterMs: now - 3_600_000,
      }),
      future: serverPki({
        caDir: cp.caDir,
        spiffeId: spiffe('inventory'),
        notBeforeMs: now + 3_600_000,
        notAfterMs: now + 7_200_000,
      }),
    };
    const yaml: string[] = [];
    for (const [host, pki] of Object.entries(pkis)) {
      // Every server trusts the mesh root for client certificates.
      const s = await startMtlsServer({
        ...pki,
        caPem: serverPki({ caDir: cp.caDir, spiffeId: 'x' }).caPem,
      });
      if (host === 'inventory') good = s;
      servers.push(s);
      ports[host] = s.port;
      yaml.push(mtlsServiceYaml(host, s.port, 'inventory'));
    }
    await writeFile(join(dir, 'mesh.yaml'), yaml.join('---\n'));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function meshWith(identity: boolean): Promise<Mesh> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: `mtls-client-${identity}-${Date.now()}` },
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      env: {},
      admin: { port: 0 },
      ...(identity ? { identity: { token: joinToken(cp.caDir, 'default', 'checkout') } } : {}),
    });
    await mesh.ready();
    return mesh;
  }

  it('sends with the workload certificate to a server holding the right service account’s certificate', async () => {
    const mesh = await meshWith(true);
    try {
      // The config may still be the empty first one: wait for the listener.
      let got: number | WeftError = 0;
      for (let i = 0; i < 50; i++) {
        got = await status(mesh, 'inventory');
        if (got === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(got, 200);
      const seen = good.clients.at(-1);
      assert.equal(seen?.spiffeId, spiffe('checkout'), 'the server saw our SPIFFE ID');
      const security = mesh.stats().security;
      assert.equal(security.certificate?.spiffeId, spiffe('checkout'));
      assert.ok(security.handshakes.ok >= 1);
      // The key never shows in stats or the config dump; the chain does.
      const dump = JSON.stringify((mesh as unknown as { configDump(): unknown }).configDump());
      assert.ok(!JSON.stringify(mesh.stats()).includes('PRIVATE KEY'));
      assert.ok(!dump.includes('PRIVATE KEY'));
      assert.ok(dump.includes(`"spiffeId":"${spiffe('checkout')}"`), 'secrets in the config dump');
      const material = mesh.certificates?.current();
      assert.ok(material !== undefined);
      assert.ok(!Object.keys(material).includes('privateKeyPem'));
      assert.ok(!JSON.stringify(material).includes('PRIVATE KEY'));
      assert.match(material.privateKeyPem, /BEGIN PRIVATE KEY/);
      const metrics = await (await fetch(`http://127.0.0.1:${mesh.admin!.port}/metrics`)).text();
      const expiry =
        /^weft_sdk_certificate_expiry_seconds\{[^}]*spiffe_id="([^"]+)"[^}]*\} (\d+)/m.exec(
          metrics,
        );
      assert.ok(expiry !== null);
      assert.equal(expiry[1], spiffe('checkout'));
      assert.ok(Number(expiry[2]) > 3000, 'about 24 h left (the mesh default TTL)');
      assert.match(metrics, /^weft_sdk_certificate_rotations_total\{[^}]*\} 0$/m);
      assert.match(
        metrics,
        /^weft_sdk_tls_handshake_failures_total\{[^}]*reason="bad-san"[^}]*\} 0$/m,
      );
      assert.ok(!metrics.includes('PRIVATE KEY'));
    } finally {
      await mesh.close();
    }
  });

  for (const [host, reason] of [
    ['wrongsa', 'bad-san'],
    ['otherca', 'untrusted'],
    ['expired', 'expired'],
    ['future', 'not-yet-valid'],
  ] as const) {
    it(`fails a server with a certificate that is ${reason} as a connect failure (UF), counted by reason`, async () => {
      const mesh = await meshWith(true);
      try {
        await mesh.certificates!.ready();
        let got: number | WeftError = 0;
        for (let i = 0; i < 50; i++) {
          got = await status(mesh, host);
          if (got instanceof WeftError && got.code !== 'WEFT_NO_ROUTE') break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(got instanceof WeftError, `expected a WeftError, got ${String(got)}`);
        assert.equal(got.code, 'WEFT_CONNECT_FAILURE');
        assert.equal(got.responseFlag, 'UF');
        assert.match(got.message, new RegExp(reason));
        assert.ok(mesh.stats().security.handshakes.failures[reason] >= 1);
        const metrics = await (await fetch(`http://127.0.0.1:${mesh.admin!.port}/metrics`)).text();
        const line = new RegExp(
          `^weft_sdk_tls_handshake_failures_total\\{[^}]*reason="${reason}"[^}]*\\} ([1-9]\\d*)$`,
          'm',
        );
        assert.match(metrics, line);
      } finally {
        await mesh.close();
      }
    });
  }

  it('refuses a gRPC call to an mTLS cluster on a channel without mesh.grpcCredentials(), never plaintext', async () => {
    const mesh = await meshWith(true);
    const client = new EchoClient('xds:///inventory:8080', credentials.createInsecure());
    try {
      let outcome: { backend?: string; code?: number; details?: string } = {};
      for (let i = 0; i < 50; i++) {
        outcome = await echoCall(client);
        if (outcome.details?.includes('WEFT_UNSUPPORTED') === true) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(outcome.code, grpcStatus.UNAVAILABLE);
      assert.match(
        outcome.details ?? '',
        /WEFT_UNSUPPORTED: cluster outbound\|8080\|\|inventory requires mTLS .*mesh\.grpcCredentials\(\)/,
      );
    } finally {
      client.close();
      await mesh.close();
    }
  });

  it('fails an mTLS cluster with WEFT_TLS_NO_CERTIFICATE when the mesh has no identity, never plaintext', async () => {
    const mesh = await meshWith(false);
    try {
      let got: number | WeftError = 0;
      for (let i = 0; i < 50; i++) {
        got = await status(mesh, 'inventory');
        if (got instanceof WeftError && got.code !== 'WEFT_NO_ROUTE') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(got instanceof WeftError);
      assert.equal(got.code, 'WEFT_TLS_NO_CERTIFICATE');
      assert.equal(got.responseFlag, 'UF');
      assert.match(got.message, /identity/);
      assert.equal(mesh.certificates, undefined);
      assert.equal(mesh.stats().security.certificate, undefined);
    } finally {
      await mesh.close();
    }
  });
});
