// One cluster's endpoint picker, built once per CDS/EDS update and immutable apart from its
// round-robin cursors: priorities with health-based spill, locality weights, then the cluster's
// LB policy inside the locality. Spec: Envoy arch_overview/upstream/load_balancing (priority,
// locality_weight, overprovisioning factor; least request P2C); gRFC A42 (ring hash).
import type {
  ClusterLoadAssignmentUpdate,
  ClusterUpdate,
  EndpointHealthStatus,
  LbPolicyUpdate,
  WeftError,
} from '@weft/xds-client';
import { RoutingError } from '../routing/routing-error.js';
import type {
  AttemptDetail,
  AttemptOutcome,
  EndpointLease,
  EndpointLocality,
  UpstreamEndpoint,
} from '../runtime/mesh-runtime.js';
import type { XdsClusterConfig } from '../xds/xds-config.js';
import type { EndpointHealthStore, EndpointState } from './endpoint-health-store.js';
import type { OutlierDetector, OutlierHost } from './outlier-detector.js';
import type { OutlierDetectors } from './outlier-detectors.js';
import { availability, priorityLoads } from './priority-load.js';
import type { Ring } from './ring-hash.js';
import { buildRing, ringIndex } from './ring-hash.js';

/** Supplies the request hash; asked only by ring_hash clusters, at most once per pick. */
export interface RequestHashSource {
  requestHash(): bigint;
}

/** What every balancer of a runtime shares. */
export interface BalancerContext {
  readonly store: EndpointHealthStore;
  readonly now: () => number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly localLocality: EndpointLocality;
  /** Outlier detectors by cluster; without it outlier detection is off (unit tests of LB only). */
  readonly outliers?: OutlierDetectors;
}

interface EndpointEntry {
  readonly endpoint: UpstreamEndpoint;
  readonly state: EndpointState;
  /** Outlier state in this cluster; undefined when the cluster has no outlier detection. */
  readonly outlier: OutlierHost | undefined;
  readonly healthStatus: EndpointHealthStatus;
  /** EDS says it may take traffic: HEALTHY, UNKNOWN or DEGRADED. */
  readonly edsHealthy: boolean;
  readonly weight: number;
}

interface LocalityGroup {
  readonly locality: EndpointLocality;
  readonly local: boolean;
  readonly weight: number;
  readonly entries: readonly EndpointEntry[];
}

interface PriorityGroup {
  readonly priority: number;
  readonly localities: readonly LocalityGroup[];
  /** All entries of the priority (ring owners index into this). */
  readonly entries: readonly EndpointEntry[];
  readonly ring: Ring | undefined;
}

/** Health as of one moment: cumulative priority loads and per-locality available endpoints. */
interface HealthView {
  readonly loads: readonly number[];
  readonly cumulativeLoads: readonly number[];
  /** [priority][locality] → available entries, and cumulative effective locality weights. */
  readonly available: readonly (readonly (readonly EndpointEntry[])[])[];
  readonly cumulativeWeights: readonly (readonly number[])[];
}

const NOT_SERVING: ReadonlySet<EndpointHealthStatus> = new Set([
  'UNHEALTHY',
  'DRAINING',
  'TIMEOUT',
]);

/** `address:port`, IPv6 in brackets: the pool / subchannel key and the ring hash key. */
export function endpointKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function sameLocality(a: EndpointLocality, b: EndpointLocality): boolean {
  return a.region === b.region && a.zone === b.zone && a.subZone === b.subZone;
}

class Lease implements EndpointLease {
  readonly endpoint: UpstreamEndpoint;
  private readonly entry: EndpointEntry;
  private readonly balancer: ClusterBalancer;
  private finished = false;

  constructor(entry: EndpointEntry, balancer: ClusterBalancer) {
    this.endpoint = entry.endpoint;
    this.entry = entry;
    this.balancer = balancer;
    entry.state.inFlight++;
  }

  done(outcome: AttemptOutcome, detail?: AttemptDetail): void {
    if (this.finished) return; // idempotent: a second call must not skew in-flight counts
    this.finished = true;
    this.balancer.recordOutcome(this.entry, outcome, detail);
  }
}

