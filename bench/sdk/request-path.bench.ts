// The SDK's request path beside the plain alternative, in one run: HTTP (mesh.fetch / undici
// request through mesh.dispatcher vs plain undici fetch / request to the same local server) and
// gRPC (a stock grpc-js client on xds:/// through the SDK vs plain grpc-js to the same server, and
// gRPC's own @grpc/grpc-js-xds in a peer process). Prints p50/p99 latency, throughput and the
// ratios, plus the memory the SDK adds with 100 clusters and 1,000 endpoints. Issue 3, bench/.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { createMesh } from '@weft/sdk';
import { EchoClient, startEchoBackend } from '@weft/example-demo/echo-service';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { startControlPlaneProcess } from '../helpers/control-plane-process.js';
import { formatTable, machineInfo, writeResults } from '../helpers/report.js';
import { startOkServer } from '../helpers/ok-server.js';
import { echoCall } from './grpc-call.js';
import { measure, type VariantResult } from './latency.js';

const quick = process.argv.includes('--quick');
const OPTIONS = quick
  ? { warmup: 200, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 5, perRound: 1000, concurrency: 32, throughputMs: 3000 };
const MEMORY_SERVICES = 100;
const ENDPOINTS_PER_SERVICE = 10;

function serviceYaml(
  host: string,
  port: number,
  protocol: 'HTTP' | 'GRPC',
  backendPort: number,
): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: ${port}, name: p, protocol: ${protocol} }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
    - { address: 127.0.0.1, ports: { p: ${backendPort} }, locality: us-east-1/us-east-1a }
`;
}

/** 100 services × 10 endpoints (127.0.x.y, never dialled) for the memory probe. */
function memoryMeshYaml(): string {
  const docs: string[] = [];
  for (let s = 0; s < MEMORY_SERVICES; s++) {
    const endpoints = Array.from(
      { length: ENDPOINTS_PER_SERVICE },
      (_, e) =>
        `    - { address: 127.1.${s}.${e + 1}, locality: ${e % 2 === 0 ? 'us-east-1/us-east-1a' : 'us-west-2/us-west-2a'} }`,
    ).join('\n');
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: svc-${s}, namespace: default }
spec:
  hosts: [svc-${s}]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
${endpoints}`);
  }
  return docs.join('\n---\n') + '\n';
}

