// Control-plane convergence: time from a config edit until N connected xds-clients have ACKed
// it, bytes pushed per edit, and control-plane memory per connected client. (Issue: "A benchmark
// in bench/ for the control plane"; DESIGN.md "What done means"; STYLE rule 42.)
//
//   node bench/dist/control-plane/convergence.bench.js [--clients 100,1000] [--transports sotw,delta]
//        [--changes 5]
//   env: WEFT_BENCH_CLIENTS, WEFT_BENCH_TRANSPORTS, WEFT_BENCH_CHANGES
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadXdsProtos, type XdsTransport } from '@weft/xds-client';
import { BenchClient } from '../helpers/bench-xds-client.js';
import {
  readMetricSum,
  readRssBytes,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from '../helpers/control-plane-process.js';
import { rewriteVirtualService, writeMesh, type MeshShape } from '../helpers/mesh-config.js';
import { runPlainBaseline, type PlainResult } from '../helpers/plain-grpc-baseline.js';
import { formatTable, machineInfo, quantile, round, writeResults } from '../helpers/report.js';
import { waitFor } from '../helpers/wait-for.js';

/** The control plane's quiet period before a reload (ControlPlaneOptions.debounceMs default). */
const DEBOUNCE_MS = 100;
/** Metric the control plane exports for bytes written to xDS streams, when it exists. */
const PUSH_BYTES_METRIC = 'weft_cp_xds_push_bytes_total';
const MESH: MeshShape = { services: 20, workloadsPerService: 4 };
/** The service every bench client consumes, as a real SDK client of `svc-0` would. */
const HOST = 'svc-0';
/** v1 weight of each successive edit (the mesh starts at 80). */
const WEIGHTS = [70, 60, 50, 40, 30, 20, 10, 90];
const INITIAL_TIMEOUT_MS = 60_000;
const CHANGE_TIMEOUT_MS = 30_000;
/** After the last ACK of an edit, how long no further ACK must arrive before the edit counts as done. */
const QUIET_AFTER_CHANGE_MS = 300;

/** A full GC, so heap deltas measure what is retained (the bench may run without --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

interface BenchOptions {
  readonly clients: readonly number[];
  readonly transports: readonly XdsTransport[];
  readonly changes: number;
}

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      transports: { type: 'string' },
      changes: { type: 'string' },
    },
  });
  const list = (s: string): string[] =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const clients = list(values.clients ?? process.env.WEFT_BENCH_CLIENTS ?? '100,1000').map(Number);
  if (clients.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--clients: expected positive integers, got ${clients.join(',')}`);
  const transports = list(values.transports ?? process.env.WEFT_BENCH_TRANSPORTS ?? 'sotw,delta');
  for (const t of transports) {
    if (t !== 'sotw' && t !== 'delta')
      throw new Error(`--transports: expected sotw|delta, got ${t}`);
  }
  const changes = Number(values.changes ?? process.env.WEFT_BENCH_CHANGES ?? '5');
  if (!Number.isInteger(changes) || changes < 1 || changes > WEIGHTS.length)
    throw new Error(`--changes: expected 1..${WEIGHTS.length}, got ${changes}`);
  return { clients, transports: transports as XdsTransport[], changes };
}

interface ChangeResult {
  readonly v1Weight: number;
  /** ms from the file write to the first / median / last client's ACK. */
  readonly firstMs: number;
  readonly p50Ms: number;
  readonly lastMs: number;
  /** Bytes pushed for this edit, all clients together, and per client. */
  readonly bytesTotal: number;
  readonly bytesPerClient: number;
  /** The clients' own estimate of the same (encoded DiscoveryResponses, no gRPC/HTTP/2 framing). */
  readonly clientEstimateBytesTotal: number;
  /** ACKs (all types) the clients sent for this edit; N means only RDS was pushed. */
  readonly acks: number;
}

interface ScenarioResult {
  readonly transport: XdsTransport;
  readonly clients: number;
  readonly initial: {
    readonly allMs: number;
    readonly p50Ms: number;
    readonly bytesPerClient: number;
  };
  readonly memory: {
    readonly cpRssIdleBytes: number;
    readonly cpRssConnectedBytes: number;
    readonly cpBytesPerClient: number;
    readonly benchHeapPerClientBytes: number;
  };
  readonly bytesSource: 'metric' | 'client-estimate';
  readonly changes: readonly ChangeResult[];
  readonly convergence: {
    readonly lastP50Ms: number;
    readonly lastMaxMs: number;
    readonly firstP50Ms: number;
    readonly lastP50MinusDebounceMs: number;
    readonly bytesPerChangeP50: number;
    readonly bytesPerClientPerChangeP50: number;
    readonly clientEstimateBytesPerChangeP50: number;
  };
}

