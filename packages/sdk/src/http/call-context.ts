// What a MeshCall needs from its dispatcher: the runtime, pools, time, counters and publishing.
import type { Clock, Logger } from '@weft/xds-client';
import type { ClusterAdmission } from '../cluster/cluster-admission.js';
import type { ServiceBreakers } from '../breaker/service-breakers.js';
import type { RetryBudgets } from '../cluster/retry-budget.js';
import type { LocalRateLimiter } from '../filters/local-rate-limit.js';
import type { FaultInjector } from '../filters/fault.js';
import type { HttpMirror } from '../filters/mirror.js';
import type { MeshRuntime } from '../runtime/mesh-runtime.js';
import type { MeshTracing } from '../tracing/mesh-tracing.js';
import type { EndpointPools } from './endpoint-pools.js';
import type { HttpCounters, HttpRequestOutcome } from './http-request-event.js';
import type { MeshCall } from './mesh-call.js';

/** Shared, per dispatcher; read by every request. */
export interface CallContext {
  readonly runtime: MeshRuntime;
  readonly pools: EndpointPools;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly counters: HttpCounters;
  /** Uniform in [0, 1): back-off jitter. */
  readonly random: () => number;
  /** Token buckets of the routes' local_ratelimit filters. */
  readonly rateLimiter: LocalRateLimiter;
  /** Concurrent retries per cluster (circuit breaker max_retries / retry budget). */
  readonly retryBudgets: RetryBudgets;
  /** Requests, pending requests and connections per cluster (circuit breakers). */
  readonly admission: ClusterAdmission;
  /** Service-level breakers per cluster; undefined when turned off. */
  readonly breakers: ServiceBreakers | undefined;
  /** Fault injection (routes with fault filters). */
  readonly faults: FaultInjector;
  /** Mirror copies (routes with request mirror policies). */
  readonly mirror: HttpMirror;
  /** Spans and x-request-id (`tracing.tracer` undefined: tracing off). */
  readonly tracing: MeshTracing;
  /** How long a request waits for a listener's first complete config, in ms. */
  readonly resourceWaitMs: number;
  /** Route timeout when the route sets none, in ms (Envoy: 15000). */
  readonly defaultRouteTimeoutMs: number;
  /** Follows `authority`'s config so pools of endpoints that leave it are closed. */
  follow(authority: string): void;
  isClosed(): boolean;
  /** Publishes the request record (diagnostics channel, debug log). */
  publish(call: MeshCall, outcome: HttpRequestOutcome, err: Error | undefined): void;
}