async function runChild<T>(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<T> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, fileURLToPath(new URL(script, import.meta.url)), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

function ratioRows(
  results: readonly VariantResult[],
  pairs: readonly [string, string][],
): (string | number)[][] {
  const by = new Map(results.map((r) => [r.name, r]));
  return pairs.map(([mesh, plain]) => {
    const m = by.get(mesh)!;
    const p = by.get(plain)!;
    return [
      `${mesh} / ${plain}`,
      +(m.p50Us / p.p50Us).toFixed(3),
      +(m.p99Us / p.p99Us).toFixed(3),
      +(p.rps / m.rps).toFixed(3),
    ];
  });
}

function resultRows(results: readonly VariantResult[]): (string | number)[][] {
  return results.map((r) => [
    r.name,
    Math.round(r.p50Us),
    Math.round(r.p99Us),
    Math.round(r.meanUs),
    Math.round(r.rps),
  ]);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-sdk-'));
  const { server: http, port: httpPort } = await startOkServer();
  const echo = await startEchoBackend('echo');
  await writeFile(join(dir, 'web.yaml'), serviceYaml('web', 8080, 'HTTP', httpPort));
  await writeFile(join(dir, 'echo.yaml'), serviceYaml('echo', 50051, 'GRPC', echo.port));
  const cp = await startControlPlaneProcess(dir);
  const mesh = await createMesh({
    controlPlane: `127.0.0.1:${cp.xdsPort}`,
    node: { id: 'bench-checkout', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
  });
  await mesh.ready();

  // HTTP: same server, same keep-alive pooling; the mesh adds routing and endpoint choice.
  const plainAgent = new Agent({ keepAliveTimeout: 60_000 });
  const plainUrl = `http://127.0.0.1:${httpPort}/`;
  const httpResults = await measure(
    [
      {
        name: 'undici request (plain)',
        call: async () => (await request(plainUrl, { dispatcher: plainAgent })).body.text(),
      },
      {
        name: 'undici request + mesh.dispatcher',
        call: async () =>
          (await request('http://web:8080/', { dispatcher: mesh.dispatcher })).body.text(),
      },
      {
        name: 'undici fetch (plain)',
        call: async () => (await undiciFetch(plainUrl, { dispatcher: plainAgent })).text(),
      },
      { name: 'mesh.fetch', call: async () => (await mesh.fetch('http://web:8080/')).text() },
    ],
    OPTIONS,
  );

  // gRPC: a stock grpc-js client; the only difference is the target.
  const plainGrpc = new EchoClient(`127.0.0.1:${echo.port}`, credentials.createInsecure());
  const meshGrpc = new EchoClient('xds:///echo', credentials.createInsecure());
  const grpcResults = await measure(
    [
      { name: 'grpc-js (plain)', call: () => echoCall(plainGrpc) },
      { name: 'grpc-js xds:/// via Weft SDK', call: () => echoCall(meshGrpc) },
    ],
    OPTIONS,
  );
  plainGrpc.close();
  meshGrpc.close();

  const bootstrap = JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${cp.xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id: 'bench-grpc-js-xds', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
  });
  const peerResults = await runChild<VariantResult[]>(
    './grpc-xds-peer.js',
    [String(echo.port), 'xds:///echo', JSON.stringify(OPTIONS)],
    { GRPC_XDS_BOOTSTRAP_CONFIG: bootstrap },
  );

  await mesh.close();
  await plainAgent.close();
  await cp.stop();

  // Memory: a fresh control plane with 100 services × 10 endpoints, probed in a fresh process.
  const memDir = await mkdtemp(join(tmpdir(), 'weft-bench-sdk-mem-'));
  await writeFile(join(memDir, 'services.yaml'), memoryMeshYaml());
  const memCp = await startControlPlaneProcess(memDir);
  const memory = await runChild<{
    services: number;
    endpoints: number;
    loadMs: number;
    rssMiB: number;
    heapMiB: number;
  }>('./sdk-memory.js', [String(memCp.xdsPort), String(MEMORY_SERVICES)], {}, ['--expose-gc']);
  await memCp.stop();

  const header = ['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'];
  console.log(
    `\nHTTP (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(formatTable(header, resultRows(httpResults)));
  console.log('\ngRPC unary');
  console.log(formatTable(header, resultRows([...grpcResults, ...peerResults])));
  console.log('\nRatios (mesh / plain; throughput as plain / mesh, so > 1 = slower)');
  console.log(
    formatTable(
      ['pair', 'p50', 'p99', 'throughput'],
      [
        ...ratioRows(httpResults, [
          ['undici request + mesh.dispatcher', 'undici request (plain)'],
          ['mesh.fetch', 'undici fetch (plain)'],
        ]),
        ...ratioRows(grpcResults, [['grpc-js xds:/// via Weft SDK', 'grpc-js (plain)']]),
        ...ratioRows(peerResults, [['@grpc/grpc-js-xds xds:///', 'plain grpc-js (peer process)']]),
      ],
    ),
  );
  console.log(
    `\nSDK memory with ${memory.services} clusters and ${memory.endpoints} endpoints loaded: ` +
      `RSS +${memory.rssMiB.toFixed(1)} MiB, heap +${memory.heapMiB.toFixed(1)} MiB (loaded in ${Math.round(memory.loadMs)} ms)`,
  );
  await writeResults('sdk-request-path', {
    machine: machineInfo(),
    options: OPTIONS,
    http: httpResults,
    grpc: grpcResults,
    grpcJsXds: peerResults,
    memory,
  });

  http.close();
  await echo.close();
  await rm(dir, { recursive: true, force: true });
  await rm(memDir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
