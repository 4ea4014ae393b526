// What every part of one mesh's gRPC integration shares: the runtime, injected logger and clock,
// counters and the diagnostics channel. One per installGrpcIntegration(); never module-level.
import type { Channel as DiagnosticsChannel } from 'node:diagnostics_channel';
import type { Clock, Logger } from '@weft/xds-client';
import type { ClusterAdmission } from '../cluster/cluster-admission.js';
import type { ServiceBreakers } from '../breaker/service-breakers.js';
import type { RetryBudgets } from '../cluster/retry-budget.js';
import type { LocalRateLimiter } from '../filters/local-rate-limit.js';
import type { FaultInjector } from '../filters/fault.js';
import type { GrpcMirror } from '../filters/grpc-mirror.js';
import type { MeshRuntime } from '../runtime/mesh-runtime.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import type { MeshTracing } from '../tracing/mesh-tracing.js';
import type {
  GrpcCredentialsProbe,
  GrpcMeshSecurity,
  GrpcUpstreamTlsCache,
} from './grpc-mesh-credentials.js';

/** Name of the diagnostics channel that receives one `GrpcCallEvent` per finished call. */
export const GRPC_CALL_DIAGNOSTICS_CHANNEL = 'weft:sdk:grpc-call' as const;

/** Mutable counters behind `GrpcIntegration.stats()`. */
export interface GrpcCounters {
  callsStarted: number;
  callsSucceeded: number;
  callsFailed: number;
  callsRejected: number;
  picksQueued: number;
  picksFailed: number;
  connectFailuresReported: number;
  retries: number;
  retriesExhausted: number;
  retryBudgetExceeded: number;
  overflows: number;
  callsRateLimited: number;
  faultsDelayed: number;
  faultsAborted: number;
  faultsOverflowed: number;
  mirrored: number;
  mirrorFailures: number;
  mirrorsSkippedStreaming: number;
  mirrorsOverflowed: number;
  callsRefusedNoMeshCredentials: number;
  picksRefusedTlsMismatch: number;
}

/** The shared state of one mesh's gRPC integration. */
export interface GrpcMeshContext {
  readonly meshId: string;
  readonly scheme: string;
  readonly runtime: MeshRuntime;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly resolutionTimeoutMs: number;
  readonly counters: GrpcCounters;
  /** Concurrent retries per cluster (circuit breaker max_retries / retry budget). */
  readonly retryBudgets: RetryBudgets;
  /** Calls in flight per cluster against its max_requests (gRFC A32). */
  readonly admission: ClusterAdmission;
  /** Service-level breakers per cluster, shared with HTTP; undefined when turned off. */
  readonly breakers: ServiceBreakers | undefined;
  /** Token buckets of the routes' local_ratelimit filters. */
  readonly rateLimiter: LocalRateLimiter;
  /** Fault injection of routes with fault filters (gRFC A33). */
  readonly faults: FaultInjector;
  /** Mirror copies of calls on routes with request mirror policies. */
  readonly mirror: GrpcMirror;
  readonly diagnostics: DiagnosticsChannel;
  /** Istio metrics / access log per call at its end; undefined when off. */
  readonly telemetry: MeshTelemetry | undefined;
  /** Spans and x-request-id (`tracing.tracer` undefined: tracing off). */
  readonly tracing: MeshTracing;
  /** Outbound mTLS (certificates, handshake counters); undefined: mTLS clusters are refused. */
  readonly security: GrpcMeshSecurity | undefined;
  /** Tells the LB policy whether a subchannel uses this mesh's channel credentials. */
  readonly credentialsProbe: GrpcCredentialsProbe;
  /** The clusters' TLS requirements as subchannel args. */
  readonly upstreamTls: GrpcUpstreamTlsCache;
}
