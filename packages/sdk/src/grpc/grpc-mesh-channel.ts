// Per-channel state of the gRPC integration: the endpoints last reported to grpc-js, the table of
// calls in flight (their route decisions travel to the picker as an id in pickInformation), and
// the ConfigSelector that routes each call (gRFC A31's per-call config selection) and hands
// grpc-js the route's timeout and retry policy (gRFC A44).
// https://github.com/grpc/proposal/blob/master/A31-xds-timeout-support-and-config-selector.md
// https://github.com/grpc/proposal/blob/master/A44-xds-retry.md
import {
  experimental,
  status as GrpcStatus,
  type Metadata,
  type MethodConfig,
  type RetryPolicy,
  type StatusObject,
} from '@grpc/grpc-js';
import type { RetryPolicyUpdate } from '@weft/xds-client';
import { Metadata as GrpcMetadata } from '@grpc/grpc-js';
import { WeftError } from '@weft/xds-client';
import type { RouteDecision, UpstreamEndpoint } from '../runtime/mesh-runtime.js';
import type { RateLimitHeaders, RateLimitRefusal } from '../filters/local-rate-limit.js';
import { GrpcCallState, type GrpcCallRejection } from './grpc-call-state.js';
import { withGrpcTraceMetadata } from '../tracing/grpc-tracing.js';
import type { GrpcMeshContext } from './grpc-mesh-context.js';
import { createGrpcRouteInput } from './grpc-route-input.js';
import { grpcStatusOfWeftCode } from './grpc-status.js';
import { retriableGrpcCodes } from '../routing/retry-conditions.js';
import { breakerVerdictOfGrpc } from '../breaker/breaker-verdicts.js';
import type { BreakerTicket } from '../breaker/cluster-breaker.js';
import { GRPC_BREAKER_CLUSTER_KEY, GRPC_BREAKER_KEY } from '../breaker/grpc-fallback.js';
import { grpcStatusOfHttpStatus, type FaultPlan } from '../filters/fault.js';

/** grpc-js's own cap on attempts per call (channel option `grpc-node.retry_max_attempts_limit`). */
export const GRPC_JS_MAX_ATTEMPTS = 5;

function isGrpcStatus(code: number): code is GrpcStatus {
  return GrpcStatus[code] !== undefined;
}

