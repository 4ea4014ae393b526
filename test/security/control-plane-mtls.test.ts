// The control plane's mTLS xDS port (Istio's 15012) against a real `weft control-plane` process:
// ADS needs a workload certificate from the mesh CA (none, another CA's, an expired one and a
// node claiming another identity are refused), the CA renews by certificate without a token there
// (and only there), the SDK agent keeps renewing over mTLS after its join token expired, and a
// mesh's xDS stream moves to the mTLS port.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { credentials, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import FakeTimers from '@sinonjs/fake-timers';
import { CA_FILES, MeshCa } from '@weft/control-plane';
import { createMesh, resolveIdentityOptions, WorkloadCertificateAgent, type Mesh } from '@weft/sdk';
import {
  createCsr,
  jsonToStruct,
  LISTENER_TYPE_URL,
  loadXdsProtos,
  silentLogger,
  type Clock,
  type ConfigIssue,
  type TimerHandle,
} from '@weft/xds-client';
import {
  eventually,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from '../helpers/processes.js';
import { joinToken, serverPki } from '../helpers/mesh-pki.js';
import { listenOnLoopback, staticServiceYaml } from '../helpers/sdk-fixtures.js';
import { createServer, type Server } from 'node:http';

const protos = loadXdsProtos();
const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const CA = 'weft.ca.v1.CertificateService';
/** A TLS server name, so no IP address is sent as SNI (the SPIFFE id is checked instead). */
const TLS_OPTIONS = { 'grpc.ssl_target_name_override': 'weft-control-plane.weft-system' };

interface Outcome {
  readonly ok: boolean;
  readonly code?: number;
  readonly details?: string;
}

function tlsCredentials(
  rootPem: string,
  client?: { keyPem: string; certPem: string },
): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(rootPem),
    client === undefined ? null : Buffer.from(client.keyPem),
    client === undefined ? null : Buffer.from(client.certPem),
    // The control plane's certificate has a SPIFFE URI SAN and no DNS name.
    {
      checkServerIdentity: (_host, cert) =>
        (cert.subjectaltname ?? '').includes('/ns/weft-system/sa/weft-control-plane')
          ? undefined
          : new Error(`unexpected server ${cert.subjectaltname}`),
    },
  );
}

/** Opens an ADS stream, asks for listeners and reports the first response or the status. */
function adsOutcome(
  address: string,
  creds: ChannelCredentials,
  metadata: Record<string, unknown> = {},
): Promise<Outcome> {
  const client = new (protos.serviceClient(ADS))(address, creds, TLS_OPTIONS);
  const call = (
    client['StreamAggregatedResources'] as () => NodeJS.EventEmitter & {
      write(m: unknown): void;
      cancel(): void;
    }
  ).call(client);
  return new Promise<Outcome>((resolve) => {
    call.on('data', () => {
      resolve({ ok: true });
      call.cancel();
      client.close();
    });
    call.on('error', (err: ServiceError) => {
      resolve({ ok: false, code: err.code, details: err.details });
      client.close();
    });
    call.write({
      node: { id: 'probe', user_agent_name: 'weft-sdk', metadata: jsonToStruct(metadata) },
      type_url: LISTENER_TYPE_URL,
      resource_names: [],
    });
  });
}

/** CreateCertificate with `token` (maybe '') for `spiffeId`. */
function createCertificate(
  address: string,
  creds: ChannelCredentials,
  spiffeId: string,
  token: string,
): Promise<Outcome & { chain?: string[] }> {
  const client = new (protos.serviceClient(CA))(address, creds, TLS_OPTIONS);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csrPem = createCsr({ privateKey, publicKey, uris: [spiffeId] });
  return new Promise((resolve) => {
    (
      client['CreateCertificate'] as (
        req: unknown,
        cb: (err: ServiceError | null, res?: { cert_chain_pem: string[] }) => void,
      ) => void
    ).call(client, { csr_pem: csrPem, token, ttl_seconds: 0 }, (err, res) => {
      client.close();
      if (err !== null) resolve({ ok: false, code: err.code, details: err.details });
      else resolve({ ok: true, chain: res?.cert_chain_pem ?? [] });
    });
  });
}

/** A fake clock (the certificates' validity stays real time on the control plane). */
function fakeClock(): { fake: ReturnType<typeof FakeTimers.createClock>; clock: Clock } {
  const fake = FakeTimers.createClock(Date.now());
  return {
    fake,
    clock: {
      now: () => fake.now,
      setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
      clearTimeout: (h) => {
        fake.clearTimeout(h as never);
      },
    },
  };
}

