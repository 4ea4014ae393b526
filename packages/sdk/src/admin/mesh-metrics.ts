// Prometheus metrics of one mesh client, read at scrape time from mesh.stats() and the runtime's
// describe() (no metric calls on the request path: the counters the request path already keeps
// are the source). https://prometheus.io/docs/practices/naming/ ; DESIGN.md "The request path"
// step 6. Istio's standard request metrics are issue 6's; these are Weft's own.
import { Counter, Gauge, Registry } from 'prom-client';

/** What the metrics read; both must be cheap and must not throw. */
export interface MeshMetricsSource {
  stats(): unknown;
  describe(): unknown;
}

/** HTTP / gRPC stats fields that are levels (gauges), not running totals. */
const GAUGE_FIELDS: ReadonlySet<string> = new Set(['channels', 'callsInFlight']);

type Json = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The numeric fields of a stats section, in a stable order. */
function numericFields(section: unknown): [string, number][] {
  if (!isRecord(section)) return [];
  return Object.entries(section).filter((e): e is [string, number] => typeof e[1] === 'number');
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/**
 * A prom-client Registry for one mesh. Metric families:
 * - `weft_sdk_http_<field>_total` / `weft_sdk_grpc_<field>_total`: every counter of
 *   `stats().http` / `stats().grpc` (gauges for in-flight / channel levels), so a counter the
 *   request path gains shows up without a change here;
 * - `weft_sdk_xds_connected`, `weft_sdk_xds_ready`;
 * - `weft_sdk_cluster_endpoints{cluster,priority,locality,state}` with state healthy / ejected /
 *   unreachable / unhealthy (EDS), `weft_sdk_cluster_requests_in_flight{cluster}`,
 *   `weft_sdk_outlier_ejections_active{cluster}`, `weft_sdk_outlier_ejections_total{cluster}`;
 * - `weft_sdk_cluster_{active_requests,pending_requests,connections}{protocol,cluster}` and
 *   `weft_sdk_cluster_overflows_total{protocol,cluster}` (circuit-breaker thresholds);
 * - `weft_sdk_local_rate_limit_{allowed,limited,shadow_limited}_total{filter,scope,stat_prefix}`
 *   and `weft_sdk_local_rate_limit_tokens`;
 * - `weft_sdk_breaker_state{cluster,state}` (1 for the current state) and
 *   `weft_sdk_breaker_<field>_total{cluster}` for each counter of `stats().breakers[cluster]`.
 * `registry` may already hold other families (createMesh passes the one holding Istio's
 * standard metrics); `node_id` becomes a default label of all of them.
 */
export function createMeshMetrics(
  source: MeshMetricsSource,
  nodeId: string,
  registry: Registry = new Registry(),
): Registry {
  registry.setDefaultLabels({ node_id: nodeId });
  const initial = source.stats();
  const sections = isRecord(initial) ? initial : {};
  for (const section of ['http', 'grpc'] as const) {
    for (const [field] of numericFields(sections[section])) {
      const gauge = GAUGE_FIELDS.has(field);
      const name = `weft_sdk_${section}_${snakeCase(field)}${gauge ? '' : '_total'}`;
      const help = `mesh.stats().${section}.${field}`;
      const read = (): number => {
        const s = source.stats();
        const v = isRecord(s) && isRecord(s[section]) ? s[section][field] : undefined;
        return typeof v === 'number' ? v : 0;
      };
      if (gauge) {
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(read());
          },
        });
      } else {
        new Counter({
          name,
          help,
          registers: [registry],
          collect() {
            this.reset();
            this.inc(read());
          },
        });
      }
    }
  }
  for (const field of ['connected', 'ready'] as const) {
    new Gauge({
      name: `weft_sdk_xds_${field}`,
      help: `1 when the xDS stream is ${field === 'connected' ? 'up' : 'accepted (first response ACKed)'}`,
      registers: [registry],
      collect() {
        const s = source.stats();
        const xds = isRecord(s) ? s['xds'] : undefined;
        this.set(isRecord(xds) && xds[field] === true ? 1 : 0);
      },
    });
  }
  registerClusterMetrics(registry, source);
  registerAdmissionMetrics(registry, source);
  registerRateLimitMetrics(registry, source);
  registerBreakerMetrics(registry, source);
  return registry;
}