/** Seconds as a proto3 JSON duration string, as grpc-js's service config wants them. */
function durationString(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * The route's retry policy as a gRPC method-config retryPolicy (gRFC A44): attempts =
 * 1 + num_retries, Envoy's back-off base/max with multiplier 2, the gRPC conditions as status
 * codes. Undefined when it retries nothing a gRPC call can fail with.
 */
export function grpcRetryPolicyOf(policy: RetryPolicyUpdate | undefined): RetryPolicy | undefined {
  if (policy === undefined || policy.numRetries <= 0) return undefined;
  const codes = retriableGrpcCodes(policy).filter(isGrpcStatus);
  if (codes.length === 0) return undefined;
  return {
    maxAttempts: policy.numRetries + 1,
    initialBackoff: durationString(policy.baseIntervalMs),
    maxBackoff: durationString(policy.maxIntervalMs),
    backoffMultiplier: 2,
    retryableStatusCodes: codes,
  };
}

/** The pickInformation key carrying a call's id from the ConfigSelector to the picker. */
export const CALL_ID_PICK_KEY = 'weft.call' as const;

/** One finished call, as published on `weft:sdk:grpc-call`. */
export interface GrpcCallEvent {
  readonly meshId: string;
  /** The target's name: `inventory:9090` for `xds:///inventory:9090`. */
  readonly authority: string;
  /** `/pkg.Service/Method`. */
  readonly method: string;
  readonly routeName: string | undefined;
  readonly clusterName: string | undefined;
  /** `address:port` of the last attempt's endpoint; undefined if no attempt was sent. */
  readonly endpoint: string | undefined;
  readonly attempts: number;
  /** Attempts grpc-js made under the route's retry policy after the first. */
  readonly retries: number;
  /** The call's final gRPC status code. */
  readonly code: number;
  readonly details: string;
  /** Set when the mesh refused the call before any pick (no route, mesh closed…). */
  readonly weftCode: string | undefined;
  /** Envoy response flags of the mesh's doing: `-`, `DI` (fault delay), `FI` (fault abort), `DI,FI`. */
  readonly responseFlag: string;
  readonly durationMs: number;
}

type CallConfig = ReturnType<experimental.ConfigSelector['invoke']>;
/** A message as filters see it (grpc-js does not export the type by name). */
type WriteObject = Awaited<ReturnType<experimental.BaseFilter['sendMessage']>>;

/** The per-channel state shared by one resolver instance and the LB policy it feeds. */
export class GrpcMeshChannel {
  readonly calls = new Map<string, GrpcCallState>();
  /** The endpoints last reported to grpc-js, in report order. */
  endpoints: readonly UpstreamEndpoint[] = [];
  /** Set once the mesh is closed: every later call fails UNAVAILABLE with this text. */
  closedReason: string | undefined;
  /** The last failure to resolve (whenReady rejection), quoted in "not ready" failures. */
  lastResolutionError: string | undefined;
  private nextCallId = 0;
  /** Routes whose retry settings grpc-js cannot honour in full, already logged once. */
  private readonly warnedRoutes = new Set<string>();
  /**
   * Whether this channel's subchannels connect through this mesh's `grpcCredentials()` (the LB
   * policy learns it at its first subchannel); undefined until then.
   */
  meshCredentials: boolean | undefined;
  /** mTLS clusters already logged as refused on this channel (no mesh credentials). */
  private readonly warnedTlsClusters = new Set<string>();
  /**
   * grpcRetryPolicyOf by route policy (decoded config is immutable and kept by the route table),
   * so a call does not rebuild it (~1 µs). grpc-js only reads the object; null = none.
   */
  private readonly grpcRetryPolicies = new WeakMap<RetryPolicyUpdate, RetryPolicy | null>();
  readonly configSelector: experimental.ConfigSelector;

  constructor(
    readonly ctx: GrpcMeshContext,
    readonly authority: string,
  ) {
    this.configSelector = {
      invoke: (method, metadata) => this.routeCall(method, metadata),
      // One selector per channel, reused across resolutions: nothing to release.
      unref: () => undefined,
    };
  }

  private routeCall(method: string, metadata: Metadata): CallConfig {
    const { ctx } = this;
    ctx.counters.callsStarted += 1;
    this.nextCallId += 1;
    const id = String(this.nextCallId);
    let decided = this.decide(method, metadata);
    let rateLimitHeaders: RateLimitHeaders | undefined;
    if (!('status' in decided) && decided.filters.length > 0) {
      const limit = ctx.rateLimiter.check(decided.filters);
      if (limit?.limited === true) decided = this.rateLimited(limit.refusal);
      else if (limit !== undefined && limit.headers.length > 0) rateLimitHeaders = limit.headers;
    }
    const breaker = 'status' in decided ? undefined : ctx.breakers?.of(decided.clusterName);
    let ticket: BreakerTicket | WeftError = 'closed';
    if (breaker !== undefined) {
      ticket = breaker.admit();
      if (ticket instanceof WeftError) {
        decided = reject(
          GrpcStatus.UNAVAILABLE,
          `weft: ${ticket.code}: ${ticket.message}`,
          ticket.code,
        );
        decided.status.metadata.set(GRPC_BREAKER_KEY, 'open');
        decided.status.metadata.set(GRPC_BREAKER_CLUSTER_KEY, breaker.clusterName);
      }
    }
    const methodConfig: MethodConfig = { name: [] };
    let call: GrpcCallState;
    if ('status' in decided) {
      call = new GrpcCallState(id, method, ctx.clock.now(), undefined, decided);
    } else {
      call = new GrpcCallState(id, method, ctx.clock.now(), decided, undefined);
      if (breaker !== undefined && !(ticket instanceof WeftError)) {
        call.breaker = breaker;
        call.breakerTicket = ticket;
      }
      call.responseHeadersToAdd = rateLimitHeaders;
      this.calls.set(id, call);
      const tracer = ctx.tracing.tracer;
      if (tracer !== undefined) call.trace(ctx.tracing, tracer, this.authority);
      // x-request-id and (tracing on) the call's trace headers, one set per call (grpc-js copies
      // them to each retry attempt). grpc-js hands the selector the call's own metadata (its
      // clone, the object the filters then send), so they are set here at once rather than in a
      // filter's promise continuation.
      withGrpcTraceMetadata(ctx.tracing, call.span, metadata);
      // gRFC A28: the route's timeout is the call's max duration; grpc-js keeps the call's own
      // deadline when it is earlier. undefined and 0 both mean "no mesh deadline" for gRPC.
      // The deadline covers every attempt and back-off: retries never outlast the route timeout.
      const timeoutMs = decided.timeoutMs;
      if (timeoutMs !== undefined && timeoutMs > 0) {
        methodConfig.timeout = {
          seconds: Math.floor(timeoutMs / 1000),
          nanos: (timeoutMs % 1000) * 1_000_000,
        };
      }
      const retryPolicy = this.grpcRetryPolicy(decided.retryPolicy);
      if (retryPolicy !== undefined) {
        methodConfig.retryPolicy = retryPolicy;
        call.retryPolicy = retryPolicy;
        this.warnUnsupportedRetrySettings(decided);
      }
      if (decided.cluster?.circuitBreakers.retryBudget !== undefined) {
        call.countsForBudget = true;
        ctx.retryBudgets.requestStarted(decided.clusterName);
      }
      if (decided.filters.length > 0) {
        const header = createGrpcRouteInput(this.authority, method, metadata).header;
        call.fault = ctx.faults.plan(decided.filters, header, decided.routeName);
      }
      // Like Envoy (fault filter before the router): a fault-aborted call is not mirrored.
      if (decided.action.requestMirrorPolicies.length > 0 && call.fault?.abort === undefined) {
        const clusters = ctx.mirror.draw(decided);
        if (clusters.length > 0) {
          call.mirror = {
            decision: decided,
            clusters,
            metadata: metadata.clone(),
            message: undefined,
            messages: 0,
          };
        }
      }
    }
    return {
      methodConfig,
      pickInformation: call.decision === undefined ? {} : { [CALL_ID_PICK_KEY]: id },
      status: GrpcStatus.OK,
      dynamicFilterFactories: [{ createFilter: () => new GrpcCallFilter(this, call) }],
    };
  }

  /** The method-config retry policy of a route's policy, built once per policy object. */
  grpcRetryPolicy(policy: RetryPolicyUpdate | undefined): RetryPolicy | undefined {
    if (policy === undefined) return undefined;
    let cached = this.grpcRetryPolicies.get(policy);
    if (cached === undefined) {
      cached = grpcRetryPolicyOf(policy) ?? null;
      this.grpcRetryPolicies.set(policy, cached);
    }
    return cached ?? undefined;
  }

  /**
   * grpc-js 1.14 has no per-attempt timeout and caps attempts at 5 per call: say so once per
   * route instead of dropping the setting silently.
   */
  private warnUnsupportedRetrySettings(decision: RouteDecision): void {
    const policy = decision.retryPolicy;
    if (policy === undefined || this.warnedRoutes.has(decision.routeName)) return;
    const perTry = policy.perTryTimeoutMs !== undefined;
    const capped = policy.numRetries + 1 > GRPC_JS_MAX_ATTEMPTS;
    if (!perTry && !capped) return;
    this.warnedRoutes.add(decision.routeName);
    this.ctx.logger.warn('weft grpc: route retry settings grpc-js cannot apply in full', {
      authority: this.authority,
      route: decision.routeName,
      perTryTimeoutMs: perTry
        ? `${policy.perTryTimeoutMs}ms not applied (grpc-js has no per-attempt timeout; the route timeout bounds the call)`
        : undefined,
      attempts: capped
        ? `${policy.numRetries + 1} capped to ${GRPC_JS_MAX_ATTEMPTS} unless the channel sets grpc-node.retry_max_attempts_limit`
        : undefined,
    });
  }

  /**
   * Applies `plan` to a call's metadata before grpc-js picks (gRFC A33): waits out the delay on
   * the mesh clock (the call's deadline keeps running), then ends the call with the abort status
   * or lets it go on. A call that ended meanwhile (deadline, cancel) is never sent.
   */
  applyFault(call: GrpcCallState, plan: FaultPlan, metadata: Promise<Metadata>): Promise<Metadata> {
    const abort = plan.abort;
    const abortStatus = (): StatusObject => ({
      code:
        abort === undefined
          ? GrpcStatus.CANCELLED
          : toGrpcStatus(
              abort.kind === 'grpc' ? abort.grpcStatus : grpcStatusOfHttpStatus(abort.httpStatus),
            ),
      details: 'weft: fault filter abort',
      metadata: new GrpcMetadata(),
    });
    if (plan.delayMs <= 0) {
      // grpc-js ends the call with the StatusObject a filter rejects with (not an Error).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return abort === undefined ? metadata : metadata.then(() => Promise.reject(abortStatus()));
    }
    const end = this.ctx.faults.begin();
    return new Promise<Metadata>((resolve, reject) => {
      this.ctx.clock.setTimeout(() => {
        end();
        if (call.finished) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject({
            ...abortStatus(),
            code: GrpcStatus.CANCELLED,
            details: 'call ended during fault delay',
          });
        } else if (abort !== undefined) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(abortStatus());
        } else {
          metadata.then(resolve, reject);
        }
      }, plan.delayMs);
    });
  }

  private decide(method: string, metadata: Metadata): RouteDecision | GrpcCallRejection {
    if (this.closedReason !== undefined) {
      return reject(GrpcStatus.UNAVAILABLE, this.closedReason, 'WEFT_CLOSED');
    }
    const result = this.ctx.runtime.route(createGrpcRouteInput(this.authority, method, metadata));
    if (result === 'pending') {
      const why = this.lastResolutionError === undefined ? '' : `: ${this.lastResolutionError}`;
      return reject(
        GrpcStatus.UNAVAILABLE,
        `weft: no complete xDS config for ${this.authority} yet${why}`,
        'WEFT_RESOURCE_DOES_NOT_EXIST',
      );
    }
    if (result instanceof WeftError) {
      return reject(
        grpcStatusOfWeftCode(result.code),
        `weft: ${result.code}: ${result.message}`,
        result.code,
      );
    }
    if (result.cluster?.tls !== undefined && this.meshCredentials === false) {
      // mTLS needs the mesh's channel credentials: refuse the call rather than send plaintext.
      this.refusePlaintext(result.clusterName);
      this.ctx.counters.callsRefusedNoMeshCredentials += 1;
      return reject(
        GrpcStatus.UNAVAILABLE,
        `weft: WEFT_UNSUPPORTED: ${this.noMeshCredentialsMessage(result.clusterName)}`,
        'WEFT_UNSUPPORTED',
      );
    }
    return result;
  }

  /** Why an mTLS cluster is refused on a channel without the mesh's credentials. */
  noMeshCredentialsMessage(clusterName: string): string {
    return `cluster ${clusterName} requires mTLS (UpstreamTlsContext, e.g. ISTIO_MUTUAL) but this channel's credentials are not the mesh's: create the client with mesh.grpcCredentials() (of the mesh serving ${this.ctx.scheme}:///${this.authority}); the call is refused, never sent in plaintext`;
  }

  /** Logs once per cluster that this channel cannot reach it (no mesh credentials). */
  refusePlaintext(clusterName: string): void {
    if (this.warnedTlsClusters.has(clusterName)) return;
    this.warnedTlsClusters.add(clusterName);
    this.ctx.logger.warn(
      'mesh grpc: mTLS cluster refused (channel without mesh.grpcCredentials())',
      {
        meshId: this.ctx.meshId,
        authority: this.authority,
        cluster: clusterName,
      },
    );
  }

  /**
   * A call refused by a local rate limit: RESOURCE_EXHAUSTED (UNAVAILABLE unless the config sets
   * rate_limited_as_resource_exhausted, Envoy's mapping of 429), x-ratelimit-* in the trailers.
   */
  private rateLimited(refusal: RateLimitRefusal): GrpcCallRejection {
    this.ctx.counters.callsRateLimited += 1;
    const code = refusal.config.rateLimitedAsResourceExhausted
      ? grpcStatusOfWeftCode('WEFT_RATE_LIMITED')
      : GrpcStatus.UNAVAILABLE;
    const rejection = reject(
      code,
      `weft: WEFT_RATE_LIMITED: local_rate_limited (filter ${refusal.filterName}, ${refusal.scope})`,
      'WEFT_RATE_LIMITED',
    );
    for (const [name, value] of refusal.headers) rejection.status.metadata.set(name, value);
    return rejection;
  }

  /** Ends `call`: forgets it, returns an unused lease, counts and publishes it. Idempotent. */
  finishCall(call: GrpcCallState, status: StatusObject): void {
    if (call.finished) return;
    call.finished = true;
    this.calls.delete(call.id);
    // A lease picked for a stream that never opened (cancelled meanwhile) says nothing of the host.
    call.releasePending('success');
    const { ctx } = this;
    const cluster = call.decision?.clusterName ?? '';
    if (call.holdsRetry) ctx.retryBudgets.release(cluster);
    if (call.countsForBudget) ctx.retryBudgets.requestEnded(cluster);
    if (call.streamsStarted > 1) ctx.counters.retries += call.streamsStarted - 1;
    const policy = call.retryPolicy;
    if (
      policy !== undefined &&
      call.streamsStarted >= Math.min(policy.maxAttempts, GRPC_JS_MAX_ATTEMPTS) &&
      policy.retryableStatusCodes.includes(status.code)
    ) {
      ctx.counters.retriesExhausted += 1;
    }
    const breaker = call.breaker;
    if (breaker !== undefined) {
      // A fault abort is the mesh's own answer (filter before the router): nothing about the service.
      const verdict =
        call.fault?.abort !== undefined ? 'ignore' : breakerVerdictOfGrpc(status.code);
      breaker.done(call.breakerTicket, verdict);
      // Marks the failure for a fallback interceptor (mesh.grpcFallback) and names the cluster.
      if (verdict === 'failure') {
        status.metadata.set(GRPC_BREAKER_KEY, 'failure');
        status.metadata.set(GRPC_BREAKER_CLUSTER_KEY, breaker.clusterName);
      }
    }
    call.endSpan(status.code, status.details, faultFlagOf(call.fault));
    if (call.rejection !== undefined) ctx.counters.callsRejected += 1;
    else if (status.code === GrpcStatus.OK) ctx.counters.callsSucceeded += 1;
    else ctx.counters.callsFailed += 1;
    if (ctx.diagnostics.hasSubscribers || ctx.telemetry !== undefined) {
      const event: GrpcCallEvent = {
        meshId: ctx.meshId,
        authority: this.authority,
        method: call.method,
        routeName: call.decision?.routeName,
        clusterName: call.decision?.clusterName,
        endpoint: call.endpointKey,
        attempts: call.attempts,
        retries: Math.max(0, call.streamsStarted - 1),
        code: status.code,
        details: status.details,
        weftCode: call.rejection?.weftCode,
        responseFlag: faultFlagOf(call.fault),
        durationMs: ctx.clock.now() - call.startedAtMs,
      };
      if (ctx.diagnostics.hasSubscribers) ctx.diagnostics.publish(event);
      const metadata = call.metadata;
      ctx.telemetry?.grpcClientEnded(event, {
        requestBytes: call.requestBytes,
        responseBytes: call.responseBytes,
        header:
          metadata === undefined
            ? undefined
            : (name) => {
                const v = metadata.get(name)[0];
                return typeof v === 'string' ? v : undefined;
              },
      });
    }
  }
}