async function runScenario(
  n: number,
  transport: XdsTransport,
  changes: number,
): Promise<ScenarioResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'weft-bench-'));
  const configDir = join(scratch, 'mesh');
  await writeMesh(configDir, MESH);
  let cp: ControlPlaneProcess | undefined;
  const clients: BenchClient[] = [];
  try {
    cp = await startControlPlaneProcess(configDir);
    await sleep(500); // let start-up garbage settle before the baseline
    const cpRssIdleBytes = await readRssBytes(cp.pid);
    collectGarbage();
    const benchHeapBefore = process.memoryUsage().heapUsed;

    let signal: () => void = () => undefined;
    const progress = (): void => signal();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      clients.push(
        new BenchClient({
          index: i,
          xdsPort: cp.xdsPort,
          transport,
          host: HOST,
          onProgress: progress,
        }),
      );
    }
    await waitFor(
      (s) => (signal = s),
      () => clients.every((c) => c.initialAtMs !== undefined),
      INITIAL_TIMEOUT_MS,
      `initial config on ${n} clients`,
    );
    const initialTimes = clients.map((c) => c.initialAtMs! - t0);
    await sleep(1_000);
    const cpRssConnectedBytes = await readRssBytes(cp.pid);
    collectGarbage();
    const benchHeapAfter = process.memoryUsage().heapUsed;
    for (const c of clients) c.countBytes();
    const initialBytes = clients.reduce((sum, c) => sum + c.bytesReceived, 0);

    const results: ChangeResult[] = [];
    let bytesSource: ScenarioResult['bytesSource'] = 'metric';
    for (let k = 0; k < changes; k++) {
      const weight = WEIGHTS[k]!;
      for (const c of clients) c.expect(weight);
      const bytesBefore = clients.reduce((sum, c) => sum + c.bytesReceived, 0);
      const acksBefore = clients.reduce((sum, c) => sum + c.acks, 0);
      const metricBefore = await readMetricSum(cp.adminPort, PUSH_BYTES_METRIC);
      const start = performance.now();
      await rewriteVirtualService(configDir, HOST, weight);
      await waitFor(
        (s) => (signal = s),
        () => clients.every((c) => c.ackedAtMs !== undefined),
        CHANGE_TIMEOUT_MS,
        `edit ${k + 1} (v1 weight ${weight}) on ${n} clients`,
      );
      // Catch any other pushes the edit caused (a quiet period with no new ACKs).
      let acks = clients.reduce((sum, c) => sum + c.acks, 0);
      for (;;) {
        await sleep(QUIET_AFTER_CHANGE_MS);
        const now = clients.reduce((sum, c) => sum + c.acks, 0);
        if (now === acks) break;
        acks = now;
      }
      const latencies = clients.map((c) => c.ackedAtMs! - start);
      const metricAfter = await readMetricSum(cp.adminPort, PUSH_BYTES_METRIC);
      for (const c of clients) c.countBytes();
      const clientBytes = clients.reduce((sum, c) => sum + c.bytesReceived, 0) - bytesBefore;
      let bytesTotal = clientBytes;
      if (metricBefore !== undefined && metricAfter !== undefined) {
        bytesTotal = metricAfter - metricBefore;
      } else bytesSource = 'client-estimate';
      results.push({
        v1Weight: weight,
        firstMs: round(Math.min(...latencies)),
        p50Ms: round(quantile(latencies, 0.5)),
        lastMs: round(Math.max(...latencies)),
        bytesTotal,
        bytesPerClient: round(bytesTotal / n),
        clientEstimateBytesTotal: clientBytes,
        acks: acks - acksBefore,
      });
    }
    const lastP50 = quantile(
      results.map((r) => r.lastMs),
      0.5,
    );
    const bytesP50 = quantile(
      results.map((r) => r.bytesTotal),
      0.5,
    );
    return {
      transport,
      clients: n,
      initial: {
        allMs: round(Math.max(...initialTimes)),
        p50Ms: round(quantile(initialTimes, 0.5)),
        bytesPerClient: round(initialBytes / n),
      },
      memory: {
        cpRssIdleBytes,
        cpRssConnectedBytes,
        cpBytesPerClient: Math.round((cpRssConnectedBytes - cpRssIdleBytes) / n),
        benchHeapPerClientBytes: Math.round((benchHeapAfter - benchHeapBefore) / n),
      },
      bytesSource,
      changes: results,
      convergence: {
        lastP50Ms: round(lastP50),
        lastMaxMs: round(Math.max(...results.map((r) => r.lastMs))),
        firstP50Ms: round(
          quantile(
            results.map((r) => r.firstMs),
            0.5,
          ),
        ),
        lastP50MinusDebounceMs: round(lastP50 - DEBOUNCE_MS),
        bytesPerChangeP50: bytesP50,
        bytesPerClientPerChangeP50: round(bytesP50 / n),
        clientEstimateBytesPerChangeP50: quantile(
          results.map((r) => r.clientEstimateBytesTotal),
          0.5,
        ),
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.client.close()));
    await cp?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

