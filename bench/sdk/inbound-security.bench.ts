// The cost of inbound security on mesh.serve(): the same request to a plain `http.createServer`
// and to mesh.serve() servers whose inbound Listener is PERMISSIVE with no policy, PERMISSIVE with
// five AuthorizationPolicies (DENY + ALLOW rules evaluated per request), and STRICT (mTLS, client
// certificate from the in-process control plane's CA) beside a Node https server with
// requestCert (the no-mesh mTLS reference). Pooled connections, then a new connection per
// request (first-byte sniffing and the handshake). Ratios: mesh / reference. Issue 5, bench/.
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '@weft/control-plane';
import { createMesh, type Mesh } from '@weft/sdk';
import { createWorkloadCsr } from '@weft/xds-client';
import { Agent, request } from 'undici';
import { formatTable, machineInfo, writeResults } from '../helpers/report.js';
import { startOkServer } from '../helpers/ok-server.js';
import { measurePooledAndNew, ratioRow, resultRow, type Variant } from './latency.js';

const quick = process.argv.includes('--quick');
const OPTIONS = quick
  ? { warmup: 300, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 5, perRound: 1000, concurrency: 32, throughputMs: 3000 };

const ap = (ns: string, name: string, spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n${spec}`;

const CONFIG = [
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: strict }\nspec:\n  mtls: { mode: STRICT }\n`,
  ap(
    'rbac',
    'deny-admin',
    "  action: DENY\n  rules:\n    - to: [{ operation: { paths: ['/admin*'] } }]\n",
  ),
  ap(
    'rbac',
    'deny-blocked',
    "  action: DENY\n  rules:\n    - when: [{ key: 'request.headers[x-block]', values: ['yes'] }]\n",
  ),
  ap(
    'rbac',
    'allow-writes',
    "  rules:\n    - to: [{ operation: { methods: [POST, PUT], paths: ['/items*'] } }]\n",
  ),
  ap('rbac', 'allow-json', "  rules:\n    - to: [{ operation: { paths: ['*.json'] } }]\n"),
  ap(
    'rbac',
    'allow-reads',
    "  rules:\n    - to: [{ operation: { methods: [GET], notPaths: ['/private*'] } }]\n",
  ),
].join('---\n');

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-inbound-bench-'));
  const configDir = join(dir, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'mesh.yaml'), CONFIG);
  const cp = await startControlPlane({
    configDir,
    xdsPort: 0,
    adminPort: 0,
    watch: false,
    caDir: join(dir, 'ca'),
  });
  const ca = cp.ca!;
  const issue = (ns: string, sa: string): { key: string; cert: string; ca: string[] } => {
    const { privateKeyPem, csrPem } = createWorkloadCsr(
      `spiffe://${ca.trustDomain}/ns/${ns}/sa/${sa}`,
    );
    const r = ca.signForIdentity({ csrPem, namespace: ns, serviceAccount: sa });
    if (!r.ok) throw new Error(r.message);
    return { key: privateKeyPem, cert: r.certChainPem.join(''), ca: [...r.trustBundlePem] };
  };

  const meshes: Mesh[] = [];
  const serve = async (ns: string): Promise<number> => {
    const { token } = ca.createJoinToken({ namespace: ns, serviceAccount: 'api' });
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: `bench-inbound-${ns}` },
      workload: { name: 'api', namespace: ns, serviceAccount: 'api' },
      env: {},
      tracing: false,
      identity: { token },
    });
    meshes.push(mesh);
    await mesh.ready();
    await mesh.certificates!.ready();
    const s = await mesh.serve((_req, res) => res.end('ok'), {
      service: `api-${ns}`,
      port: 0,
      drainMs: 0,
    });
    s.server.keepAliveTimeout = 60_000;
    return s.port;
  };
  const openPort = await serve('open');
  const rbacPort = await serve('rbac');
  const strictPort = await serve('strict');

  const { server: http, port: httpPort } = await startOkServer();
  const https = createServer(
    { ...issue('ref', 'backend'), requestCert: true, rejectUnauthorized: true },
    (_req, res) => {
      res.end('ok');
    },
  );
  https.keepAliveTimeout = 60_000;
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  const httpsPort = (https.address() as AddressInfo).port;

  const client = issue('front', 'web');
  const plainAgent = new Agent({ keepAliveTimeout: 60_000 });
  const tlsAgent = new Agent({
    keepAliveTimeout: 60_000,
    connect: { ...client, checkServerIdentity: () => undefined },
  });
  const ok = async (url: string, dispatcher: Agent, reset = false): Promise<string> => {
    const res = await request(url, { dispatcher, reset });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${url}: status ${res.statusCode}`);
    return text;
  };
  const plain =
    (port: number, reset = false) =>
    () =>
      ok(`http://127.0.0.1:${port}/items/1`, plainAgent, reset);
  const tls =
    (port: number, reset = false) =>
    () =>
      ok(`https://127.0.0.1:${port}/items/1`, tlsAgent, reset);
  const variants: Variant[] = [
    { name: 'http.createServer', call: plain(httpPort) },
    { name: 'mesh.serve, no policy', call: plain(openPort) },
    { name: 'mesh.serve, 5 policies', call: plain(rbacPort) },
    { name: 'https requestCert (mTLS)', call: tls(httpsPort) },
    { name: 'mesh.serve STRICT (mTLS)', call: tls(strictPort) },
  ];
  const connectionVariants: Variant[] = [
    { name: 'http.createServer, new connection', call: plain(httpPort, true) },
    { name: 'mesh.serve, new connection', call: plain(openPort, true) },
    { name: 'https requestCert, new connection', call: tls(httpsPort, true) },
    { name: 'mesh.serve STRICT, new connection', call: tls(strictPort, true) },
  ];
  const { pooled: results, perConnection: connections } = await measurePooledAndNew(
    variants,
    connectionVariants,
    OPTIONS,
  );
  const all = [...results, ...connections];
  const ratio = (a: string, b: string): (string | number)[] => ratioRow(all, a, b);
  const ratios = [
    ratio('mesh.serve, no policy', 'http.createServer'),
    ratio('mesh.serve, 5 policies', 'mesh.serve, no policy'),
    ratio('mesh.serve STRICT (mTLS)', 'https requestCert (mTLS)'),
    ratio('mesh.serve, new connection', 'http.createServer, new connection'),
    ratio('mesh.serve STRICT, new connection', 'https requestCert, new connection'),
  ];
  const inbound = meshes.map((m) => m.stats().inboundSecurity);
  for (const m of meshes) await m.close();
  await plainAgent.close();
  await tlsAgent.close();
  await cp.close();
  http.close();
  https.close();
  https.closeAllConnections();
  await rm(dir, { recursive: true, force: true });

  console.log(
    `\nInbound HTTP, pooled connections (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(
    formatTable(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'], results.map(resultRow)),
  );
  console.log('\nInbound HTTP, a new connection per request (sniffing and handshake)');
  console.log(
    formatTable(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'], connections.map(resultRow)),
  );
  console.log('\nRatios (throughput as b / a, so > 1 = slower)');
  console.log(formatTable(['a / b', 'p50', 'p99', 'throughput'], ratios));
  const failures = inbound.map((s) => JSON.stringify(s.handshakeFailures)).join(' ');
  console.log(`\ninbound handshake failures per server: ${failures}`);
  await writeResults('sdk-inbound-security', {
    machine: machineInfo(),
    options: OPTIONS,
    results: [...results, ...connections],
    ratios: ratios.map(([pair, p50, p99, throughput]) => ({ pair, p50, p99, throughput })),
  });
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