function toGrpcStatus(code: number): GrpcStatus {
  return isGrpcStatus(code) ? code : GrpcStatus.UNKNOWN;
}

function faultFlagOf(plan: FaultPlan | undefined): string {
  if (plan === undefined) return '-';
  if (plan.delayMs > 0) return plan.abort === undefined ? 'DI' : 'DI,FI';
  return plan.abort === undefined ? '-' : 'FI';
}

function reject(
  code: GrpcStatus,
  details: string,
  weftCode: GrpcCallRejection['weftCode'],
): GrpcCallRejection {
  return { status: { code, details, metadata: new GrpcMetadata() }, weftCode };
}

/**
 * The per-call filter: fails a refused call with the mesh's own status text (a non-OK
 * CallConfig.status would be replaced by grpc-js's generic "Failed to route call"), and sees
 * every call's final status, including calls cancelled before any pick.
 */
class GrpcCallFilter extends experimental.BaseFilter {
  constructor(
    private readonly channel: GrpcMeshChannel,
    private readonly call: GrpcCallState,
  ) {
    super();
  }

  override sendMetadata(metadata: Promise<Metadata>): Promise<Metadata> {
    const rejection = this.call.rejection;
    if (rejection === undefined) {
      // x-request-id and the trace headers are already in (routeCall).
      const fault = this.call.fault;
      const sent =
        this.channel.ctx.telemetry?.accessLog === undefined
          ? metadata
          : metadata.then((m) => {
              this.call.metadata = m;
              return m;
            });
      return fault === undefined ? sent : this.channel.applyFault(this.call, fault, sent);
    }
    // grpc-js ends the call with the StatusObject a filter rejects with (not an Error).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(rejection.status);
  }