describe('control plane mTLS xDS port (real process)', function () {
  this.timeout(90_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let rootPem: string;
  let tls: string;
  let plain: string;
  const meshes: Mesh[] = [];
  const agents: WorkloadCertificateAgent[] = [];
  let backend: Server;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cp-mtls-'));
    backend = createServer((_req, res) => res.end('inventory'));
    const port = await listenOnLoopback(backend);
    await writeFile(
      join(dir, 'mesh.yaml'),
      staticServiceYaml({ host: 'inventory', port: 8080, protocol: 'HTTP', endpointPorts: [port] }),
    );
    cp = await startControlPlaneProcess(dir);
    assert.ok(typeof cp.xdsTlsPort === 'number' && cp.xdsTlsPort > 0, 'listening line has it');
    rootPem = readFileSync(join(cp.caDir, CA_FILES.rootCert), 'utf8');
    tls = `127.0.0.1:${cp.xdsTlsPort}`;
    plain = `127.0.0.1:${cp.xdsPort}`;
  });

  after(async () => {
    for (const a of agents.splice(0)) a.close();
    for (const m of meshes.splice(0)) await m.close();
    await cp.stop();
    backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  const SPIFFE = 'spiffe://cluster.local/ns/default/sa/checkout';

  it('serves ADS to a workload certificate from the mesh CA', async () => {
    const client = serverPki({ caDir: cp.caDir, spiffeId: SPIFFE });
    const outcome = await adsOutcome(tls, tlsCredentials(rootPem, client), {
      NAMESPACE: 'default',
      SERVICE_ACCOUNT: 'checkout',
    });
    assert.deepEqual(outcome, { ok: true });
  });

  it('refuses ADS without a certificate, with another CA’s, with an expired one, and for another identity', async () => {
    const none = await adsOutcome(tls, tlsCredentials(rootPem));
    assert.equal(none.ok, false);
    assert.equal(none.code, 16, `UNAUTHENTICATED: ${none.details}`);
    assert.match(none.details ?? '', /no-client-certificate/);

    const foreign = serverPki({ caDir: undefined, spiffeId: SPIFFE });
    const other = await adsOutcome(tls, tlsCredentials(rootPem, foreign));
    assert.equal(other.code, 16, `another CA: ${other.details}`);

    const expired = serverPki({
      caDir: cp.caDir,
      spiffeId: SPIFFE,
      notBeforeMs: Date.now() - 7_200_000,
      notAfterMs: Date.now() - 3_600_000,
    });
    const old = await adsOutcome(tls, tlsCredentials(rootPem, expired));
    assert.equal(old.code, 16, `expired: ${old.details}`);

    const valid = serverPki({ caDir: cp.caDir, spiffeId: SPIFFE });
    const liar = await adsOutcome(tls, tlsCredentials(rootPem, valid), {
      NAMESPACE: 'default',
      SERVICE_ACCOUNT: 'payments',
    });
    assert.equal(liar.code, 7, `PERMISSION_DENIED: ${liar.details}`);
    assert.match(liar.details ?? '', /identity-mismatch/);

    const metrics = await (await fetch(`http://127.0.0.1:${cp.adminPort}/metrics`)).text();
    assert.match(
      metrics,
      /weft_cp_mtls_refusals_total\{service="ads",reason="no-client-certificate"\} [3-9]/,
    );
    assert.match(
      metrics,
      /weft_cp_mtls_refusals_total\{service="ads",reason="identity-mismatch"\} [1-9]/,
    );
  });

  it('registers only endpoints of the client certificate’s identity on the mTLS port', async () => {
    const cert = serverPki({ caDir: cp.caDir, spiffeId: SPIFFE });
    const client = new (protos.serviceClient('weft.registry.v1.Registry'))(
      tls,
      tlsCredentials(rootPem, cert),
      TLS_OPTIONS,
    );
    const call = (
      client['Register'] as () => NodeJS.EventEmitter & { write(m: unknown): void; cancel(): void }
    ).call(client);
    const answers: Record<string, unknown>[] = [];
    call.on('data', (m: Record<string, unknown>) => answers.push(m));
    call.on('error', () => undefined);
    const endpoint = (id: string, serviceAccount: string): unknown => ({
      register: {
        id,
        service: 'inventory',
        namespace: 'default',
        address: '127.0.0.1',
        port: 9,
        protocol: 'HTTP',
        service_account: serviceAccount,
      },
    });
    call.write(endpoint('mine', 'checkout'));
    call.write(endpoint('theirs', 'payments'));
    await eventually(() => (answers.length === 2 ? true : undefined), 10_000);
    call.cancel();
    client.close();
    const byId = (id: string): Record<string, { id?: string; field?: string }> =>
      answers.find((a) =>
        Object.values(a).some((v) => (v as { id?: string } | null)?.id === id),
      ) as Record<string, { id?: string; field?: string }>;
    assert.ok(byId('mine')['registered'], JSON.stringify(answers));
    assert.equal(byId('theirs')['rejected']?.field, 'service_account', JSON.stringify(answers));

    const anonymous = new (protos.serviceClient('weft.registry.v1.Registry'))(
      tls,
      tlsCredentials(rootPem),
      TLS_OPTIONS,
    );
    const refused = await new Promise<ServiceError>((resolve) => {
      const c = (
        anonymous['Register'] as () => NodeJS.EventEmitter & { write(m: unknown): void }
      ).call(anonymous);
      c.on('error', resolve);
      c.write(endpoint('anon', 'checkout'));
    });
    anonymous.close();
    assert.equal(refused.code, 16, refused.details);
  });

  it('renews by certificate without a token on the mTLS port, and not on the plaintext one', async () => {
    const current = serverPki({ caDir: cp.caDir, spiffeId: SPIFFE });
    const renewed = await createCertificate(tls, tlsCredentials(rootPem, current), SPIFFE, '');
    assert.equal(renewed.ok, true, renewed.details);
    assert.match(renewed.chain?.[0] ?? '', /BEGIN CERTIFICATE/);

    const other = await createCertificate(
      tls,
      tlsCredentials(rootPem, current),
      'spiffe://cluster.local/ns/default/sa/payments',
      '',
    );
    assert.equal(other.code, 7, `another identity: ${other.details}`);

    const noCert = await createCertificate(tls, tlsCredentials(rootPem), SPIFFE, '');
    assert.equal(noCert.code, 16, `no certificate: ${noCert.details}`);

    const plaintext = await createCertificate(plain, credentials.createInsecure(), SPIFFE, '');
    assert.equal(plaintext.code, 16, `plaintext, no token: ${plaintext.details}`);
    assert.match(plaintext.details ?? '', /malformed-token/);
  });

  it('an agent whose join token expired keeps renewing over mTLS (fake clock)', async () => {
    const { fake, clock } = fakeClock();
    const token = MeshCa.open({ dir: cp.caDir }).createJoinToken({
      namespace: 'default',
      serviceAccount: 'checkout',
      ttlMs: 1000,
    }).token;
    const issues: ConfigIssue[] = [];
    const identity = resolveIdentityOptions({ token, ttlMs: 60_000 }, {}, issues);
    assert.deepEqual(issues, []);
    const agent = new WorkloadCertificateAgent({
      controlPlaneAddress: plain,
      controlPlaneTls: { address: tls, caFile: undefined },
      identity: identity!,
      namespace: 'default',
      serviceAccount: 'checkout',
      clock,
      logger: silentLogger,
    });
    agents.push(agent);
    agent.start();
    const first = await agent.ready();
    // The token's lifetime is real time on the control plane: wait until it is gone.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let i = 1; i <= 2; i++) {
      const renewInMs = agent.stats().nextRequestAtMs! - fake.now;
      await fake.tickAsync(renewInMs);
      await eventually(() => {
        assert.equal(agent.stats().issued, i + 1, JSON.stringify(agent.stats()));
        return true;
      }, 20_000);
    }
    const stats = agent.stats();
    assert.deepEqual(stats.issuedBy, { token: 1, mtls: 2 });
    assert.equal(stats.failures, 0, stats.lastFailure);
    assert.notEqual(agent.current()?.serialNumber, first.serialNumber);
  });

  it("moves a mesh's xDS stream to the mTLS port once it has a certificate", async () => {
    const mesh = await createMesh({
      controlPlane: plain,
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      identity: { token: joinToken(cp.caDir, 'default', 'checkout') },
      controlPlaneTls: { address: tls },
    });
    meshes.push(mesh);
    await mesh.ready();
    await eventually(async () => {
      const { clients } = (await (
        await fetch(`http://127.0.0.1:${cp.adminPort}/clients`)
      ).json()) as {
        clients: { nodeId: string; transport: string; peerSpiffeId?: string }[];
      };
      const mine = clients.filter((c) => c.nodeId === mesh.nodeId);
      assert.equal(mine.length, 1, JSON.stringify(clients));
      assert.equal(mine[0]?.transport, 'mtls');
      assert.equal(mine[0].peerSpiffeId, SPIFFE);
      return true;
    }, 30_000);
    const stats = mesh.stats();
    assert.equal(stats.xds.channel, 'mtls');
    assert.equal(stats.xds.movedToMtls, 1);
    assert.equal(stats.xds.ready, true);
    const metrics = await (await fetch(`http://127.0.0.1:${cp.adminPort}/metrics`)).text();
    assert.match(metrics, /weft_cp_xds_connections_total\{security="mtls"\} [1-9]/);
  });

  it("registers a mesh's served endpoint over the mTLS port, the lease bound to its certificate", async () => {
    const mesh = await createMesh({
      controlPlane: plain,
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      identity: { token: joinToken(cp.caDir, 'default', 'checkout') },
      controlPlaneTls: { address: tls },
    });
    meshes.push(mesh);
    await mesh.ready();
    const served = await mesh.serve((_req, res) => res.end('ok'), {
      service: 'checkout-api',
      port: 0,
      drainMs: 0,
    });
    try {
      const { registrations } = (await (
        await fetch(`http://127.0.0.1:${cp.adminPort}/registry`)
      ).json()) as {
        registrations: {
          endpoint: { service: string; port: number };
          lease: { spiffeId: string | null };
        }[];
      };
      const mine = registrations.find((r) => r.endpoint.service === 'checkout-api');
      assert.ok(mine, JSON.stringify(registrations));
      assert.equal(mine.endpoint.port, served.port);
      assert.equal(mine.lease.spiffeId, SPIFFE);
    } finally {
      await served.close();
    }
  });

  it('falls back to the join token (warn) once its certificate expired without an mTLS renewal', async () => {
    const { fake, clock } = fakeClock();
    const warnings: string[] = [];
    const issues: ConfigIssue[] = [];
    const identity = resolveIdentityOptions(
      { token: joinToken(cp.caDir, 'default', 'checkout'), ttlMs: 60_000 },
      {},
      issues,
    );
    assert.deepEqual(issues, []);
    const agent = new WorkloadCertificateAgent({
      controlPlaneAddress: plain,
      // Nothing listens there: every mTLS renewal fails until the certificate expires.
      controlPlaneTls: { address: '127.0.0.1:1', caFile: undefined },
      identity: identity!,
      namespace: 'default',
      serviceAccount: 'checkout',
      clock,
      logger: { ...silentLogger, warn: (message) => warnings.push(message) },
    });
    agents.push(agent);
    agent.start();
    const first = await agent.ready();
    // Renewals over mTLS fail (nothing listens) and are retried with backoff; the fake clock
    // moves on in steps, with real time between them for the calls, past the certificate's
    // expiry: then the next attempt uses the join token.
    await eventually(async () => {
      await fake.tickAsync(5000);
      return agent.stats().issued === 2 ? true : undefined;
    }, 40_000);
    assert.ok(fake.now > first.notAfterMs, 'renewed only after the certificate expired');
    const stats = agent.stats();
    assert.equal(stats.issuedBy.token, 2, JSON.stringify(stats));
    assert.equal(stats.issuedBy.mtls, 0);
    assert.ok(stats.tokenFallbacks >= 1);
    assert.ok(stats.failuresByReason.unavailable! >= 1);
    assert.ok(warnings.some((w) => w.includes('falling back to the join token')));
  });

  it('a mesh whose join token expired keeps renewing over mTLS and serving config (fake clock)', async () => {
    const { fake, clock } = fakeClock();
    const token = MeshCa.open({ dir: cp.caDir }).createJoinToken({
      namespace: 'default',
      serviceAccount: 'cart',
      ttlMs: 1000,
    }).token;
    const mesh = await createMesh({
      controlPlane: plain,
      clock,
      workload: { name: 'cart', namespace: 'default', serviceAccount: 'cart' },
      identity: { token, ttlMs: 60_000 },
      controlPlaneTls: { address: tls, caFile: join(cp.caDir, CA_FILES.rootCert) },
    });
    meshes.push(mesh);
    await mesh.ready();
    await eventually(() => (mesh.stats().xds.channel === 'mtls' ? true : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the token is gone
    for (let i = 1; i <= 2; i++) {
      const cert = mesh.stats().security.certificate!;
      await fake.tickAsync(cert.nextRequestAtMs! - fake.now);
      await eventually(
        () => (mesh.stats().security.certificate!.issued === i + 1 ? true : undefined),
        20_000,
      );
    }
    const stats = mesh.stats();
    assert.deepEqual(stats.security.certificate!.issuedBy, { token: 1, mtls: 2 });
    assert.equal(stats.security.certificate!.failures, 0, stats.security.certificate!.lastFailure);
    assert.equal(stats.xds.channel, 'mtls');
    assert.equal(stats.xds.movedToMtls, 1);
    assert.equal(stats.xds.ready, true);
    // The config received before and after the move keeps routing.
    const res = await mesh.fetch('http://inventory:8080/items');
    assert.equal(await res.text(), 'inventory');
  });
});
