// The cost of mTLS on the HTTP request path: the same request through mesh.dispatcher to a
// plaintext cluster and to an ISTIO_MUTUAL one (workload certificate from the in-process
// control plane's CA, SPIFFE SAN check), beside plain undici http and https (client
// certificate, same key type) as the no-mesh reference; and the handshake's cost, with a new
// connection per request (DestinationRule maxRequestsPerConnection: 1; undici `reset`); and
// gRPC unary calls through the mesh (mesh.grpcCredentials()) to a plaintext and an ISTIO_MUTUAL
// echo backend. Ratios: mTLS / plaintext. Issue 5, bench/.
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '@weft/control-plane';
import { createMesh } from '@weft/sdk';
import { createWorkloadCsr } from '@weft/xds-client';
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { EchoClient, startEchoBackend } from '@weft/example-demo/echo-service';
import { echoCall } from './grpc-call.js';
import { Agent, request } from 'undici';
import { formatTable, machineInfo, writeResults } from '../helpers/report.js';
import { startOkServer } from '../helpers/ok-server.js';
import { measurePooledAndNew, ratioRow, resultRow, type Variant } from './latency.js';

const quick = process.argv.includes('--quick');
const OPTIONS = quick
  ? { warmup: 300, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 5, perRound: 1000, concurrency: 32, throughputMs: 3000 };

