// The cost of Istio's standard metrics (and of the access log) on the SDK's HTTP request path:
// three meshes in one process against the same in-process ADS server and the same local server,
// all with an admin listener: Istio metrics off, on, and on with a JSON access log to a file.
// Prints p50/p99/mean latency and throughput of undici `request` through each mesh.dispatcher,
// and the ratios on / off (target ≤ 1.10). Issue 6, bench/.
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdsServer,
  buildClusterLoadAssignment,
  buildListener,
  buildResourceSet,
} from '@weft/control-plane/testing';
import { createMesh, type Mesh, type MeshOptions } from '@weft/sdk';
import { request } from 'undici';
import { formatTable, machineInfo, writeResults } from '../helpers/report.js';
import { measure, type Variant, type VariantResult } from './latency.js';

const quick = process.argv.includes('--quick');
const OPTIONS = quick
  ? { warmup: 300, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 6, perRound: 1000, concurrency: 32, throughputMs: 3000 };
const HOST = 'web';
const PORT = 8080;
const CLUSTER = `outbound|${PORT}||${HOST}`;
const OFF = 'metrics off';
const ON = 'Istio metrics on';
const ON_LOG = 'Istio metrics + access log';

async function main(): Promise<void> {
  const http = createServer((_req, res) => {
    res.end('ok');
  });
  http.keepAliveTimeout = 60_000;
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const backendPort = (http.address() as AddressInfo).port;

  const name = `${HOST}:${PORT}`;
  const ads = new AdsServer();
  const adsPort = await ads.listen();
  const accepted = ads.setResources(
    buildResourceSet({
      listeners: [buildListener(name, name)],
      routes: [
        {
          name,
          virtual_hosts: [
            {
              name: `${HOST}-vh`,
              domains: ['*'],
              routes: [
                {
                  name: 'default',
                  match: { prefix: '/' },
                  route: { cluster: CLUSTER, timeout: { seconds: '0', nanos: 0 } },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: CLUSTER,
          type: 'EDS',
          eds_cluster_config: {
            eds_config: { ads: {}, resource_api_version: 'V3' },
            service_name: CLUSTER,
          },
          connect_timeout: { seconds: '1', nanos: 0 },
          lb_policy: 'ROUND_ROBIN',
        },
      ],
      endpoints: [
        buildClusterLoadAssignment(CLUSTER, [
          {
            address: '127.0.0.1',
            port: backendPort,
            locality: { region: 'us-east-1', zone: 'us-east-1a' },
          },
        ]),
      ],
    }),
  );
  if (!accepted.ok) throw new Error(`xDS resources rejected: ${accepted.problems.join('; ')}`);

  const dir = await mkdtemp(join(tmpdir(), 'weft-metrics-bench-'));
  const accessLogPath = join(dir, 'access.log');
  const start = async (id: string, extra: MeshOptions): Promise<Mesh> => {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${adsPort}`,
      node: { id, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'bench', namespace: 'default', labels: { app: 'bench', version: 'v1' } },
      admin: { port: 0 },
      serviceBreaker: false,
      env: {},
      ...extra,
    });
    await mesh.ready();
    return mesh;
  };
  const meshes: [string, Mesh][] = [
    [OFF, await start('bench-metrics-off', { istioMetrics: false })],
    [ON, await start('bench-metrics-on', {})],
    [ON_LOG, await start('bench-metrics-log', { accessLog: { path: accessLogPath } })],
  ];
  const variants: Variant[] = meshes.map(([variant, mesh]) => ({
    name: variant,
    call: async () => {
      const res = await request(`http://${name}/`, { dispatcher: mesh.dispatcher });
      if (res.statusCode !== 200) throw new Error(`${variant}: status ${res.statusCode}`);
      return res.body.text();
    },
  }));
  const results = await measure(variants, OPTIONS);

  // A scrape of the "on" mesh, to show the series the run produced.
  const on = meshes[1]![1];
  const scrape = await (await request(`${on.admin!.url}/metrics`)).body.text();
  const series = scrape.split('\n').filter((l) => l.startsWith('istio_requests_total{')).length;
  const logStats = meshes[2]![1].stats().telemetry.accessLog;
  for (const [, mesh] of meshes) await mesh.close();
  const logBytes = (await stat(accessLogPath)).size;
  await rm(dir, { recursive: true, force: true });
  await ads.close();
  http.close();

  const by = new Map(results.map((r) => [r.name, r]));
  const ratio = (a: string, b: string): (string | number)[] => {
    const x = by.get(a)!;
    const y = by.get(b)!;
    return [
      `${a} / ${b}`,
      +(x.p50Us / y.p50Us).toFixed(3),
      +(x.p99Us / y.p99Us).toFixed(3),
      +(x.meanUs / y.meanUs).toFixed(3),
      +(y.rps / x.rps).toFixed(3),
    ];
  };
  const rows = (rs: readonly VariantResult[]): (string | number)[][] =>
    rs.map((r) => [
      r.name,
      Math.round(r.p50Us),
      Math.round(r.p99Us),
      Math.round(r.meanUs),
      Math.round(r.rps),
    ]);
  const ratios = [ratio(ON, OFF), ratio(ON_LOG, OFF)];
  console.log(
    `\nHTTP through mesh.dispatcher (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(formatTable(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'req/s'], rows(results)));
  console.log('\nRatios a / b (throughput as b / a, so > 1 = a is slower). Target ≤ 1.10');
  console.log(formatTable(['ratio', 'p50', 'p99', 'mean', 'throughput'], ratios));
  console.log(
    `\nistio_requests_total series after the run: ${series}; access log: ${logStats?.written ?? 0} lines written, ${logStats?.dropped ?? 0} dropped, ${logBytes} bytes`,
  );
  const path = await writeResults('sdk-metrics', {
    machine: machineInfo(),
    options: OPTIONS,
    results,
    ratios,
    series,
    accessLog: { ...logStats, bytes: logBytes },
  });
  console.log(`\nwritten: ${path}`);
}

await main();