function registerClusterMetrics(registry: Registry, source: MeshMetricsSource): void {
  const clusters = (): Json[] => {
    const d = source.describe();
    return isRecord(d) ? records(d['clusters']) : [];
  };
  new Gauge({
    name: 'weft_sdk_cluster_endpoints',
    help: 'Endpoints of each cluster in use, by priority, locality and state (healthy, ejected by outlier detection, unreachable after connect failures, unhealthy in EDS)',
    labelNames: ['cluster', 'priority', 'locality', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of clusters()) {
        const cluster = String(c['name']);
        for (const p of records(c['priorities'])) {
          const priority = String(p['priority']);
          for (const l of records(p['localities'])) {
            const locality = [l['region'], l['zone'], l['subZone']].map(String).join('/');
            const counts = { healthy: 0, ejected: 0, unreachable: 0, unhealthy: 0 };
            for (const e of records(l['endpoints'])) {
              const status = e['healthStatus'];
              if (status !== 'HEALTHY' && status !== 'UNKNOWN') counts.unhealthy++;
              else if (e['ejected'] === true) counts.ejected++;
              else if (e['reachable'] === false) counts.unreachable++;
              else counts.healthy++;
            }
            for (const [state, n] of Object.entries(counts))
              this.set({ cluster, priority, locality, state }, n);
          }
        }
      }
    },
  });
  new Gauge({
    name: 'weft_sdk_cluster_requests_in_flight',
    help: 'Attempts in flight to the endpoints of each cluster',
    labelNames: ['cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of clusters()) {
        let n = 0;
        for (const p of records(c['priorities']))
          for (const l of records(p['localities']))
            for (const e of records(l['endpoints']))
              n += typeof e['inFlight'] === 'number' ? e['inFlight'] : 0;
        this.set({ cluster: String(c['name']) }, n);
      }
    },
  });
  const outlier = (field: string) =>
    function collect(this: Gauge | Counter): void {
      this.reset();
      for (const c of clusters()) {
        const od = c['outlierDetection'];
        const v = isRecord(od) ? od[field] : undefined;
        if (typeof v !== 'number') continue;
        if (this instanceof Gauge) this.set({ cluster: String(c['name']) }, v);
        else this.inc({ cluster: String(c['name']) }, v);
      }
    };
  new Gauge({
    name: 'weft_sdk_outlier_ejections_active',
    help: 'Hosts currently ejected by outlier detection, per cluster',
    labelNames: ['cluster'],
    registers: [registry],
    collect: outlier('ejectionsActive'),
  });
  new Counter({
    name: 'weft_sdk_outlier_ejections_total',
    help: 'Ejections by outlier detection since the cluster was first configured',
    labelNames: ['cluster'],
    registers: [registry],
    collect: outlier('ejectionsTotal'),
  });
}

/** Circuit-breaker (connection-pool threshold) counts per cluster, HTTP and gRPC. */
function registerAdmissionMetrics(registry: Registry, source: MeshMetricsSource): void {
  const perCluster = (): [string, string, Json][] => {
    const s = source.stats();
    const out: [string, string, Json][] = [];
    if (!isRecord(s)) return out;
    for (const protocol of ['http', 'grpc'] as const) {
      const section = s[protocol];
      const clusters = isRecord(section) ? section['clusters'] : undefined;
      if (!isRecord(clusters)) continue;
      for (const [cluster, c] of Object.entries(clusters))
        if (isRecord(c)) out.push([protocol, cluster, c]);
    }
    return out;
  };
  const levels = [
    [
      'active',
      'weft_sdk_cluster_active_requests',
      'Requests admitted by the circuit breakers and not finished',
    ],
    [
      'pending',
      'weft_sdk_cluster_pending_requests',
      'Requests waiting for a connection at max_connections',
    ],
    ['connections', 'weft_sdk_cluster_connections', 'Upstream connections open or opening (HTTP)'],
  ] as const;
  for (const [field, name, help] of levels) {
    new Gauge({
      name,
      help,
      labelNames: ['protocol', 'cluster'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [protocol, cluster, c] of perCluster()) {
          const v = c[field];
          if (typeof v === 'number') this.set({ protocol, cluster }, v);
        }
      },
    });
  }
  new Counter({
    name: 'weft_sdk_cluster_overflows_total',
    help: 'Requests refused by the circuit breakers (WEFT_OVERFLOW, response flag UO)',
    labelNames: ['protocol', 'cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [protocol, cluster, c] of perCluster()) {
        const v = c['overflows'];
        if (typeof v === 'number') this.inc({ protocol, cluster }, v);
      }
    },
  });
}

