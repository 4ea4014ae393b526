// The cost of observability on the HTTP request path: the same request through mesh.dispatcher
// with tracing off beside tracing through an OpenTelemetry SDK provider of the application's
// (sampling 1.0 and 0: its tracer makes every span), through the mesh's own tracer
// (`tracing.exporter`, as with an OTLP endpoint: sampling 1.0, 0, Istio's default 0.01, and 0.01
// writing all three header formats), off with the caller sending the five trace headers or just a
// traceparent (their wire cost alone), Istio's metrics on (an admin listener), metrics plus a
// JSON access log, and the issue's pair: tracing plus metrics. Spans go through a batch processor
// to an exporter that drops them. One mesh per variant, all against the same in-process ADS
// server and loopback backend; p50/p99/throughput and each variant's ratio over "off" (target
// ≤ 1.10). Issue 6, bench/. Another variant is one more VARIANTS entry: a name and the createMesh
// options it adds.
import { mkdtempSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  AdsServer,
  buildClusterLoadAssignment,
  buildListener,
  buildResourceSet,
} from '@weft/control-plane/testing';
import { createMesh, type Mesh, type MeshOptions, type TracingOptions } from '@weft/sdk';
import { Agent, request } from 'undici';
import { formatTable, machineInfo, quantile, writeResults } from '../helpers/report.js';
import { startOkServer } from '../helpers/ok-server.js';
import { measure, type Variant, type VariantResult } from './latency.js';

const quick = process.argv.includes('--quick');
const OPTIONS = quick
  ? { warmup: 300, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 6, perRound: 1000, concurrency: 32, throughputMs: 3000 };
const HOST = 'web';
const PORT = 8080;
const BASELINE = 'off';

/**
 * CPU time (user + system) of this process per sequential call, µs: the median of `rounds` runs
 * of `n` calls, variants interleaved. Client and backend share the process, so the backend's
 * part is the same in every variant; on a shared machine this moves far less than latency.
 */
async function cpuPerCall(
  variants: readonly Variant[],
  n: number,
  rounds: number,
): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length]!;
      const cpu0 = process.cpuUsage();
      for (let k = 0; k < n; k++) await v.call();
      const cpu = process.cpuUsage(cpu0);
      samples.get(v.name)!.push((cpu.user + cpu.system) / n);
    }
  }
  return new Map([...samples].map(([name, xs]) => [name, quantile(xs, 0.5)]));
}

/** Counts what it is handed and drops it (an exporter with no I/O). */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One configuration of the mesh: createMesh options added to the shared ones. */
interface ObservabilityVariant {
  readonly name: string;
  /** Options for createMesh, and what to close after the run. */
  setUp(): { options: MeshOptions; close?: () => Promise<void>; describe?: () => string };
  /** Request headers the caller sends (default none). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A tracer provider whose spans go to an exporter that drops them (sampling 1.0). */
function droppingProvider(): { provider: TracerProvider; exporter: DroppingExporter } {
  const exporter = new DroppingExporter();
  const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter })] });
  return { provider, exporter };
}

/** The five trace headers a sampled-out request carries (W3C, B3 single, B3 multi). */
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const SAMPLED_OUT_HEADERS = {
  traceparent: `00-${TRACE_ID}-${SPAN_ID}-00`,
  b3: `${TRACE_ID}-${SPAN_ID}-0`,
  'x-b3-traceid': TRACE_ID,
  'x-b3-spanid': SPAN_ID,
  'x-b3-sampled': '0',
} as const;

/** The mesh's own tracer exporting to a dropping exporter (`tracing.exporter`) at `sampling`. */
function meshTracer(
  sampling: number,
  extra: Partial<Pick<TracingOptions, 'propagators'>> = {},
  admin = false,
): ReturnType<ObservabilityVariant['setUp']> {
  const exporter = new DroppingExporter();
  return {
    options: {
      tracing: { exporter, sampling, ...extra },
      ...(admin ? { admin: { port: 0 } } : {}),
    },
    describe: () => `${exporter.exported} spans exported`,
  };
}