const kib = (bytes: number): string => `${round(bytes / 1024, 1)}`;
const mib = (bytes: number): string => `${round(bytes / 1024 / 1024, 1)}`;

async function main(): Promise<void> {
  const options = parseOptions();
  const machine = machineInfo();
  console.log(
    `control-plane convergence: ${MESH.services} services × ${MESH.workloadsPerService} workloads, ` +
      `${options.changes} edits of the ${HOST} VirtualService; node ${machine.node}, ${machine.cpuCount} CPUs`,
  );
  loadXdsProtos(); // once, outside the timed window (every XdsClient uses the loaded set)
  const scenarios: ScenarioResult[] = [];
  for (const transport of options.transports) {
    for (const n of options.clients) {
      process.stdout.write(`  ${transport} × ${n} clients … `);
      const started = performance.now();
      const result = await runScenario(n, transport, options.changes);
      scenarios.push(result);
      console.log(`done in ${round((performance.now() - started) / 1000, 1)} s`);
    }
  }

  const plain: PlainResult[] = [];
  for (const n of options.clients) {
    const mesh = scenarios.find((s) => s.clients === n);
    const messageBytes =
      Math.round((mesh?.convergence.clientEstimateBytesPerChangeP50 ?? 0) / n) || 300;
    process.stdout.write(`  plain grpc-js push × ${n} streams … `);
    const started = performance.now();
    plain.push(await runPlainBaseline(n, messageBytes, options.changes));
    console.log(`done in ${round((performance.now() - started) / 1000, 1)} s`);
  }

  console.log('\nConvergence (file write → every client ACKed the new RouteConfiguration), ms');
  console.log(
    formatTable(
      [
        'transport',
        'clients',
        'initial all',
        'first p50',
        'last p50',
        'last max',
        'last p50 − debounce',
      ],
      scenarios.map((s) => [
        s.transport,
        s.clients,
        s.initial.allMs,
        s.convergence.firstP50Ms,
        s.convergence.lastP50Ms,
        s.convergence.lastMaxMs,
        s.convergence.lastP50MinusDebounceMs,
      ]),
    ),
  );
  console.log(
    '\nBeside plain grpc-js (a server with no mesh logic writes one message of the same size to N streams), ms',
  );
  console.log(
    formatTable(
      ['transport', 'clients', 'plain last p50', 'weft last p50 − debounce', 'ratio'],
      scenarios.map((s) => {
        const p = plain.find((x) => x.clients === s.clients)!;
        return [
          s.transport,
          s.clients,
          p.lastP50Ms,
          s.convergence.lastP50MinusDebounceMs,
          `${round(s.convergence.lastP50MinusDebounceMs / p.lastP50Ms, 1)}×`,
        ];
      }),
    ),
  );
  console.log('\nBytes pushed and control-plane memory');
  console.log(
    formatTable(
      [
        'transport',
        'clients',
        'bytes/edit (all)',
        'bytes/edit/client',
        'initial B/client',
        'bytes from',
        'client est./edit',
        'CP RSS idle MiB',
        'CP RSS conn. MiB',
        'CP KiB/client',
        'client heap KiB',
      ],
      scenarios.map((s) => [
        s.transport,
        s.clients,
        s.convergence.bytesPerChangeP50,
        s.convergence.bytesPerClientPerChangeP50,
        s.initial.bytesPerClient,
        s.bytesSource,
        s.convergence.clientEstimateBytesPerChangeP50,
        mib(s.memory.cpRssIdleBytes),
        mib(s.memory.cpRssConnectedBytes),
        kib(s.memory.cpBytesPerClient),
        kib(s.memory.benchHeapPerClientBytes),
      ]),
    ),
  );
  const path = await writeResults('control-plane-convergence', {
    benchmark: 'control-plane/convergence',
    date: new Date().toISOString(),
    machine,
    mesh: MESH,
    debounceMs: DEBOUNCE_MS,
    options,
    scenarios,
    plainGrpcJs: plain,
  });
  console.log(`\nwrote ${path}`);
}

await main();