/** Local rate limits per bucket scope (`stats().localRateLimit.scopes`). */
function registerRateLimitMetrics(registry: Registry, source: MeshMetricsSource): void {
  const scopes = (): Json[] => {
    const s = source.stats();
    const rl = isRecord(s) ? s['localRateLimit'] : undefined;
    return isRecord(rl) ? records(rl['scopes']) : [];
  };
  const labels = (x: Json): Record<string, string> => ({
    filter: String(x['filter']),
    scope: String(x['scope']),
    stat_prefix: String(x['statPrefix']),
  });
  const counters = [
    ['allowed', 'Requests that got a token of a local rate limit'],
    ['limited', 'Requests refused by a local rate limit (429 / RESOURCE_EXHAUSTED, flag RL)'],
    [
      'shadowLimited',
      'Requests over a local rate limit let through (filter_enforced not selected)',
    ],
  ] as const;
  for (const [field, help] of counters) {
    new Counter({
      name: `weft_sdk_local_rate_limit_${snakeCase(field)}_total`,
      help,
      labelNames: ['filter', 'scope', 'stat_prefix'],
      registers: [registry],
      collect() {
        this.reset();
        for (const x of scopes()) {
          const v = x[field];
          if (typeof v === 'number') this.inc(labels(x), v);
        }
      },
    });
  }
  new Gauge({
    name: 'weft_sdk_local_rate_limit_tokens',
    help: 'Tokens left in a local rate-limit bucket at its last check (refilled lazily)',
    labelNames: ['filter', 'scope', 'stat_prefix'],
    registers: [registry],
    collect() {
      this.reset();
      for (const x of scopes()) {
        const v = x['tokens'];
        if (typeof v === 'number') this.set(labels(x), v);
      }
    },
  });
}

function registerBreakerMetrics(registry: Registry, source: MeshMetricsSource): void {
  const breakers = (): [string, Json][] => {
    const s = source.stats();
    const b = isRecord(s) ? s['breakers'] : undefined;
    return isRecord(b) ? Object.entries(b).filter((e): e is [string, Json] => isRecord(e[1])) : [];
  };
  new Gauge({
    name: 'weft_sdk_breaker_state',
    help: 'Service-level circuit breaker of each upstream cluster: 1 for its current state',
    labelNames: ['cluster', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [cluster, b] of breakers())
        for (const state of BREAKER_STATES)
          this.set({ cluster, state }, b['state'] === state ? 1 : 0);
    },
  });
  // Counter families for each numeric field the breakers report, registered on first sight.
  const known = new Set<string>();
  const ensure = (): void => {
    for (const [, b] of breakers()) {
      for (const [field] of numericFields(b)) {
        if (known.has(field)) continue;
        known.add(field);
        new Counter({
          name: `weft_sdk_breaker_${snakeCase(field)}_total`,
          help: `mesh.stats().breakers[cluster].${field}`,
          labelNames: ['cluster'],
          registers: [registry],
          collect() {
            this.reset();
            for (const [cluster, x] of breakers()) {
              const v = x[field];
              if (typeof v === 'number') this.inc({ cluster }, v);
            }
          },
        });
      }
    }
  };
  // A collect hook on the state gauge's registry would run after families are listed, so new
  // counter families are added before each scrape by wrapping `metrics()`.
  const metrics = registry.metrics.bind(registry);
  registry.metrics = async (): Promise<string> => {
    ensure();
    return metrics();
  };
}
