// Per-cluster circuit-breaker admission: requests in flight (max_requests), requests waiting for a
// connection (max_pending_requests) and connections (max_connections), with overflow counted,
// logged and turned into a WEFT_OVERFLOW error (HTTP 503, response flag UO). Envoy's semantics:
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking
// gRPC: https://github.com/grpc/proposal/blob/master/A32-xds-circuit-breaking.md
import { WeftError } from '@weft/xds-client';
import type { CircuitBreakersUpdate, ClusterUpdate, Logger } from '@weft/xds-client';

/** Envoy's defaults, used when a cluster's CDS resource is not at hand. */
export const DEFAULT_CIRCUIT_BREAKERS: CircuitBreakersUpdate = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
  retryBudget: undefined,
});

/** The threshold an overflow hit, named as in circuit_breaker.proto. */
export type OverflowThreshold = 'max_requests' | 'max_pending_requests';

/** One cluster's admission state, as read by `mesh.stats()`. A plain object. */
export interface ClusterAdmissionStats {
  /** Requests admitted and not finished (sending, waiting for a connection, or in flight). */
  readonly active: number;
  /** Requests waiting for a connection because the cluster is at max_connections (HTTP only). */
  readonly pending: number;
  /** Upstream connections open or opening (HTTP only; grpc-js owns gRPC's connections). */
  readonly connections: number;
  /** Requests refused with WEFT_OVERFLOW (UO) since the mesh was created. */
  readonly overflows: number;
}

/** Mutable per-cluster counts; the HTTP connection gate updates `pending` and `connections`. */
export interface ClusterCounts {
  active: number;
  pending: number;
  connections: number;
  overflows: number;
}

/** Counts one transport's requests per cluster against the cluster's thresholds. */
export class ClusterAdmission {
  private readonly clusters = new Map<string, ClusterCounts>();
  /** The last cluster resource checked by `warnUnenforced`, per cluster name. */
  private readonly checked = new Map<string, ClusterUpdate>();
  private totalOverflows = 0;

  constructor(
    private readonly logger: Logger,
    /** `http` or `grpc`: names the transport in log lines. */
    private readonly transport: string,
  ) {}

  /** Overflows of every cluster since creation. */
  get overflows(): number {
    return this.totalOverflows;
  }

  /** The counts of `cluster`, created at zero. */
  counts(cluster: string): ClusterCounts {
    let c = this.clusters.get(cluster);
    if (c === undefined) {
      c = { active: 0, pending: 0, connections: 0, overflows: 0 };
      this.clusters.set(cluster, c);
    }
    return c;
  }

  /**
   * Admits one more request to `cluster` under max_requests (undefined breakers: Envoy's
   * default 1024). True: pair it with exactly one `endRequest`. False: the caller fails with
   * `overflow(cluster, 'max_requests', …)`.
   */
  tryStartRequest(cluster: string, breakers: CircuitBreakersUpdate | undefined): boolean {
    const c = this.counts(cluster);
    if (c.active >= (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxRequests) return false;
    c.active++;
    return true;
  }

  endRequest(cluster: string): void {
    const c = this.clusters.get(cluster);
    if (c !== undefined && c.active > 0) c.active--;
  }

  /**
   * Counts an overflow of `threshold` (whose value was `limit`) and returns the error to fail the
   * request with. Logs at debug every time, and at warn too the first time the cluster overflows.
   */
  overflow(cluster: string, threshold: OverflowThreshold, limit: number): WeftError {
    const c = this.counts(cluster);
    c.overflows++;
    this.totalOverflows++;
    const fields = {
      transport: this.transport,
      cluster,
      threshold,
      limit,
      active: c.active,
      pending: c.pending,
      connections: c.connections,
    };
    if (c.overflows === 1) {
      this.logger.warn('circuit breaker: cluster overflowed for the first time', fields);
    }
    this.logger.debug('circuit breaker: overflow', fields);
    return new WeftError(
      'WEFT_OVERFLOW',
      `cluster ${cluster}: circuit breaker ${threshold} (${limit}) reached`,
    );
  }

  /**
   * For a transport that enforces max_requests only (gRPC, gRFC A32): logs once per cluster
   * resource (warn) which of its connection thresholds it leaves to the transport. Cheap when the
   * resource was already checked (one map lookup).
   */
  warnUnenforced(cluster: ClusterUpdate | undefined): void {
    if (cluster === undefined || this.checked.get(cluster.name) === cluster) return;
    this.checked.set(cluster.name, cluster);
    const cb = cluster.circuitBreakers;
    const unenforced: Record<string, number> = {};
    if (cb.maxConnections !== DEFAULT_CIRCUIT_BREAKERS.maxConnections) {
      unenforced['max_connections'] = cb.maxConnections;
    }
    if (cb.maxPendingRequests !== DEFAULT_CIRCUIT_BREAKERS.maxPendingRequests) {
      unenforced['max_pending_requests'] = cb.maxPendingRequests;
    }
    if (cluster.maxRequestsPerConnection !== undefined) {
      unenforced['max_requests_per_connection'] = cluster.maxRequestsPerConnection;
    }
    if (Object.keys(unenforced).length === 0) return;
    this.logger.warn(
      `circuit breaker: ${this.transport} enforces max_requests only (gRFC A32); not applied`,
      { cluster: cluster.name, ...unenforced },
    );
  }

  /** Every cluster seen so far, by name. */
  snapshot(): Readonly<Record<string, ClusterAdmissionStats>> {
    const out: Record<string, ClusterAdmissionStats> = {};
    for (const [name, c] of this.clusters) {
      out[name] = Object.freeze({
        active: c.active,
        pending: c.pending,
        connections: c.connections,
        overflows: c.overflows,
      });
    }
    return Object.freeze(out);
  }
}