const VARIANTS: readonly ObservabilityVariant[] = [
  { name: BASELINE, setUp: () => ({ options: { tracing: false } }) },
  // A second mesh like the first: the noise floor of comparing two meshes.
  { name: 'off (2nd mesh)', setUp: () => ({ options: { tracing: false } }) },
  // Tracing off, the caller sending the trace headers a sampled-out request carries: what the
  // headers alone cost (client writes, backend parses), apart from spans.
  {
    name: 'off + 5 trace headers',
    setUp: () => ({ options: { tracing: false } }),
    headers: SAMPLED_OUT_HEADERS,
  },
  {
    name: 'off + traceparent',
    setUp: () => ({ options: { tracing: false } }),
    headers: { traceparent: SAMPLED_OUT_HEADERS.traceparent },
  },
  // The application's own OpenTelemetry SDK provider (options.tracerProvider): its tracer makes
  // the spans, its sampler decides.
  {
    name: 'your provider, sampling 1.0',
    setUp: () => {
      const { provider, exporter } = droppingProvider();
      return {
        options: { tracing: { tracerProvider: provider } },
        close: () => provider.shutdown(),
        describe: () => `${exporter.exported} spans exported`,
      };
    },
  },
  {
    name: 'your provider, sampling 0',
    setUp: () => {
      const provider = new TracerProvider({ sampler: new AlwaysOffSampler() });
      return {
        options: { tracing: { tracerProvider: provider } },
        close: () => provider.shutdown(),
      };
    },
  },
  // The mesh's own tracer (as with an OTLP endpoint; here tracing.exporter, so several meshes
  // can run in one process): it samples first and makes its own spans.
  { name: 'mesh tracer, sampling 1.0', setUp: () => meshTracer(1) },
  { name: 'mesh tracer, sampling 0', setUp: () => meshTracer(0) },
  // Istio's default sampling (1 %).
  { name: 'mesh tracer, sampling 0.01', setUp: () => meshTracer(0.01) },
  // All three encodings of the context on every request (W3C, B3 single, B3 multi).
  {
    name: 'mesh tracer 0.01, 3 formats',
    setUp: () => meshTracer(0.01, { propagators: ['tracecontext', 'b3', 'b3multi'] }),
  },
  // Istio's standard metrics are on whenever the mesh has an admin listener.
  { name: 'Istio metrics', setUp: () => ({ options: { tracing: false, admin: { port: 0 } } }) },
  {
    name: 'Istio metrics + access log',
    setUp: () => {
      const dir = mkdtempSync(join(tmpdir(), 'weft-observability-bench-'));
      const path = join(dir, 'access.log');
      return {
        options: { tracing: false, admin: { port: 0 }, accessLog: { path } },
        close: () => rm(dir, { recursive: true, force: true }),
        describe: () => `access log ${statSync(path, { throwIfNoEntry: false })?.size ?? 0} bytes`,
      };
    },
  },
  // The issue's target pair, tracing and metrics on against "off": at Istio's default sampling,
  // and with every request sampled.
  {
    name: 'mesh tracer 0.01 + Istio metrics',
    setUp: () => meshTracer(0.01, {}, true),
  },
  {
    name: 'mesh tracer 1.0 + Istio metrics',
    setUp: () => meshTracer(1, {}, true),
  },
];

