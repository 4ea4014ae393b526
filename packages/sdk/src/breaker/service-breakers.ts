// The service-level breakers of one mesh: one ClusterBreaker per upstream cluster, created the
// first time a request is routed to the cluster and shared by HTTP and gRPC. Issue 4,
// "Service-level breaker with fallback".
import { channel } from 'node:diagnostics_channel';
import { systemClock } from '@weft/xds-client';
import type { Clock, Logger } from '@weft/xds-client';
import { ClusterBreaker } from './cluster-breaker.js';
import type { ClusterBreakerContext, ServiceBreakerStats } from './cluster-breaker.js';
import type { ResolvedServiceBreakerOptions } from './service-breaker-options.js';

/** diagnostics_channel name on which every breaker state change is published (ServiceBreakerEvent). */
export const BREAKER_CHANNEL = 'weft:sdk:breaker' as const;

/** Options of ServiceBreakers. */
export interface ServiceBreakersOptions {
  /** Announced in events: the mesh's xDS node id. */
  readonly nodeId: string;
  readonly options: ResolvedServiceBreakerOptions;
  readonly logger: Logger;
  /** Rotates the breakers' rolling windows; default the system clock. */
  readonly clock?: Clock;
}

/**
 * Every cluster's breaker in one mesh. Breakers live as long as the mesh (a cluster that leaves
 * the config keeps its counters); `close()` stops them all.
 */
export class ServiceBreakers {
  private readonly byCluster = new Map<string, ClusterBreaker>();
  private readonly ctx: ClusterBreakerContext;
  private closed = false;

  constructor(options: ServiceBreakersOptions) {
    this.ctx = {
      nodeId: options.nodeId,
      options: options.options,
      logger: options.logger,
      clock: options.clock ?? systemClock,
      channel: channel(BREAKER_CHANNEL),
      answerable: new WeakMap(),
    };
  }

  /** The breaker of `clusterName`, created on first use; undefined once closed. */
  of(clusterName: string): ClusterBreaker | undefined {
    const found = this.byCluster.get(clusterName);
    if (found !== undefined || this.closed) return this.closed ? undefined : found;
    const created = new ClusterBreaker(clusterName, this.ctx);
    this.byCluster.set(clusterName, created);
    return created;
  }

  /** The breaker whose failure or rejection `err` is; undefined when a fallback must not answer it. */
  answerableBy(err: unknown): ClusterBreaker | undefined {
    return typeof err === 'object' && err !== null ? this.ctx.answerable.get(err) : undefined;
  }

  /** Per cluster state and counters; a plain object. */
  stats(): Readonly<Record<string, ServiceBreakerStats>> {
    const out: Record<string, ServiceBreakerStats> = {};
    for (const [name, breaker] of this.byCluster) out[name] = breaker.stats();
    return out;
  }

  /** Stops every breaker's timers. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const breaker of this.byCluster.values()) breaker.close();
  }
}