  override sendMessage(message: Promise<WriteObject>): Promise<WriteObject> {
    const capture = this.call.mirror;
    if (capture === undefined) {
      if (this.channel.ctx.telemetry === undefined) return message;
      return message.then((m) => {
        this.call.requestBytes += m.message.length;
        return m;
      });
    }
    // Dynamic filters run before grpc-js's compression filter: these are the bare message bytes.
    return message.then((m) => {
      this.call.requestBytes += m.message.length;
      capture.messages += 1;
      capture.message = capture.messages === 1 ? m.message : undefined;
      return m;
    });
  }

  override receiveMessage(message: Promise<Buffer>): Promise<Buffer> {
    if (this.channel.ctx.telemetry === undefined) return message;
    return message.then((m) => {
      this.call.responseBytes += m.length;
      return m;
    });
  }

  override receiveMetadata(metadata: Metadata): Metadata {
    for (const [name, value] of this.call.responseHeadersToAdd ?? []) metadata.set(name, value);
    return metadata;
  }

  override receiveTrailers(status: StatusObject): StatusObject {
    const first = !this.call.finished;
    this.channel.finishCall(this.call, status);
    const capture = this.call.mirror;
    if (first && capture !== undefined) {
      this.call.mirror = undefined;
      this.channel.ctx.mirror.send(capture, this.channel.authority, this.call.method);
    }
    return status;
  }
}