/** Picks endpoints of one cluster. Build with `ClusterBalancer.create`. */
export class ClusterBalancer {
  readonly name: string;
  readonly cluster: ClusterUpdate | undefined;
  readonly assignment: ClusterLoadAssignmentUpdate | undefined;
  readonly error: WeftError | undefined;
  readonly lbPolicy: LbPolicyUpdate;
  readonly endpoints: readonly UpstreamEndpoint[];
  private readonly priorities: readonly PriorityGroup[];
  private readonly factor: number;
  private readonly ctx: BalancerContext;
  private readonly outlierDetector: OutlierDetector | undefined;
  private readonly cursors: Int32Array; // round-robin cursor per (priority, locality), flattened
  private readonly cursorBase: readonly number[];
  private cached: HealthView | undefined;
  private cachedGeneration = -1;
  private cachedUntil = 0;

  private constructor(config: XdsClusterConfig, ctx: BalancerContext) {
    this.name = config.name;
    this.cluster = config.cluster;
    this.assignment = config.endpoints;
    this.error = config.error;
    this.ctx = ctx;
    this.lbPolicy = config.cluster?.lbPolicy ?? { kind: 'round_robin' };
    this.factor = (config.endpoints?.overprovisioningFactor ?? 140) / 100;
    const byPriority = new Map<number, LocalityGroup[]>();
    const all: UpstreamEndpoint[] = [];
    const keys = new Set<string>();
    for (const le of config.endpoints?.localities ?? [])
      for (const e of le.endpoints) keys.add(endpointKey(e.address, e.port));
    const detector = ctx.outliers?.forCluster(config.name, config.cluster?.outlierDetection, keys);
    this.outlierDetector = detector;
    for (const le of config.endpoints?.localities ?? []) {
      const locality: EndpointLocality = Object.freeze({ ...le.locality });
      const entries = le.endpoints.map((e): EndpointEntry => {
        const key = endpointKey(e.address, e.port);
        const endpoint: UpstreamEndpoint = Object.freeze({
          key,
          address: e.address,
          port: e.port,
          clusterName: config.name,
          locality,
          priority: le.priority,
        });
        all.push(endpoint);
        return {
          endpoint,
          state: ctx.store.stateOf(key),
          outlier: detector?.host(key),
          healthStatus: e.healthStatus,
          edsHealthy: !NOT_SERVING.has(e.healthStatus),
          weight: e.weight,
        };
      });
      const group: LocalityGroup = {
        locality,
        local: sameLocality(locality, ctx.localLocality),
        weight: le.loadBalancingWeight,
        entries,
      };
      const list = byPriority.get(le.priority);
      if (list === undefined) byPriority.set(le.priority, [group]);
      else list.push(group);
    }
    const policy = this.lbPolicy;
    this.priorities = [...byPriority.keys()]
      .sort((a, b) => a - b)
      .map((priority): PriorityGroup => {
        const localities = byPriority.get(priority) ?? [];
        const entries = localities.flatMap((l) => l.entries);
        // A42: one ring per priority over every endpoint, weight = locality × endpoint weight.
        const ring =
          policy.kind === 'ring_hash'
            ? buildRing(
                localities.flatMap((l) =>
                  l.entries.map((e) => ({ hashKey: e.endpoint.key, weight: l.weight * e.weight })),
                ),
                policy.minRingSize,
                policy.maxRingSize,
              )
            : undefined;
        return { priority, localities, entries, ring };
      });
    this.endpoints = Object.freeze(all);
    const base: number[] = [];
    let n = 0;
    for (const p of this.priorities) {
      base.push(n);
      n += p.localities.length;
    }
    this.cursorBase = base;
    // Random start so that many clients do not walk the same endpoints in lock step.
    this.cursors = new Int32Array(n).map(() => Math.floor(ctx.random() * 1024));
  }

  /** Builds the balancer for one cluster of a complete XdsConfig. */
  static create(config: XdsClusterConfig, ctx: BalancerContext): ClusterBalancer {
    return new ClusterBalancer(config, ctx);
  }

  private isAvailable(
    e: EndpointEntry,
    now: number,
    exclude: ReadonlySet<string> | undefined,
  ): boolean {
    return (
      e.edsHealthy &&
      e.state.unreachableUntil <= now &&
      e.outlier?.ejected !== true &&
      (exclude === undefined || !exclude.has(e.endpoint.key))
    );
  }

