// Issue 4 "Must show", the chaos test: a steady open-loop load (300 requests/s) from checkout
// (this process, createMesh) to inventory served by real child processes in two localities, with
// config (retries, timeouts, outlier detection, locality failover) from a real `weft
// control-plane` process. (1) The local locality is SIGKILLed at 3 s and restarted at 7 s: zero
// failed requests, traffic fails over to us-west-2 and comes back. (2) One local instance answers
// 503 to half its requests: outlier detection ejects it, every request succeeds. Asserts behaviour
// only; the latencies and timings go to test/dist/chaos-report.json and a short summary.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createMesh,
  HTTP_REQUEST_CHANNEL,
  OUTLIER_CHANNEL,
  type HttpRequestEvent,
  type Mesh,
  type MeshHttpStats,
  type OutlierEvent,
} from '@weft/sdk';
import { request } from 'undici';
import {
  eventually,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from '../helpers/processes.js';
import { LOCALITY_FAILOVER_YAML } from '../helpers/sdk-fixtures.js';
import { startInstance, type InstanceSpec, type InventoryInstance } from './inventory-fleet.js';
import { OpenLoopLoad, quantile, type RequestRecord, type Served } from './open-loop-load.js';

/** Requests per second; WEFT_CHAOS_RPS overrides it to probe the headroom (default 300, the issue's). */
const RATE_PER_SEC = Number(process.env['WEFT_CHAOS_RPS'] ?? 300);
const REPORT_PATH = fileURLToPath(new URL('../chaos-report.json', import.meta.url));
const EAST = 'us-east-1';
const WEST = 'us-west-2';

const MESH_YAML = `${LOCALITY_FAILOVER_YAML}    connectionPool:
      # No http limits: Istio's defaults (2^32-1 concurrent retries, requests...) apply. With
      # Envoy's 3 concurrent retries a 503-ing instance at 300 requests/s would exceed it.
      tcp: { connectTimeout: 1s }
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory, port: { number: 8080 } }
      timeout: 10s
      retries: { attempts: 3, retryOn: "connect-failure,reset,5xx", perTryTimeout: 2s }
`;

/** A control plane, inventory instances and the checkout mesh, in one place for set-up and teardown. */
class ChaosCluster {
  readonly instances = new Map<string, InventoryInstance>();
  /** Every instance ever started: name → HTTP ports, to map attempts to instances. */
  readonly portsByEndpoint = new Map<string, InstanceSpec>();
  private constructor(
    readonly dir: string,
    readonly cp: ControlPlaneProcess,
    readonly mesh: Mesh,
  ) {}

  static async start(nodeId: string, specs: readonly InstanceSpec[]): Promise<ChaosCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'weft-chaos-'));
    await writeFile(join(dir, 'inventory.yaml'), MESH_YAML);
    const cp = await startControlPlaneProcess(dir);
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: nodeId, locality: { region: EAST, zone: 'us-east-1a' } },
      workload: { name: 'checkout', namespace: 'default' },
      env: {},
    });
    const cluster = new ChaosCluster(dir, cp, mesh);
    try {
      await mesh.ready();
      await cluster.startAll(specs);
      await cluster.untilEndpointsKnown();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  get controlPlane(): string {
    return `127.0.0.1:${this.cp.xdsPort}`;
  }

  async startAll(specs: readonly InstanceSpec[]): Promise<void> {
    const started = await Promise.all(specs.map((s) => startInstance(this.controlPlane, s)));
    for (const instance of started) {
      this.instances.set(instance.spec.name, instance);
      this.portsByEndpoint.set(`127.0.0.1:${instance.httpPort}`, instance.spec);
    }
  }

  /** Waits (bounded) until the checkout's EDS view holds every running instance. */
  async untilEndpointsKnown(): Promise<void> {
    const keys = [...this.instances.values()].map((i) => `127.0.0.1:${i.httpPort}`);
    // The mesh subscribes to a service's config on its first request. One request only: the
    // instance that answers 503 must not build up consecutive errors before the load starts.
    await getStock(this.mesh, -1).catch(() => undefined);
    await eventually(
      () => {
        const described = JSON.stringify(this.mesh.describe());
        return keys.every((k) => described.includes(k)) ? true : undefined;
      },
      20_000,
      `checkout to see the endpoints ${keys.join(', ')}`,
    );
  }

  async close(): Promise<void> {
    await this.mesh.close();
    await Promise.allSettled([...this.instances.values()].map((i) => i.stop()));
    await this.cp.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One request: GET /stock through mesh.dispatcher; who answered. */
async function getStock(mesh: Mesh, id: number): Promise<Served> {
  const res = await request(`http://inventory:8080/stock?id=${id}`, {
    dispatcher: mesh.dispatcher,
  });
  const body = (await res.body.json()) as { backend: string; region: string };
  return { status: res.statusCode, backend: body.backend, region: body.region };
}

/** Per-request retry/attempt counts from the mesh's own request records. */
function recordMeshRequests(): { events: HttpRequestEvent[]; stop: () => void } {
  const events: HttpRequestEvent[] = [];
  const on = (m: unknown): void => {
    events.push(m as HttpRequestEvent);
  };
  subscribe(HTTP_REQUEST_CHANNEL, on);
  return { events, stop: () => unsubscribe(HTTP_REQUEST_CHANNEL, on) };
}

interface WindowStats {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly servedBy: Record<string, number>;
}

/** Latency (from the request's due time to its response) and who served, for requests due in [fromMs, toMs). */
function windowStats(records: readonly RequestRecord[], fromMs: number, toMs: number): WindowStats {
  const inWindow = records.filter((r) => r.scheduledMs >= fromMs && r.scheduledMs < toMs);
  const latencies = inWindow.flatMap((r) =>
    r.doneMs === undefined ? [] : [r.doneMs - r.scheduledMs],
  );
  const servedBy: Record<string, number> = {};
  for (const r of inWindow) {
    const region = r.served?.region ?? 'failed';
    servedBy[region] = (servedBy[region] ?? 0) + 1;
  }
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    requests: inWindow.length,
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    maxMs: round(Math.max(...latencies)),
    servedBy,
  };
}

/** Load-level numbers common to both scenarios. */
function loadSummary(load: OpenLoopLoad, durationMs: number, events: readonly HttpRequestEvent[]) {
  const done = load.records.filter((r) => r.doneMs !== undefined);
  const lag = load.records.map((r) => r.sentMs - r.scheduledMs);
  const retried = events.filter((e) => e.attempts > 1);
  return {
    targetRps: load.ratePerSec,
    durationMs: Math.round(durationMs),
    totalRequests: load.records.length,
    completed: done.length,
    achievedRps: Math.round((done.length / durationMs) * 1000),
    generatorLagP99Ms: Math.round(quantile(lag, 0.99) * 100) / 100,
    generatorLagMaxMs: Math.round(Math.max(...lag) * 100) / 100,
    failed: failures(load.records).length,
    requestsWithMoreThanOneAttempt: retried.length,
    maxAttemptsPerRequest: Math.max(0, ...events.map((e) => e.attempts)),
    upstreamAttempts: load.attempts.length,
  };
}

/** What the load added to the mesh's HTTP counters. */
function statsDelta(before: MeshHttpStats, after: MeshHttpStats): Record<string, number> {
  const b = before as unknown as Record<string, number>;
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (b[k] ?? 0)]));
}

