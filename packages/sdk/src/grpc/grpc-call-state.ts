// The state of one gRPC call between its route decision (ConfigSelector) and its end (the call
// filter's trailers): the decision, the lease picked but not yet started, keys that failed or
// were tried, and the retry policy grpc-js runs for it (gRFC A44).
import { status as GrpcStatusCode } from '@grpc/grpc-js';
import type { RetryPolicy, status as Status, StatusObject } from '@grpc/grpc-js';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { WeftErrorCode } from '@weft/xds-client';
import type {
  AttemptDetail,
  AttemptOutcome,
  EndpointLease,
  RouteDecision,
} from '../runtime/mesh-runtime.js';
import { UNUSED_LEASE } from '../runtime/mesh-runtime.js';
import type { BreakerTicket, ClusterBreaker } from '../breaker/cluster-breaker.js';
import type { RateLimitHeaders } from '../filters/local-rate-limit.js';
import type { FaultPlan } from '../filters/fault.js';
import type { GrpcMirrorCapture } from '../filters/grpc-mirror.js';
import type { MeshTracing } from '../tracing/mesh-tracing.js';
import { endGrpcSpan, startGrpcAttemptSpan } from '../tracing/grpc-tracing.js';

/** gRPC's HTTP mapping of UNAVAILABLE: outlier detection counts it as a gateway error. */
const GRPC_UNAVAILABLE_DETAIL: AttemptDetail = Object.freeze({ httpStatus: 503 });

/** Why the mesh refused a call before picking. */
export interface GrpcCallRejection {
  readonly status: StatusObject;
  readonly weftCode: WeftErrorCode;
}

/** One call on one channel. Single-threaded: grpc-js calls everything on the event loop. */
export class GrpcCallState {
  /** A lease handed to grpc-js in a COMPLETE pick whose stream has not started yet. */
  private pendingLease: EndpointLease | undefined;
  /** Endpoint keys this call's attempts failed on; later attempts (grpc-js transparent retries) skip them. */
  readonly failedKeys = new Set<string>();
  /** Endpoint keys of attempts that ended: a retry prefers another endpoint. */
  readonly triedKeys = new Set<string>();
  attempts = 0;
  /** Attempts whose stream opened; more than one means grpc-js retried. */
  streamsStarted = 0;
  /** The status of the last attempt that ended (what a refused retry fails with). */
  lastStatus: { readonly code: Status; readonly details: string } | undefined;
  /** The retry policy handed to grpc-js in the method config; undefined = no retries. */
  retryPolicy: RetryPolicy | undefined;
  /** The call holds one of its cluster's concurrent-retry slots (released when it finishes). */
  holdsRetry = false;
  /** The call counts as active for its cluster's percentage retry budget. */
  countsForBudget = false;
  endpointKey: string | undefined;
  finished = false;
  /** The cluster's service-level breaker that admitted the call, and how. */
  breaker: ClusterBreaker | undefined;
  breakerTicket: BreakerTicket = 'closed';
  /** x-ratelimit-* headers the route's local rate limit adds to the response metadata. */
  responseHeadersToAdd: RateLimitHeaders | undefined;
  /** Faults drawn for this call (gRFC A33), applied by the call filter before the pick. */
  fault: FaultPlan | undefined;
  /** Set when mirror clusters were drawn: the request message is kept for the copies. */
  mirror: GrpcMirrorCapture | undefined;
  /** Message bytes sent / received (counted only when the mesh has telemetry). */
  requestBytes = 0;
  responseBytes = 0;
  /** The call's outbound metadata, kept only for the access log (x-request-id, traceparent). */
  metadata: { get(key: string): unknown[] } | undefined;
  /**
   * The call's client span (tracing on), which also describes the first attempt; `attemptSpan` is
   * a later attempt's, its child.
   */
  span: Span | undefined;
  private attemptSpan: Span | undefined;
  /** How the first attempt ended (tracing on), for the event recorded when a second one starts. */
  private firstEnd: { readonly key: string; code: Status } | undefined;
  private tracing: { readonly tracing: MeshTracing; readonly tracer: Tracer } | undefined;

