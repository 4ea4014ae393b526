// The cost of the resilience layer on the happy path: the same SDK request path with every
// resilience policy configured (resilience-policies.ts; nothing fails, nothing trips) beside none
// configured, and plain undici / grpc-js, in one process against the same local servers. HTTP
// through mesh.dispatcher (undici request) and gRPC through a stock grpc-js client on xds:///.
// Prints p50/p99/throughput and the ratio all / none (target ≤ 1.05). Issue 4, bench/.
// Config comes from an in-process ADS server as raw xDS, so the benchmark covers every policy the
// SDK reads (the retry budget included, which Istio's API cannot express yet).
import { performance } from 'node:perf_hooks';
import { credentials } from '@grpc/grpc-js';
import {
  AdsServer,
  buildClusterLoadAssignment,
  buildListener,
  buildResourceSet,
  type PlainResource,
} from '@weft/control-plane/testing';
import { EchoClient, startEchoBackend } from '@weft/example-demo/echo-service';
import { createMesh } from '@weft/sdk';
import { Agent, request } from 'undici';
import { formatTable, machineInfo, quantile, writeResults } from '../helpers/report.js';
import { startOkServer } from '../helpers/ok-server.js';
import { echoCall } from './grpc-call.js';
import { throughput, type Variant } from './latency.js';
import {
  mergeXds,
  RESILIENCE_POLICIES,
  ROUTER_FILTER,
  type BenchProtocol,
  type ResiliencePolicy,
  type XdsObject,
} from './resilience-policies.js';

const quick = process.argv.includes('--quick');
/** Also measure each policy alone (one more variant per policy). */
const each = process.argv.includes('--each');
const OPTIONS = quick
  ? { warmup: 300, rounds: 3, perRound: 300, concurrency: 16, throughputMs: 1000 }
  : { warmup: 1000, rounds: 6, perRound: 1000, concurrency: 32, throughputMs: 3000 };
const HTTP_PORT = 8080;
const PLAIN_GRPC_WITH_POLICIES = 'grpc-js (plain) + retryPolicy and timeout';
/** The method config the SDK gives grpc-js for the "all" route (grpc-mesh-channel.ts), by hand. */
const GRPC_JS_METHOD_CONFIG = {
  name: [{}],
  timeout: '10s',
  retryPolicy: {
    maxAttempts: 4,
    initialBackoff: '0.025s',
    maxBackoff: '0.25s',
    backoffMultiplier: 2,
    retryableStatusCodes: ['CANCELLED', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE'],
  },
};
const GRPC_PORT = 50051;

/** A service of the benchmark: its host name, protocol and the policies its resources carry. */
interface BenchService {
  readonly host: string;
  readonly protocol: BenchProtocol;
  readonly policies: readonly ResiliencePolicy[];
}

/** Listener → RouteConfiguration → Cluster → ClusterLoadAssignment of one service, policies applied. */
function serviceResources(service: BenchService, backendPort: number) {
  const { host, protocol, policies } = service;
  const port = protocol === 'http' ? HTTP_PORT : GRPC_PORT;
  // HTTP requests name `host:port` (the listener of that port); xds:///host names the host's.
  const listenerName = protocol === 'http' ? `${host}:${port}` : host;
  const clusterName = `outbound|${port}||${host}`;
  const listener = buildListener(listenerName, listenerName);
  const filters = policies.flatMap((p) => p.httpFilters?.(protocol) ?? []);
  if (filters.length > 0) {
    const hcm = (listener['api_listener'] as XdsObject)['api_listener'] as XdsObject;
    hcm['http_filters'] = [...filters, ROUTER_FILTER];
  }
  // As the control plane sends a route without a VirtualService timeout: 0 = no route timeout.
  const action: XdsObject = { cluster: clusterName, timeout: { seconds: '0', nanos: 0 } };
  for (const p of policies) if (p.routeAction) mergeXds(action, p.routeAction(protocol));
  const route: PlainResource = {
    name: listenerName,
    virtual_hosts: [
      {
        name: `${host}-vh`,
        domains: ['*'],
        routes: [{ name: 'default', match: { prefix: '/' }, route: action }],
      },
    ],
  };
  const cluster: XdsObject = {
    name: clusterName,
    type: 'EDS',
    eds_cluster_config: {
      eds_config: { ads: {}, resource_api_version: 'V3' },
      service_name: clusterName,
    },
    connect_timeout: { seconds: '1', nanos: 0 },
    lb_policy: 'ROUND_ROBIN',
  };
  for (const p of policies) if (p.cluster) mergeXds(cluster, p.cluster(protocol));
  const endpoints = buildClusterLoadAssignment(clusterName, [
    {
      address: '127.0.0.1',
      port: backendPort,
      locality: { region: 'us-east-1', zone: 'us-east-1a' },
    },
  ]);
  return { listener, route, cluster, endpoints };
}

/** The services: none, all, and (with --each) one per policy, for one protocol. */
function servicesFor(protocol: BenchProtocol): BenchService[] {
  const prefix = protocol === 'http' ? 'web' : 'echo';
  const services: BenchService[] = [
    { host: `${prefix}-none`, protocol, policies: [] },
    { host: `${prefix}-all`, protocol, policies: RESILIENCE_POLICIES },
  ];
  if (each) {
    RESILIENCE_POLICIES.forEach((p, i) => {
      services.push({ host: `${prefix}-only-${i}`, protocol, policies: [p] });
    });
  }
  return services;
}

/** Latency, CPU and throughput of one variant. */
interface ResilienceResult {
  readonly name: string;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  /**
   * CPU time (user + system) of this process per sequential call, µs: the median over rounds.
   * Client and server share the process, so the server's part is the same in every variant; on
   * a shared machine this moves far less than latency when other processes compete.
   */
  readonly cpuUs: number;
  readonly rps: number;
}

/** `n` sequential calls: their latencies (µs) and the process CPU time they took (µs). */
async function sequentialRound(
  call: () => Promise<unknown>,
  n: number,
): Promise<{ latencies: number[]; cpuUs: number }> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    latencies.push((performance.now() - t0) * 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  return { latencies, cpuUs: cpu.user + cpu.system };
}

/**
 * Warm-up, then `rounds` rounds of `perRound` sequential calls per variant (order rotated each
 * round, so machine noise hits all alike), then a throughput run per variant.
 */
async function measureVariants(
  variants: readonly Variant[],
  options: typeof OPTIONS,
): Promise<ResilienceResult[]> {
  for (const v of variants) await sequentialRound(v.call, options.warmup);
  const latencies = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const cpuPerCall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length]!;
      const round = await sequentialRound(v.call, options.perRound);
      latencies.get(v.name)!.push(...round.latencies);
      cpuPerCall.get(v.name)!.push(round.cpuUs / options.perRound);
    }
  }
  const results: ResilienceResult[] = [];
  for (const v of variants) {
    const l = latencies.get(v.name)!;
    results.push({
      name: v.name,
      p50Us: quantile(l, 0.5),
      p99Us: quantile(l, 0.99),
      meanUs: l.reduce((a, b) => a + b, 0) / l.length,
      cpuUs: quantile(cpuPerCall.get(v.name)!, 0.5),
      rps: await throughput(v.call, options.concurrency, options.throughputMs),
    });
  }
  return results;
}