  private computeView(now: number, exclude: ReadonlySet<string> | undefined): HealthView {
    const health: number[] = [];
    const available: EndpointEntry[][][] = [];
    const cumulativeWeights: number[][] = [];
    for (const p of this.priorities) {
      let total = 0;
      let avail = 0;
      const perLocality: EndpointEntry[][] = [];
      const cumulative: number[] = [];
      let sum = 0;
      for (const l of p.localities) {
        const a = l.entries.filter((e) => this.isAvailable(e, now, exclude));
        perLocality.push(a);
        total += l.entries.length;
        avail += a.length;
        sum += l.weight * availability(a.length, l.entries.length, this.factor);
        cumulative.push(sum);
      }
      health.push(availability(avail, total, this.factor));
      available.push(perLocality);
      cumulativeWeights.push(cumulative);
    }
    const loads = priorityLoads(health);
    let acc = 0;
    const cumulativeLoads = loads.map((l) => (acc += l));
    return { loads, cumulativeLoads, available, cumulativeWeights };
  }

  /** The view for a pick without exclusions, recomputed only when reachability changed. */
  private view(now: number): HealthView {
    const store = this.ctx.store;
    if (
      this.cached !== undefined &&
      this.cachedGeneration === store.generation &&
      now < this.cachedUntil
    )
      return this.cached;
    const view = this.computeView(now, undefined);
    let until = Infinity;
    for (const p of this.priorities)
      for (const e of p.entries)
        if (e.state.unreachableUntil > now && e.state.unreachableUntil < until)
          until = e.state.unreachableUntil;
    this.cached = view;
    this.cachedGeneration = store.generation;
    this.cachedUntil = until;
    return view;
  }

  /** Per-priority load now, in [0, 1] (for describe and tests). */
  priorityLoads(exclude?: ReadonlySet<string>): readonly number[] {
    const now = this.ctx.now();
    return (
      exclude !== undefined && exclude.size > 0 ? this.computeView(now, exclude) : this.view(now)
    ).loads;
  }

  /**
   * Picks an endpoint, or undefined when none is available. `hashSource` is asked only by
   * ring_hash clusters (it also chooses the priority, as in Envoy); excluded keys are treated as
   * unavailable for this pick, so a request whose tries exhausted a priority spills to the next.
   */
  pick(hashSource: RequestHashSource, exclude?: ReadonlySet<string>): EndpointLease | undefined {
    if (this.priorities.length === 0) return undefined;
    const now = this.ctx.now();
    const ex = exclude !== undefined && exclude.size > 0 ? exclude : undefined;
    const view = ex === undefined ? this.view(now) : this.computeView(now, ex);
    const last = view.cumulativeLoads[view.cumulativeLoads.length - 1] ?? 0;
    if (last === 0) return undefined;
    const policy = this.lbPolicy;
    if (policy.kind === 'ring_hash') {
      const hash = hashSource.requestHash();
      const p = this.choosePriority(view, Number(hash & 0xffffffffn) / 0x1_0000_0000);
      return this.pickFromRing(p, hash, now, ex);
    }
    const p = this.choosePriority(view, this.ctx.random());
    const weights = view.cumulativeWeights[p] ?? [];
    const total = weights[weights.length - 1] ?? 0;
    let li = 0;
    const available = view.available[p] ?? [];
    if (total > 0) {
      const r = this.ctx.random() * total;
      while (li < weights.length - 1 && r >= (weights[li] ?? 0)) li++;
    } else {
      li = available.findIndex((a) => a.length > 0); // every weight 0: any available locality
    }
    const candidates = available[li];
    if (candidates === undefined || candidates.length === 0) return undefined;
    const entry = this.pickInLocality(policy, candidates, (this.cursorBase[p] ?? 0) + li);
    return entry === undefined ? undefined : new Lease(entry, this);
  }

  /** A lease ended: feeds reachability / least-request counts and the outlier detector. */
  recordOutcome(entry: EndpointEntry, outcome: AttemptOutcome, detail?: AttemptDetail): void {
    this.ctx.store.record(entry.state, outcome);
    if (entry.outlier !== undefined) this.outlierDetector?.record(entry.outlier, outcome, detail);
  }

  private choosePriority(view: HealthView, u: number): number {
    const cumulative = view.cumulativeLoads;
    const r = u * (cumulative[cumulative.length - 1] ?? 0);
    for (let i = 0; i < cumulative.length; i++)
      if (r < (cumulative[i] ?? 0) && (view.loads[i] ?? 0) > 0) return i;
    for (let i = cumulative.length - 1; i >= 0; i--) if ((view.loads[i] ?? 0) > 0) return i;
    return 0;
  }