/** Failed requests, with the mesh's record of each (attempts, retries, response flag) when given. */
function failures(
  records: readonly RequestRecord[],
  events: readonly HttpRequestEvent[] = [],
): string[] {
  const byPath = new Map(events.map((e) => [e.path, e]));
  const meshView = (r: RequestRecord): string => {
    const e = byPath.get(`/stock?id=${r.id}`);
    return e === undefined
      ? ''
      : ` [${e.attempts} attempts, ${e.retries} retries, flag ${e.responseFlag}, last ${e.endpoint ?? '-'}]`;
  };
  return records.flatMap((r) =>
    r.error !== undefined
      ? [`#${r.id}: ${r.error}${meshView(r)}`]
      : r.served !== undefined && r.served.status !== 200
        ? [`#${r.id}: status ${r.served.status} from ${r.served.backend}${meshView(r)}`]
        : [],
  );
}

const report: Record<string, unknown> = {};
const summary: string[] = [];
/** Stops a load and its recorders even when a test fails half-way (idempotent). */
const cleanups: (() => Promise<unknown> | undefined)[] = [];

describe(`chaos: checkout → inventory at ${RATE_PER_SEC} requests/s, two localities of real processes`, function () {
  this.timeout(120_000);

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  after(async () => {
    await writeFile(REPORT_PATH, JSON.stringify(report, null, 2) + '\n');
    if (summary.length > 0) {
      process.stdout.write(`\n${summary.join('\n')}\n(report: ${REPORT_PATH})\n\n`);
    }
  });

  describe('the local locality is SIGKILLed at 3 s and restarted at 7 s', () => {
    const KILL_AT_MS = 3_000;
    const RESTART_AT_MS = 7_000;
    const END_AT_MS = 10_000;
    const eastSpecs: InstanceSpec[] = [
      { name: 'inventory-east-a', region: EAST, zone: 'us-east-1a' },
      { name: 'inventory-east-b', region: EAST, zone: 'us-east-1a' },
    ];
    const westSpecs: InstanceSpec[] = [
      { name: 'inventory-west-a', region: WEST, zone: 'us-west-2a' },
      { name: 'inventory-west-b', region: WEST, zone: 'us-west-2a' },
    ];
    let cluster: ChaosCluster;

    before(async () => {
      cluster = await ChaosCluster.start('checkout-chaos-kill', [...eastSpecs, ...westSpecs]);
    });
    after(async () => {
      await cluster.close();
    });

    it('fails over to us-west-2 with zero failed requests and returns to us-east-1 after the restart', async () => {
      const mesh = cluster.mesh;
      const statsBefore = mesh.stats().http;
      const meshRequests = recordMeshRequests();
      const load = new OpenLoopLoad(RATE_PER_SEC, (id) => getStock(mesh, id));
      cleanups.push(
        () => load.stop(),
        () => {
          meshRequests.stop();
          return undefined;
        },
      );
      load.start();

      // Kill both local instances at once at 3 s.
      await new Promise((r) => setTimeout(r, KILL_AT_MS - load.now()));
      const killed = eastSpecs.map((s) => cluster.instances.get(s.name)!);
      const deadEndpoints = new Set(killed.map((i) => `127.0.0.1:${i.httpPort}`));
      const killAtMs = load.now();
      await Promise.all(killed.map((i) => i.kill()));
      for (const s of eastSpecs) cluster.instances.delete(s.name);

      // Restart them (new processes, new ports) at 7 s.
      await new Promise((r) => setTimeout(r, Math.max(0, RESTART_AT_MS - load.now())));
      const restartAtMs = load.now();
      await cluster.startAll(eastSpecs);
      const restartedServingAtMs = load.now();
      // Keep the load on until 10 s, and at least 1 s past the return of us-east-1 (bounded).
      const eastAgain = (): RequestRecord | undefined =>
        load.records.find((r) => r.scheduledMs >= restartAtMs && r.served?.region === EAST);
      await load.until(() => eastAgain() !== undefined, 20_000, 'traffic to return to us-east-1');
      const returnedAtMs = eastAgain()!.doneMs!;
      await new Promise((r) =>
        setTimeout(r, Math.max(END_AT_MS, returnedAtMs + 1_000) - load.now()),
      );
      const durationMs = await load.stop();
      meshRequests.stop();

      const records = load.records;
      const deadAttempts = load.attempts.filter(
        (a) => a.atMs >= killAtMs && deadEndpoints.has(a.endpoint),
      );
      const lastDeadAttemptMs = Math.max(killAtMs, ...deadAttempts.map((a) => a.atMs));
      const lastEastBeforeRestart = records
        .filter((r) => r.served?.region === EAST && r.doneMs! < restartAtMs)
        .reduce((m, r) => Math.max(m, r.doneMs!), 0);
      const statsAfter = mesh.stats().http;
      const lastSecond = records.filter((r) => r.scheduledMs >= durationMs - 1_000);
      const result = {
        ...loadSummary(load, durationMs, meshRequests.events),
        killAtMs: Math.round(killAtMs),
        restartAtMs: Math.round(restartAtMs),
        restartedServingAtMs: Math.round(restartedServingAtMs),
        firstEastResponseAfterRestartMs: Math.round(returnedAtMs),
        msFromKillToLastAttemptOnDeadLocality: Math.round(lastDeadAttemptMs - killAtMs),
        attemptsOnDeadLocalityAfterKill: deadAttempts.length,
        // Negative: the last response from it ended before the kill (none was in flight).
        msFromKillToLastResponseFromDeadLocality: Math.round(lastEastBeforeRestart - killAtMs),
        latencyFromDueTime: {
          before: windowStats(records, 0, killAtMs),
          during: windowStats(records, killAtMs, restartAtMs),
          after: windowStats(records, restartAtMs, durationMs + 1),
        },
        servedRemotelyBeforeKill: records
          .filter((r) => r.doneMs! < killAtMs && r.served?.region !== EAST)
          .slice(0, 20)
          .map((r) => ({ id: r.id, dueMs: Math.round(r.scheduledMs), by: r.served?.backend })),
        lastSecondServedBy: windowStats(records, durationMs - 1_000, durationMs + 1).servedBy,
        meshHttpStats: statsDelta(statsBefore, statsAfter),
        firstFailures: failures(records, meshRequests.events).slice(0, 10),
      };
      report['localityKill'] = result;
      const l = result.latencyFromDueTime;
      summary.push(
        `chaos (kill us-east-1 at ${result.killAtMs} ms, restart at ${result.restartAtMs} ms): ` +
          `${result.totalRequests} requests in ${result.durationMs} ms (${result.achievedRps}/s, target ${RATE_PER_SEC}/s), ${result.failed} failed`,
        `  last attempt on the dead locality ${result.msFromKillToLastAttemptOnDeadLocality} ms after the kill ` +
          `(${result.attemptsOnDeadLocalityAfterKill} attempts on it after the kill, ${result.requestsWithMoreThanOneAttempt} requests needed > 1 attempt)`,
        `  p99 ms before / during / after: ${l.before.p99Ms} / ${l.during.p99Ms} / ${l.after.p99Ms} ` +
          `(p50 ${l.before.p50Ms} / ${l.during.p50Ms} / ${l.after.p50Ms}); us-east-1 serving again ${Math.round(returnedAtMs - restartAtMs)} ms after the restart`,
      );

      assert.deepEqual(failures(records, meshRequests.events), [], 'no request may fail');
      assert.equal(result.completed, result.totalRequests);
      assert.ok(result.totalRequests >= RATE_PER_SEC * 9, `${result.totalRequests} requests sent`);
      // Before the kill every request stays local (one in flight at the kill may be retried remotely).
      const answeredBeforeKill = records.filter((r) => r.doneMs! < killAtMs);
      assert.ok(answeredBeforeKill.length >= RATE_PER_SEC * 2);
      assert.deepEqual(
        answeredBeforeKill.filter((r) => r.served?.region !== EAST),
        [],
        'served remotely before the kill',
      );
      // Failover: us-west-2 serves, and well before the restart nothing is sent to the dead locality.
      assert.ok((l.during.servedBy[WEST] ?? 0) > 0, 'us-west-2 served during the outage');
      assert.ok(
        lastDeadAttemptMs < restartAtMs - 1_000,
        `attempts on the dead locality until ${Math.round(lastDeadAttemptMs)} ms`,
      );
      // Return: after the restart the last second is local again.
      assert.ok(lastSecond.length > 0);
      assert.ok(
        lastSecond.every((r) => r.served?.region === EAST),
        `last second served by ${JSON.stringify(result.lastSecondServedBy)}`,
      );
    });
  });

  describe('one local instance answers 503 to half its requests', () => {
    const LOAD_MS = 6_000;
    const bad: InstanceSpec = {
      name: 'inventory-east-bad',
      region: EAST,
      zone: 'us-east-1a',
      http503Ratio: 0.5,
    };
    const specs: InstanceSpec[] = [
      bad,
      { name: 'inventory-east-ok', region: EAST, zone: 'us-east-1a' },
      { name: 'inventory-west-a', region: WEST, zone: 'us-west-2a' },
      { name: 'inventory-west-b', region: WEST, zone: 'us-west-2a' },
    ];
    let cluster: ChaosCluster;

    before(async () => {
      cluster = await ChaosCluster.start('checkout-chaos-503', specs);
    });
    after(async () => {
      await cluster.close();
    });

    it('ejects it (outlier detection) and every request succeeds (retries on 5xx)', async () => {
      const mesh = cluster.mesh;
      const badEndpoint = `127.0.0.1:${cluster.instances.get(bad.name)!.httpPort}`;
      const statsBefore = mesh.stats().http;
      const outlierEvents: (OutlierEvent & { atMs: number })[] = [];
      const meshRequests = recordMeshRequests();
      const load = new OpenLoopLoad(RATE_PER_SEC, (id) => getStock(mesh, id));
      cleanups.push(
        () => load.stop(),
        () => {
          meshRequests.stop();
          return undefined;
        },
      );
      const onOutlier = (m: unknown): void => {
        outlierEvents.push({ ...(m as OutlierEvent), atMs: load.now() });
      };
      subscribe(OUTLIER_CHANNEL, onOutlier);
      try {
        load.start();
        await new Promise((r) => setTimeout(r, LOAD_MS));
      } finally {
        unsubscribe(OUTLIER_CHANNEL, onOutlier);
      }
      const durationMs = await load.stop();
      meshRequests.stop();

      const ejection = outlierEvents.find(
        (e) => e.action === 'eject' && e.endpoint === badEndpoint,
      );
      const ejectedAtMs = ejection?.atMs ?? Number.POSITIVE_INFINITY;
      const badAttempts = load.attempts.filter((a) => a.endpoint === badEndpoint);
      // Attempts already dispatched when the ejection was decided are no new traffic.
      const badAttemptsAfterEjection = badAttempts.filter((a) => a.atMs > ejectedAtMs + 250);
      const attemptsBefore = load.attempts.filter((a) => a.atMs <= ejectedAtMs).length;
      const attemptsAfter = load.attempts.length - attemptsBefore;
      const statsAfter = mesh.stats().http;
      const described = JSON.stringify(mesh.describe());
      const result = {
        ...loadSummary(load, durationMs, meshRequests.events),
        badInstance: badEndpoint,
        ejectedAtMs: ejection === undefined ? null : Math.round(ejection.atMs),
        ejectionReason: ejection?.reason ?? null,
        outlierEvents: outlierEvents.map((e) => ({
          action: e.action,
          endpoint: e.endpoint,
          reason: e.reason,
          atMs: Math.round(e.atMs),
        })),
        badShareOfAttemptsBeforeEjection:
          Math.round(
            (badAttempts.filter((a) => a.atMs <= ejectedAtMs).length /
              Math.max(1, attemptsBefore)) *
              1000,
          ) / 1000,
        badShareOfAttemptsAfterEjection:
          Math.round(
            (badAttempts.filter((a) => a.atMs > ejectedAtMs).length / Math.max(1, attemptsAfter)) *
              1000,
          ) / 1000,
        latencyFromDueTime: windowStats(load.records, 0, durationMs + 1),
        meshHttpStats: statsDelta(statsBefore, statsAfter),
        firstFailures: failures(load.records, meshRequests.events).slice(0, 10),
      };
      report['outlier503'] = result;
      summary.push(
        `chaos (one us-east-1 instance answers 503 to half): ${result.totalRequests} requests in ${result.durationMs} ms ` +
          `(${result.achievedRps}/s), ${result.failed} failed; ejected at ${result.ejectedAtMs} ms (${result.ejectionReason}); ` +
          `its share of attempts ${result.badShareOfAttemptsBeforeEjection} before, ${result.badShareOfAttemptsAfterEjection} after; ` +
          `${result.meshHttpStats['retries']} retries; p99 ${result.latencyFromDueTime.p99Ms} ms`,
      );

      assert.deepEqual(failures(load.records, meshRequests.events), [], 'no request may fail');
      assert.equal(result.completed, result.totalRequests);
      assert.ok(result.totalRequests >= RATE_PER_SEC * 5, `${result.totalRequests} requests sent`);
      assert.ok(ejection !== undefined, `no ejection of ${badEndpoint}: ${described}`);
      assert.equal(ejection.reason, 'consecutive-5xx');
      assert.ok(ejection.atMs < LOAD_MS - 1_000, `ejected only at ${Math.round(ejection.atMs)} ms`);
      assert.deepEqual(badAttemptsAfterEjection, [], 'no new attempt reaches the ejected instance');
      assert.ok(statsAfter.retries - statsBefore.retries > 0, 'the 503s were retried');
      assert.match(
        described,
        new RegExp(`"key":"${badEndpoint.replace(/\./g, '\\.')}"[^}]*"ejected":true`),
      );
    });
  });
});