function variantName(service: BenchService, base: string): string {
  if (service.policies.length === 0) return `${base}, no policies`;
  if (service.policies === RESILIENCE_POLICIES) return `${base}, all policies`;
  return `${base}, only ${service.policies.map((p) => p.name).join('+')}`;
}

function resultRows(results: readonly ResilienceResult[]): (string | number)[][] {
  return results.map((r) => [
    r.name,
    Math.round(r.p50Us),
    Math.round(r.p99Us),
    Math.round(r.meanUs),
    Math.round(r.cpuUs),
    Math.round(r.rps),
  ]);
}

/** p50, p99, CPU and throughput ratios of `a` over `b` (throughput as b / a, so > 1 = `a` slower). */
function ratioRow(results: readonly ResilienceResult[], a: string, b: string): (string | number)[] {
  const by = new Map(results.map((r) => [r.name, r]));
  const x = by.get(a)!;
  const y = by.get(b)!;
  return [
    `${a} / ${b}`,
    +(x.p50Us / y.p50Us).toFixed(3),
    +(x.p99Us / y.p99Us).toFixed(3),
    +(x.cpuUs / y.cpuUs).toFixed(3),
    +(y.rps / x.rps).toFixed(3),
  ];
}

async function main(): Promise<void> {
  const { server: http, port: httpPort } = await startOkServer();
  const echo = await startEchoBackend('echo');

  const httpServices = servicesFor('http');
  const grpcServices = servicesFor('grpc');
  const resources = [
    ...httpServices.map((s) => serviceResources(s, httpPort)),
    ...grpcServices.map((s) => serviceResources(s, echo.port)),
  ];
  const ads = new AdsServer();
  const adsPort = await ads.listen();
  const accepted = ads.setResources(
    buildResourceSet({
      listeners: resources.map((r) => r.listener),
      routes: resources.map((r) => r.route),
      clusters: resources.map((r) => r.cluster),
      endpoints: resources.map((r) => r.endpoints),
    }),
  );
  if (!accepted.ok) throw new Error(`xDS resources rejected: ${accepted.problems.join('; ')}`);
  const mesh = await createMesh({
    controlPlane: `127.0.0.1:${adsPort}`,
    node: { id: 'bench-resilience', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    env: {},
  });
  await mesh.ready();

  const plainAgent = new Agent({ keepAliveTimeout: 60_000 });
  const plainUrl = `http://127.0.0.1:${httpPort}/`;
  const httpVariants: Variant[] = [
    {
      name: 'undici request (plain)',
      call: async () => (await request(plainUrl, { dispatcher: plainAgent })).body.text(),
    },
    ...httpServices.map((s) => ({
      name: variantName(s, 'mesh.dispatcher'),
      call: async () => {
        const res = await request(`http://${s.host}:${HTTP_PORT}/`, {
          dispatcher: mesh.dispatcher,
        });
        if (res.statusCode !== 200) throw new Error(`${s.host}: status ${res.statusCode}`);
        return res.body.text();
      },
    })),
  ];
  const httpResults = await measureVariants(httpVariants, OPTIONS);

  const plainGrpc = new EchoClient(`127.0.0.1:${echo.port}`, credentials.createInsecure());
  // grpc-js's own cost of what the mesh hands it for "all": the same retryPolicy and timeout in a
  // plain channel's service config, no mesh involved.
  const plainGrpcWithPolicies = new EchoClient(
    `127.0.0.1:${echo.port}`,
    credentials.createInsecure(),
    { 'grpc.service_config': JSON.stringify({ methodConfig: [GRPC_JS_METHOD_CONFIG] }) },
  );
  const meshClients = grpcServices.map(
    (s) => [s, new EchoClient(`xds:///${s.host}`, credentials.createInsecure())] as const,
  );
  const grpcVariants: Variant[] = [
    { name: 'grpc-js (plain)', call: () => echoCall(plainGrpc) },
    { name: PLAIN_GRPC_WITH_POLICIES, call: () => echoCall(plainGrpcWithPolicies) },
    ...meshClients.map(([s, client]) => ({
      name: variantName(s, 'grpc-js xds:///'),
      call: () => echoCall(client),
    })),
  ];
  const grpcResults = await measureVariants(grpcVariants, OPTIONS);
  const stats = mesh.stats();
  plainGrpc.close();
  plainGrpcWithPolicies.close();
  for (const [, client] of meshClients) client.close();
  await mesh.close();
  await plainAgent.close();
  await ads.close();

  const header = ['variant', 'p50 µs', 'p99 µs', 'mean µs', 'CPU µs/req', 'req/s'];
  const httpAll = variantName(httpServices[1]!, 'mesh.dispatcher');
  const httpNone = variantName(httpServices[0]!, 'mesh.dispatcher');
  const grpcAll = variantName(grpcServices[1]!, 'grpc-js xds:///');
  const grpcNone = variantName(grpcServices[0]!, 'grpc-js xds:///');
  const ratios = [
    ratioRow(httpResults, httpAll, httpNone),
    ratioRow(grpcResults, grpcAll, grpcNone),
    ratioRow(httpResults, httpNone, 'undici request (plain)'),
    ratioRow(httpResults, httpAll, 'undici request (plain)'),
    ratioRow(grpcResults, grpcNone, 'grpc-js (plain)'),
    ratioRow(grpcResults, grpcAll, 'grpc-js (plain)'),
    ratioRow(grpcResults, PLAIN_GRPC_WITH_POLICIES, 'grpc-js (plain)'),
    ...httpServices
      .slice(2)
      .map((s) => ratioRow(httpResults, variantName(s, 'mesh.dispatcher'), httpNone)),
    ...grpcServices
      .slice(2)
      .map((s) => ratioRow(grpcResults, variantName(s, 'grpc-js xds:///'), grpcNone)),
  ];
  console.log(`\nPolicies in "all": ${RESILIENCE_POLICIES.map((p) => p.name).join(', ')}`);
  console.log(
    `\nHTTP (sequential latency; throughput with ${OPTIONS.concurrency} concurrent callers)`,
  );
  console.log(formatTable(header, resultRows(httpResults)));
  console.log('\ngRPC unary');
  console.log(formatTable(header, resultRows(grpcResults)));
  console.log(
    '\nRatios a / b (throughput as b / a, so > 1 = a is slower). Target: all / none ≤ 1.05',
  );
  console.log(formatTable(['a / b', 'p50', 'p99', 'CPU/req', 'throughput'], ratios));
  // Nothing may have failed or been retried: this is the happy path.
  const h = stats.http;
  console.log(
    `\nmesh counters: http requests ${h.requests}, failures ${h.failures}, retries ${h.retries}, timeouts ${h.timeouts}; grpc retries ${stats.grpc.retries}`,
  );
  if (h.failures > 0 || h.retries > 0 || stats.grpc.retries > 0)
    throw new Error('the happy path saw failures or retries');
  await writeResults('sdk-resilience', {
    machine: machineInfo(),
    options: OPTIONS,
    policies: RESILIENCE_POLICIES.map((p) => p.name),
    http: httpResults,
    grpc: grpcResults,
    ratios: ratios.map(([pair, p50, p99, cpu, throughput]) => ({
      pair,
      p50,
      p99,
      cpu,
      throughput,
    })),
    meshStats: stats,
  });

  http.close();
  await echo.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