  private pickInLocality(
    policy: LbPolicyUpdate,
    candidates: readonly EndpointEntry[],
    cursor: number,
  ): EndpointEntry | undefined {
    const random = this.ctx.random;
    switch (policy.kind) {
      case 'round_robin':
      case 'ring_hash': {
        const i = (this.cursors[cursor] = ((this.cursors[cursor] ?? 0) + 1) % 0x40000000);
        return candidates[i % candidates.length];
      }
      case 'random':
        return candidates[Math.floor(random() * candidates.length)];
      case 'least_request': {
        // Envoy's P2C (choice_count draws with replacement): the fewest requests in flight wins.
        let best = candidates[Math.floor(random() * candidates.length)];
        for (let c = 1; c < policy.choiceCount; c++) {
          const next = candidates[Math.floor(random() * candidates.length)];
          if (next !== undefined && best !== undefined && next.state.inFlight < best.state.inFlight)
            best = next;
        }
        return best;
      }
    }
  }

  private pickFromRing(
    p: number,
    hash: bigint,
    now: number,
    ex: ReadonlySet<string> | undefined,
  ): EndpointLease | undefined {
    const group = this.priorities[p];
    const ring = group?.ring;
    if (group === undefined || ring === undefined || ring.owners.length === 0) return undefined;
    const start = ringIndex(ring, hash);
    const n = ring.owners.length;
    // A42: walk clockwise to the first usable endpoint.
    for (let k = 0; k < n; k++) {
      const entry = group.entries[ring.owners[(start + k) % n] ?? 0];
      if (entry !== undefined && this.isAvailable(entry, now, ex)) return new Lease(entry, this);
    }
    return undefined;
  }

  /** The WEFT_NO_HEALTHY_UPSTREAM error after `pick(…, exclude)` found nothing, naming the cause. */
  unavailableError(exclude?: ReadonlySet<string>): RoutingError {
    if (this.error !== undefined) {
      return new RoutingError(
        'WEFT_NO_HEALTHY_UPSTREAM',
        'cluster',
        `cluster ${this.name}: ${this.error.message}`,
        { cause: this.error },
      );
    }
    if (this.endpoints.length === 0)
      return new RoutingError(
        'WEFT_NO_HEALTHY_UPSTREAM',
        'cluster',
        `cluster ${this.name}: no endpoints`,
      );
    const now = this.ctx.now();
    let edsUnhealthy = 0;
    let unreachable = 0;
    let ejected = 0;
    let excluded = 0;
    for (const p of this.priorities) {
      for (const e of p.entries) {
        if (!e.edsHealthy) edsUnhealthy++;
        else if (e.state.unreachableUntil > now) unreachable++;
        else if (e.outlier?.ejected === true) ejected++;
        else if (exclude?.has(e.endpoint.key) === true) excluded++;
      }
    }
    return new RoutingError(
      'WEFT_NO_HEALTHY_UPSTREAM',
      'cluster',
      `cluster ${this.name}: no healthy endpoint among ${this.endpoints.length} ` +
        `(${edsUnhealthy} unhealthy in EDS, ${unreachable} unreachable after connect failures, ` +
        `${ejected} ejected as outliers, ${excluded} already tried)`,
    );
  }

  /** JSON-safe state for the admin API: priorities, loads, localities, endpoint health. */
  describe(): Record<string, unknown> {
    const now = this.ctx.now();
    const loads = this.priorities.length > 0 ? this.view(now).loads : [];
    return {
      name: this.name,
      edsServiceName: this.cluster?.edsServiceName ?? null,
      lbPolicy: this.lbPolicy.kind,
      error:
        this.error === undefined ? null : { code: this.error.code, message: this.error.message },
      overprovisioningFactor: this.factor,
      outlierDetection: this.outlierDetector?.describe() ?? null,
      priorities: this.priorities.map((p, i) => ({
        priority: p.priority,
        load: loads[i] ?? 0,
        localities: p.localities.map((l) => ({
          region: l.locality.region,
          zone: l.locality.zone,
          subZone: l.locality.subZone,
          local: l.local,
          weight: l.weight,
          endpoints: l.entries.map((e) => ({
            key: e.endpoint.key,
            healthStatus: e.healthStatus,
            weight: e.weight,
            reachable: e.state.unreachableUntil <= now,
            unreachableForMs: Math.max(0, e.state.unreachableUntil - now),
            consecutiveConnectFailures: e.state.consecutiveConnectFailures,
            inFlight: e.state.inFlight,
            ejected: e.outlier?.ejected ?? false,
            ejectionCount: e.outlier?.ejectionCount ?? 0,
            ejectedUntilMs: e.outlier?.ejected === true ? e.outlier.ejectedUntilMs : null,
          })),
        })),
      })),
    };
  }
}