  constructor(
    readonly id: string,
    readonly method: string,
    readonly startedAtMs: number,
    readonly decision: RouteDecision | undefined,
    readonly rejection: GrpcCallRejection | undefined,
  ) {}

  /**
   * Records a pick. A lease from an earlier pick that never started is returned first: grpc-js
   * re-picks when the chosen subchannel stopped being READY before the stream opened.
   */
  picked(lease: EndpointLease): void {
    this.releasePending('reset');
    this.pendingLease = lease;
    this.attempts += 1;
    this.endpointKey = lease.endpoint.key;
    const t = this.tracing;
    const span = this.span;
    // A sampled-out call records nothing: no attempt spans. One span for a call sent once.
    if (t === undefined || span?.isRecording() !== true) return;
    if (this.attempts === 1) {
      t.tracing.describeFirstAttempt(span, lease.endpoint);
      this.firstEnd = { key: lease.endpoint.key, code: GrpcStatusCode.OK };
      return;
    }
    const first = this.firstEnd;
    if (first !== undefined) {
      this.firstEnd = undefined;
      const attributes: Attributes = {
        'weft.upstream.host': first.key,
        'rpc.grpc.status_code': first.code,
      };
      if (first.code !== GrpcStatusCode.OK) attributes['error.type'] = GrpcStatusCode[first.code];
      t.tracing.firstAttemptEnded(span, attributes);
    }
    this.attemptSpan = startGrpcAttemptSpan(
      t.tracing,
      t.tracer,
      span,
      this.method,
      this.attempts,
      lease.endpoint,
    );
  }

  /** Starts the call's client span (tracing on); attempts get child spans from then on. */
  trace(tracing: MeshTracing, tracer: Tracer, authority: string): void {
    this.tracing = { tracing, tracer };
    this.span = tracing.startClientSpan(tracer, 'POST', authority, this.method, 'grpc');
    if (this.decision !== undefined && this.span.isRecording()) {
      this.span.setAttribute('weft.cluster', this.decision.clusterName);
      this.span.setAttribute('weft.route', this.decision.routeName);
    }
  }

  /** Ends the client span (and an attempt span still open) with the call's status. */
  endSpan(code: Status, details: string, responseFlag: string): void {
    this.endAttemptSpan(code, details);
    const span = this.span;
    if (span === undefined) return;
    this.span = undefined;
    span.setAttribute('weft.attempts', this.attempts);
    endGrpcSpan(span, code, details, responseFlag);
  }

  private endAttemptSpan(code: Status, details: string): void {
    const first = this.firstEnd;
    if (first !== undefined && this.attempts === 1) first.code = code;
    const span = this.attemptSpan;
    if (span === undefined) return;
    this.attemptSpan = undefined;
    endGrpcSpan(span, code, details, undefined);
  }

  /** The stream of `lease` opened: its end is now reported by onCallEnded. */
  started(lease: EndpointLease): void {
    if (this.pendingLease === lease) this.pendingLease = undefined;
    this.streamsStarted += 1;
  }

  /** The attempt on `lease` ended with `code`; reports its outcome exactly once. */
  ended(lease: EndpointLease, outcome: AttemptOutcome, code: Status, details: string): void {
    if (this.pendingLease === lease) this.pendingLease = undefined;
    if (outcome !== 'success') this.failedKeys.add(lease.endpoint.key);
    this.triedKeys.add(lease.endpoint.key);
    this.lastStatus = { code, details };
    this.endAttemptSpan(code, details);
    // UNAVAILABLE reports as 503 (gRPC's HTTP mapping): a gateway-class error for outlier detection.
    lease.done(outcome, outcome === 'server-error' ? GRPC_UNAVAILABLE_DETAIL : undefined);
  }

  /** Returns a lease that was picked but never carried a stream (call cancelled, or re-picked). */
  releasePending(outcome: AttemptOutcome): void {
    const lease = this.pendingLease;
    if (lease === undefined) return;
    this.pendingLease = undefined;
    this.endAttemptSpan(GrpcStatusCode.CANCELLED, 'the picked subchannel carried no stream');
    lease.done(outcome, outcome === 'success' ? UNUSED_LEASE : undefined);
  }
}