function serviceYaml(
  host: string,
  port: number,
  tls: boolean,
  newConnection: boolean,
  grpc = false,
): string {
  const policy: string[] = [];
  if (tls) policy.push('    tls: { mode: ISTIO_MUTUAL }');
  if (newConnection) policy.push('    connectionPool: { http: { maxRequestsPerConnection: 1 } }');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  ports: [${grpc ? '{ number: 50051, name: grpc, protocol: GRPC }' : '{ number: 8080, name: http, protocol: HTTP }'}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
    - { address: 127.0.0.1, ports: { ${grpc ? 'grpc' : 'http'}: ${port} }, serviceAccount: backend }
${
  policy.length === 0
    ? ''
    : `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec:
  host: ${host}
  trafficPolicy:
${policy.join('\n')}
`
}`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-mtls-bench-'));
  const configDir = join(dir, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'mesh.yaml'), '');
  const cp = await startControlPlane({
    configDir,
    xdsPort: 0,
    adminPort: 0,
    watch: false,
    caDir: join(dir, 'ca'),
  });
  const ca = cp.ca!;
  const issue = (sa: string): { key: string; cert: string; ca: string[] } => {
    const { privateKeyPem, csrPem } = createWorkloadCsr(
      `spiffe://${ca.trustDomain}/ns/default/sa/${sa}`,
    );
    const r = ca.signForIdentity({ csrPem, namespace: 'default', serviceAccount: sa });
    if (!r.ok) throw new Error(r.message);
    return { key: privateKeyPem, cert: r.certChainPem.join(''), ca: [...r.trustBundlePem] };
  };

  const { server: http, port: httpPort } = await startOkServer();
  const https = createServer(
    { ...issue('backend'), requestCert: true, rejectUnauthorized: true },
    (_req, res) => {
      res.end('ok');
    },
  );
  https.keepAliveTimeout = 60_000;
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  const httpsPort = (https.address() as AddressInfo).port;
  const backendPki = issue('backend');
  const grpcPlain = await startEchoBackend('grpc-plain');
  const grpcSecure = await startEchoBackend(
    'grpc-secure',
    0,
    ServerCredentials.createSsl(
      Buffer.from(backendPki.ca.join('\n')),
      [{ cert_chain: Buffer.from(backendPki.cert), private_key: Buffer.from(backendPki.key) }],
      true,
    ),
  );

  await writeFile(
    join(configDir, 'mesh.yaml'),
    [
      serviceYaml('plain', httpPort, false, false),
      serviceYaml('secure', httpsPort, true, false),
      serviceYaml('plain-new', httpPort, false, true),
      serviceYaml('secure-new', httpsPort, true, true),
      serviceYaml('grpc-plain', grpcPlain.port, false, false, true),
      serviceYaml('grpc-secure', grpcSecure.port, true, false, true),
    ].join('---\n'),
  );
  const reload = await cp.reload();
  if (!reload.ok) throw new Error(`config rejected: ${JSON.stringify(reload.rejection)}`);

  const { token } = ca.createJoinToken({ namespace: 'default', serviceAccount: 'client' });
  const mesh = await createMesh({
    controlPlane: `127.0.0.1:${cp.xdsPort}`,
    node: { id: 'bench-mtls' },
    workload: { name: 'client', namespace: 'default', serviceAccount: 'client' },
    env: {},
    tracing: false,
    identity: { token },
  });
  await mesh.ready();
  await mesh.certificates!.ready();

  const client = issue('client');
  const plainAgent = new Agent({ keepAliveTimeout: 60_000 });
  const tlsAgent = new Agent({
    keepAliveTimeout: 60_000,
    connect: { ...client, checkServerIdentity: () => undefined },
  });
  const ok = async (p: Promise<{ statusCode: number; body: { text(): Promise<string> } }>) => {
    const res = await p;
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return text;
  };
  // grpc-js without the mesh, as the reference: plaintext, and TLS with the same client certificate.
  const directPlain = new EchoClient(`127.0.0.1:${grpcPlain.port}`, credentials.createInsecure());
  const directTls = new EchoClient(
    `127.0.0.1:${grpcSecure.port}`,
    credentials.createSsl(
      Buffer.from(client.ca.join('\n')),
      Buffer.from(client.key),
      Buffer.from(client.cert),
      { checkServerIdentity: () => undefined },
    ),
  );
  const grpcPlainClient = new EchoClient('xds:///grpc-plain:50051', mesh.grpcCredentials());
  const grpcSecureClient = new EchoClient('xds:///grpc-secure:50051', mesh.grpcCredentials());
  const viaMesh = (host: string) => () =>
    ok(request(`http://${host}:8080/`, { dispatcher: mesh.dispatcher }));
  const variants: Variant[] = [
    {
      name: 'undici http',
      call: () => ok(request(`http://127.0.0.1:${httpPort}/`, { dispatcher: plainAgent })),
    },
    {
      name: 'undici https (mTLS)',
      call: () => ok(request(`https://127.0.0.1:${httpsPort}/`, { dispatcher: tlsAgent })),
    },
    { name: 'mesh plaintext', call: viaMesh('plain') },
    { name: 'mesh mTLS', call: viaMesh('secure') },
    { name: 'grpc-js plaintext', call: () => echoCall(directPlain) },
    { name: 'grpc-js mTLS', call: () => echoCall(directTls) },
    { name: 'mesh gRPC plaintext', call: () => echoCall(grpcPlainClient) },
    { name: 'mesh gRPC mTLS', call: () => echoCall(grpcSecureClient) },
  ];
  const handshakeVariants: Variant[] = [
    {
      name: 'undici http, new connection',
      call: () =>
        ok(request(`http://127.0.0.1:${httpPort}/`, { dispatcher: plainAgent, reset: true })),
    },
    {
      name: 'undici https (mTLS), new connection',
      call: () =>
        ok(request(`https://127.0.0.1:${httpsPort}/`, { dispatcher: tlsAgent, reset: true })),
    },
    { name: 'mesh plaintext, new connection', call: viaMesh('plain-new') },
    { name: 'mesh mTLS, new connection', call: viaMesh('secure-new') },
  ];
  const { pooled: results, perConnection: handshakes } = await measurePooledAndNew(
    variants,
    handshakeVariants,
    OPTIONS,
  );
  const all = [...results, ...handshakes];
  const ratio = (a: string, b: string): (string | number)[] => ratioRow(all, a, b);
  const ratios = [
    ratio('mesh mTLS', 'mesh plaintext'),
    ratio('undici https (mTLS)', 'undici http'),
    ratio('mesh mTLS', 'undici https (mTLS)'),
    ratio('mesh gRPC mTLS', 'mesh gRPC plaintext'),
    ratio('grpc-js mTLS', 'grpc-js plaintext'),
    ratio('mesh gRPC mTLS', 'grpc-js mTLS'),
    ratio('mesh mTLS, new connection', 'mesh plaintext, new connection'),
    ratio('undici https (mTLS), new connection', 'undici http, new connection'),
    ratio('mesh mTLS, new connection', 'undici https (mTLS), new connection'),
  ];
  const security = mesh.stats().security;
  directPlain.close();
  directTls.close();
  grpcPlainClient.close();
  grpcSecureClient.close();
  await mesh.close();
  await Promise.all([grpcPlain.close(), grpcSecure.close()]);
  await plainAgent.close();
  await tlsAgent.close();
  await cp.close();
  http.close();
  https.close();
  https.closeAllConnections();
  await rm(dir, { recursive: true, force: true });

  console.log(
    `\nHTTP and gRPC, pooled connections (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(
    formatTable(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'], results.map(resultRow)),
  );
  console.log('\nHTTP, a new connection per request (the handshake cost)');
  console.log(
    formatTable(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'], handshakes.map(resultRow)),
  );
  console.log('\nRatios (throughput as b / a, so > 1 = slower)');
  console.log(formatTable(['a / b', 'p50', 'p99', 'throughput'], ratios));
  console.log(
    `\nmesh handshakes: ${security.handshakes.ok} ok, failures ${JSON.stringify(security.handshakes.failures)}`,
  );
  await writeResults('sdk-mtls', {
    machine: machineInfo(),
    options: OPTIONS,
    results: [...results, ...handshakes],
    ratios: ratios.map(([pair, p50, p99, throughput]) => ({ pair, p50, p99, throughput })),
  });
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