async function main(): Promise<void> {
  const { server: http, port: backendPort } = await startOkServer();

  const name = `${HOST}:${PORT}`;
  const clusterName = `outbound|${PORT}||${HOST}`;
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
                  route: { cluster: clusterName, timeout: { seconds: '0', nanos: 0 } },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: clusterName,
          type: 'EDS',
          eds_cluster_config: {
            eds_config: { ads: {}, resource_api_version: 'V3' },
            service_name: clusterName,
          },
          connect_timeout: { seconds: '1', nanos: 0 },
          lb_policy: 'ROUND_ROBIN',
        },
      ],
      endpoints: [
        buildClusterLoadAssignment(clusterName, [
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

  const set: {
    variant: ObservabilityVariant;
    mesh: Mesh;
    setUp: ReturnType<ObservabilityVariant['setUp']>;
  }[] = [];
  for (const [i, variant] of VARIANTS.entries()) {
    const setUp = variant.setUp();
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${adsPort}`,
      node: {
        id: `bench-observability-${i}`,
        locality: { region: 'us-east-1', zone: 'us-east-1a' },
      },
      env: {},
      ...setUp.options,
    });
    await mesh.ready();
    set.push({ variant, mesh, setUp });
  }

  const plainAgent = new Agent({ keepAliveTimeout: 60_000 });
  const plainUrl = `http://127.0.0.1:${backendPort}/`;
  const variants: Variant[] = [
    {
      name: 'undici request (plain)',
      call: async () => (await request(plainUrl, { dispatcher: plainAgent })).body.text(),
    },
    ...set.map(({ variant, mesh }) => ({
      name: variant.name,
      call: async () => {
        const res = await request(`http://${name}/`, {
          dispatcher: mesh.dispatcher,
          ...(variant.headers === undefined ? {} : { headers: variant.headers }),
        });
        if (res.statusCode !== 200) throw new Error(`${variant.name}: status ${res.statusCode}`);
        return res.body.text();
      },
    })),
  ];
  const results = await measure(variants, OPTIONS);
  const cpu = await cpuPerCall(variants, OPTIONS.perRound, OPTIONS.rounds);
  const by = new Map(results.map((r) => [r.name, r]));
  const base = by.get(BASELINE)!;
  const baseCpu = cpu.get(BASELINE)!;
  const ratio = (r: VariantResult): (string | number)[] => [
    `${r.name} / ${BASELINE}`,
    +(r.p50Us / base.p50Us).toFixed(3),
    +(r.p99Us / base.p99Us).toFixed(3),
    +(cpu.get(r.name)! / baseCpu).toFixed(3),
    +(base.rps / r.rps).toFixed(3),
  ];
  const ratios = results.filter((r) => r.name !== BASELINE).map(ratio);
  const notes = set.map(({ variant, mesh, setUp }) => {
    const t = mesh.stats().tracing;
    return `${variant.name}: ${t.spansStarted} spans started${setUp.describe ? `, ${setUp.describe()}` : ''}`;
  });
  for (const { mesh, setUp } of set) {
    await mesh.close();
    await setUp.close?.();
  }
  await plainAgent.close();
  await ads.close();

  console.log(
    `\nHTTP through mesh.dispatcher (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(
    formatTable(
      ['variant', 'p50 µs', 'p99 µs', 'mean µs', 'CPU µs/req', 'req/s'],
      results.map((r) => [
        r.name,
        Math.round(r.p50Us),
        Math.round(r.p99Us),
        Math.round(r.meanUs),
        Math.round(cpu.get(r.name)!),
        Math.round(r.rps),
      ]),
    ),
  );
  console.log('\nRatios over "off" (throughput as off / variant, so > 1 = slower). Target ≤ 1.10');
  console.log(formatTable(['variant / off', 'p50', 'p99', 'CPU/req', 'throughput'], ratios));
  console.log(`\n${notes.join('\n')}`);
  await writeResults('sdk-observability', {
    machine: machineInfo(),
    options: OPTIONS,
    results: results.map((r) => ({ ...r, cpuUs: cpu.get(r.name) })),
    ratios: ratios.map(([pair, p50, p99, cpuRatio, throughput]) => ({
      pair,
      p50,
      p99,
      cpu: cpuRatio,
      throughput,
    })),
    notes,
  });
  http.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
