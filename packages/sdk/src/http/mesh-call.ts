// One request through the mesh: route once, pick an endpoint, send on its pool; a connect failure
// moves to the next endpoint within the same request; the route's retry policy retries 5xx,
// resets and per-try timeouts on another host after a jittered back-off; the route timeout bounds
// the whole request, retries included. DESIGN.md "The request path", steps 1-6.
import { WeftError } from '@weft/xds-client';
import type { TimerHandle } from '@weft/xds-client';
import type { Dispatcher } from 'undici';
import { DEFAULT_CIRCUIT_BREAKERS } from '../cluster/cluster-admission.js';
import { breakerVerdictOfHttp } from '../breaker/breaker-verdicts.js';
import type { BreakerTicket, ClusterBreaker } from '../breaker/cluster-breaker.js';
import type { RateLimitHeaders } from '../filters/local-rate-limit.js';
import type { EndpointLease, RouteDecision, RouteInput } from '../runtime/mesh-runtime.js';
import { UNUSED_LEASE } from '../runtime/mesh-runtime.js';
import { retriesStatus } from '../routing/retry-conditions.js';
import type { RetriableFailure } from '../routing/retry-conditions.js';
import { Attempt } from './attempt.js';
import { PreRouterFilters } from './pre-router-filters.js';
import { RetryState } from './retry-state.js';
import { isConnectError, isReplayable } from './upstream-failures.js';
import type { CallContext } from './call-context.js';
import type { HttpRequestEvent, HttpRequestOutcome } from './http-request-event.js';
import type { LegacyHandler } from './legacy-handler.js';
import { addRequestId, hasHeader, indexHeaders, withHostHeader } from './request-headers.js';
import type { UpstreamTarget } from './upstream-target.js';
import { REQUEST_ID_HEADER } from '../tracing/mesh-tracing.js';
import { RequestTrace } from './request-trace.js';

/** `servername` is read by undici's Request (TLS SNI, connection reuse) but missing from its types. */
type MutableDispatchOptions = {
  -readonly [K in keyof Dispatcher.DispatchOptions]: Dispatcher.DispatchOptions[K];
} & { servername?: unknown };

/** The state of one request from dispatch to its end. Also the RouteInput routing reads. */
export class MeshCall implements RouteInput {
  readonly authority: string;
  readonly path: string;
  /**
   * Lazily indexes the caller's headers on the first lookup (only routes with header matchers or
   * header hash policies look); the bound lookup itself is made on first access.
   */
  get header(): (lowerCaseName: string) => string | undefined {
    return (this.headerLookup ??= (lowerCaseName: string): string | undefined =>
      (this.headerIndex ??= indexHeaders(this.opts.headers)).get(lowerCaseName));
  }

  /**
   * A header of the request as sent upstream (the caller's plus what the mesh added), for the
   * access log; indexed on first use.
   */
  sentHeader(lowerCaseName: string): string | undefined {
    const sent = this.upstream?.headers;
    if (sent === undefined || sent === this.opts.headers) return this.header(lowerCaseName);
    return (this.sentIndex ??= indexHeaders(sent)).get(lowerCaseName);
  }

  statusCode: number | undefined = undefined;
  private sentIndex: ReadonlyMap<string, string> | undefined = undefined;
  /** Response body bytes forwarded to the caller (access log, istio_response_bytes). */
  responseBytes = 0;
  /** Request body bytes undici reported sent (onBodySent chunks), for a streamed body. */
  bodyBytesSent = 0;
  timeoutError: WeftError | undefined = undefined;
  /** x-ratelimit-* headers the route's local rate limit adds to the response. */
  get responseHeadersToAdd(): RateLimitHeaders | undefined {
    return this.filters?.responseHeadersToAdd;
  }
  private headerIndex: ReadonlyMap<string, string> | undefined = undefined;
  private headerLookup: ((lowerCaseName: string) => string | undefined) | undefined = undefined;
  private decision: RouteDecision | undefined = undefined;
  private upstream: MutableDispatchOptions | undefined = undefined;
  /** Keys not to pick next: endpoints that failed to connect or already failed a retried try. */
  private exclude: Set<string> | undefined = undefined;
  private current: Attempt | undefined = undefined;
  private attempts = 0;
  private lastConnectError: Error | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  /** Retry policy, retries and retry budget; undefined when the route has none of them. */
  private retry: RetryState | undefined = undefined;
  /** Rate limit and fault injection; undefined when the route has no filters. */
  private filters: PreRouterFilters | undefined = undefined;
  /** Holds one of the cluster's max_requests slots (from a send to the end or a retry back-off). */
  private holdsRequest = false;
  private connectForwarded = false;
  private responseStartForwarded = false;
  private callerAborted = false;
  private finished = false;
  /** The cluster's service-level breaker that admitted this request, and how. */
  private breaker: ClusterBreaker | undefined = undefined;
  private breakerTicket: BreakerTicket = 'closed';
  private readonly startMs: number;
  /** The route timeout in force (ms, 0 = none); mirror copies get the same bound. */
  private routeTimeoutMs = 0;
  /** Spans and trace headers (tracing on). */
  private readonly trace: RequestTrace | undefined = undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly opts: Dispatcher.DispatchOptions,
    readonly handler: LegacyHandler,
    private readonly target: UpstreamTarget,
  ) {
    this.authority = target.authority;
    this.path = opts.path;
    this.startMs = ctx.clock.now();
    const tracer = ctx.tracing.tracer;
    if (tracer !== undefined) {
      this.trace = new RequestTrace(ctx.tracing, tracer, opts.method, target.authority, opts.path);
    }
  }

  /** Routes (waiting for the listener's config if it is not there yet) and sends. */
  start(): void {
    const routed = this.route();
    if (routed !== 'pending') {
      this.routed(routed);
      return;
    }
    this.ctx.runtime.whenReady(this.authority, this.ctx.resourceWaitMs).then(
      () => {
        const again = this.route();
        this.routed(
          again === 'pending'
            ? new WeftError('WEFT_NO_ROUTE', `listener ${this.authority}: config incomplete`)
            : again,
        );
      },
      (err: unknown) => {
        this.fail(WeftError.from(err), 'no-route');
      },
    );
  }

  private route(): RouteDecision | WeftError | 'pending' {
    try {
      return this.ctx.runtime.route(this);
    } catch (err) {
      return WeftError.from(err);
    }
  }

  private routed(result: RouteDecision | WeftError): void {
    if (this.finished) return;
    if (result instanceof WeftError) {
      this.fail(result, result.code === 'WEFT_NO_ROUTE' ? 'no-route' : 'error');
      return;
    }
    if (this.ctx.isClosed()) {
      this.fail(new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed'), 'error');
      return;
    }
    this.decision = result;
    // Envoy's filter chain runs before the router: a fault is neither retried nor mirrored, and an
    // immediate abort never reaches the service breaker.
    if (result.filters.length > 0) {
      const filters = (this.filters = new PreRouterFilters(this.ctx, this));
      if (filters.answered(result)) return;
    }
    const breaker = this.ctx.breakers?.of(result.clusterName);
    if (breaker !== undefined) {
      const ticket = breaker.admit();
      if (ticket instanceof WeftError) {
        this.fail(ticket, 'breaker-open');
        return;
      }
      this.breaker = breaker;
      this.breakerTicket = ticket;
    }
    this.ctx.follow(this.authority);
    const hostOnly = this.target.hostOnlyHeaders;
    const withHost = withHostHeader(this.opts.headers, this.authority, hostOnly);
    // x-request-id: the caller's, else the inbound request's (mesh.serve), else a new one. Asked
    // without indexing the caller's headers; added in place when withHost is already our copy.
    const callerHasId =
      this.headerIndex === undefined
        ? hasHeader(this.opts.headers, REQUEST_ID_HEADER)
        : this.headerIndex.has(REQUEST_ID_HEADER);
    let owned = withHost !== this.opts.headers && withHost !== hostOnly;
    let headers = withHost;
    if (!callerHasId) {
      headers = addRequestId(withHost, owned, REQUEST_ID_HEADER, this.ctx.tracing.requestId());
      owned = true; // addRequestId copies what is not ours
    }
    this.trace?.routed(result, owned);
    this.upstream = { ...this.opts, headers };
    // The Host header is ours (not the caller's): hand undici the servername it would derive from it.
    const serverName = this.target.serverName;
    if (
      serverName !== undefined &&
      withHost !== this.opts.headers &&
      !(this.opts as MutableDispatchOptions).servername
    ) {
      this.upstream.servername = serverName;
    }
    this.retry = RetryState.of(this.ctx, result, this.opts.body);
    const timeoutMs = result.timeoutMs ?? this.ctx.defaultRouteTimeoutMs;
    this.routeTimeoutMs = timeoutMs;
    if (timeoutMs > 0) {
      this.timer = this.ctx.clock.setTimeout(() => {
        this.timedOut(timeoutMs);
      }, timeoutMs);
    }
    if (this.filters?.inject() === true) return;
    this.sendFirst();
  }

  /** The router's turn: mirror copies (fire-and-forget), then the first try. */
  sendFirst(): void {
    const decision = this.decision;
    if (decision === undefined || this.finished) return;
    if (decision.action.requestMirrorPolicies.length > 0) {
      const host = this.header('host') ?? this.authority;
      this.ctx.mirror.mirror(decision, this.opts, host, this.routeTimeoutMs);
    }
    this.send(false);
  }

  /** `finished`, read after calls into the caller's handler (which may end the request). */
  ended(): boolean {
    return this.finished;
  }

  /**
   * Picks the next endpoint (skipping `exclude`) and sends on its pool. A retry (`anyWhenAllTried`)
   * prefers an endpoint not tried before and falls back to any when all were.
   */
  private send(anyWhenAllTried: boolean): void {
    const decision = this.decision;
    const upstream = this.upstream;
    if (decision === undefined || upstream === undefined || this.finished) return;
    if (this.ctx.isClosed()) {
      this.fail(new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed'), 'error');
      return;
    }
    // Circuit breaker max_requests: every try (retries too, as in Envoy) needs a slot.
    const breakers = decision.cluster?.circuitBreakers;
    if (!this.holdsRequest) {
      if (!this.ctx.admission.tryStartRequest(decision.clusterName, breakers)) {
        const limit = (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxRequests;
        this.overflowed(this.ctx.admission.overflow(decision.clusterName, 'max_requests', limit));
        return;
      }
      this.holdsRequest = true;
    }
    let lease: EndpointLease | undefined;
    try {
      lease = decision.pick(this.exclude);
      if (lease === undefined && anyWhenAllTried && this.exclude !== undefined) {
        this.exclude = undefined;
        lease = decision.pick(undefined);
      }
    } catch (err) {
      this.fail(WeftError.from(err), 'error');
      return;
    }
    if (lease === undefined) {
      const last = this.lastConnectError;
      if (last === undefined) {
        this.fail(decision.unavailableError(this.exclude), 'no-healthy-upstream');
        return;
      }
      if (this.retried('connect-failure')) return;
      this.fail(
        this.final(
          new WeftError(
            'WEFT_CONNECT_FAILURE',
            `cluster ${decision.clusterName}: every endpoint failed to connect (${this.attempts} tried): ${last.message}`,
            { cause: last },
          ),
        ),
        'connect-failure',
      );
      return;
    }
    const entry = this.ctx.pools.get(lease.endpoint, decision.cluster);
    if (entry === undefined) {
      lease.done('success'); // not the endpoint's fault: the mesh closed under us
      this.fail(new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed'), 'error');
      return;
    }
    // Circuit breaker max_connections / max_pending_requests: send, wait for a socket, or overflow.
    const admitted = this.ctx.pools.admit(entry, breakers);
    if (admitted instanceof WeftError) {
      lease.done('success', UNUSED_LEASE);
      this.overflowed(admitted);
      return;
    }
    if (this.attempts > 0 && !anyWhenAllTried) this.ctx.counters.retriesToNextEndpoint++;
    this.attempts++;
    const previous = this.current;
    const attempt = new Attempt(this, lease);
    this.current = attempt;
    this.retry?.armPerTry((perTryMs) => {
      this.perTryTimedOut(attempt, perTryMs);
    });
    const trace = this.trace;
    if (trace !== undefined) {
      upstream.headers = trace.attempt(
        upstream,
        this.opts.headers,
        attempt,
        this.attempts,
        previous,
      );
    }
    this.ctx.pools.send(entry, upstream, attempt, admitted, breakers);
  }

  /** A circuit-breaker threshold refused this try: the request fails UO (a retry's too). */
  private overflowed(err: WeftError): void {
    this.ctx.counters.overflows++;
    this.fail(err, 'overflow');
  }

  /**
   * Schedules the next try after the back-off when the policy retries `failure` (or a status, when
   * `failure` is undefined and the caller checked it), retries are left and the cluster admits a
   * retry. False: the current outcome stands.
   */
  private retried(failure: RetriableFailure | undefined): boolean {
    const retry = this.retry;
    const decision = this.decision;
    if (retry === undefined || decision === undefined || this.finished) return false;
    if (this.callerAborted || this.ctx.isClosed()) return false;
    if (!retry.admits(failure)) return false;
    // No request in flight during the back-off: the retry asks for a max_requests slot again.
    this.releaseRequest(decision.clusterName);
    retry.schedule(() => {
      this.send(true);
    });
    return true;
  }

  /** The request's error after a retriable failure: URX wrapping it when retries ran out. */
  private final(err: WeftError): WeftError {
    return this.retry?.final(err, this.attempts) ?? err;
  }

  /** Headers of `attempt` arrived: true when the status is retried (the caller never sees it). */
  retriedOnStatus(attempt: Attempt, statusCode: number): boolean {
    const policy = this.retry?.policy;
    if (policy === undefined || !retriesStatus(policy, statusCode)) return false;
    if (!this.retried(undefined)) return false;
    attempt.report(statusCode >= 500 ? 'server-error' : 'success', { httpStatus: statusCode });
    (this.exclude ??= new Set()).add(attempt.lease.endpoint.key);
    this.ctx.logger.debug('mesh http: retrying a retriable status', {
      cluster: this.decision?.clusterName,
      endpoint: attempt.lease.endpoint.key,
      statusCode,
    });
    attempt.abandon(new WeftError('WEFT_INTERNAL', `status ${statusCode} retried`));
    return true;
  }

  /** The first attempt that connects hands the caller an abort function for the whole request. */
  forwardConnect(): void {
    if (this.connectForwarded) return;
    this.connectForwarded = true;
    this.handler.onConnect((reason?: Error) => {
      if (!this.finished) this.callerAborted = true;
      const attempt = this.current;
      if (attempt?.abortUpstream !== undefined && !attempt.abandoned) {
        attempt.abortUpstream(reason);
      } else {
        // Between tries (back-off) or still connecting: nothing upstream to abort yet.
        if (attempt !== undefined && !attempt.abandoned) {
          attempt.abandon(reason ?? new WeftError('WEFT_CLOSED', 'request aborted'));
          attempt.report('success');
        }
        this.fail(reason ?? new WeftError('WEFT_CLOSED', 'request aborted'), 'cancelled');
      }
    });
  }

  responseStartedOnce(): void {
    if (this.responseStartForwarded) return;
    this.responseStartForwarded = true;
    this.handler.onResponseStarted?.();
  }

  responseStarted(statusCode: number): void {
    this.statusCode = statusCode;
    this.ctx.counters.responses++;
  }

  /** An attempt's error: move on after a connect failure, retry a reset, else end the request. */
  attemptFailed(attempt: Attempt, err: Error): void {
    if (this.finished) {
      attempt.report(attempt.responded ? 'success' : 'reset');
      return;
    }
    const cluster = this.decision?.clusterName ?? '';
    const key = attempt.lease.endpoint.key;
    if (!attempt.connected) {
      if (!isConnectError(err) || this.ctx.isClosed()) {
        attempt.report('success'); // never sent: not the endpoint's fault
        this.fail(err, 'error');
        return;
      }
      attempt.report('connect-failure');
      this.ctx.counters.connectFailures++;
      this.lastConnectError = err;
      if (isReplayable(this.opts.body)) {
        (this.exclude ??= new Set()).add(key);
        this.ctx.logger.debug('mesh http: connect failure, trying the next endpoint', {
          cluster,
          endpoint: key,
          error: err.message,
        });
        this.send(false);
        return;
      }
      this.fail(
        new WeftError(
          'WEFT_CONNECT_FAILURE',
          `cluster ${cluster}: endpoint ${key}: ${err.message} (streamed request body: not sent again)`,
          { cause: err },
        ),
        'connect-failure',
      );
      return;
    }
    if (attempt.responded) {
      // Headers went to the caller: like Envoy after the response started, just end the stream.
      this.fail(
        err,
        err === this.timeoutError ? 'timeout' : this.callerAborted ? 'cancelled' : 'reset',
      );
      return;
    }
    if (err === this.timeoutError) {
      attempt.report('timeout');
      this.fail(err, 'timeout');
    } else if (this.callerAborted) {
      attempt.report('success');
      this.fail(err, 'cancelled');
    } else {
      attempt.report('reset');
      (this.exclude ??= new Set()).add(key);
      if (this.retried('reset')) return;
      this.fail(
        this.final(
          new WeftError(
            'WEFT_UPSTREAM_RESET',
            `cluster ${cluster}: endpoint ${key}: ${err.message}`,
            {
              cause: err,
            },
          ),
        ),
        'reset',
      );
    }
  }

  /** The per-try timeout of `attempt` fired: retry on another endpoint, or end like a route timeout. */
  private perTryTimedOut(attempt: Attempt, perTryMs: number): void {
    if (this.finished || attempt !== this.current || attempt.abandoned) return;
    this.ctx.counters.perTryTimeouts++;
    const decision = this.decision;
    const err = new WeftError(
      'WEFT_TIMEOUT',
      `cluster ${decision?.clusterName ?? ''}: endpoint ${attempt.lease.endpoint.key}: per-try timeout after ${perTryMs}ms`,
    );
    if (!attempt.responded) {
      attempt.report('timeout');
      (this.exclude ??= new Set()).add(attempt.lease.endpoint.key);
      if (this.retried('per-try-timeout')) {
        attempt.abandon(err);
        return;
      }
    }
    this.abortWithTimeout(this.final(err));
  }

  private timedOut(timeoutMs: number): void {
    this.timer = undefined;
    if (this.finished) return;
    this.ctx.counters.timeouts++;
    const decision = this.decision;
    this.abortWithTimeout(
      new WeftError(
        'WEFT_TIMEOUT',
        `cluster ${decision?.clusterName ?? ''}: route ${decision?.routeName ?? ''}: timeout after ${timeoutMs}ms`,
      ),
    );
  }

  /** Ends the request with `err`, aborting the attempt in flight (also between tries). */
  private abortWithTimeout(err: WeftError): void {
    this.timeoutError = err;
    const attempt = this.current;
    if (attempt !== undefined && !attempt.abandoned) {
      if (attempt.abortUpstream !== undefined) {
        attempt.abortUpstream(err); // → attemptFailed(err) → fail
      } else {
        // Still connecting or queued: leave the queue, or abort as soon as it connects; answer now.
        attempt.abandon(err);
        attempt.report('timeout');
      }
    }
    this.fail(err, 'timeout');
  }

  /** Ends the request with an error to the caller (once). */
  fail(err: Error, outcome: HttpRequestOutcome): void {
    if (this.finished) return;
    this.finish(outcome, err);
    try {
      this.handler.onError(err);
    } catch (thrown) {
      this.ctx.logger.error('mesh http: the request handler threw from onError', {
        error: String(thrown),
      });
    }
  }

  /** Stops the timers, releases the retry budget, counts, and publishes the record (once). */
  finish(outcome: HttpRequestOutcome, err: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.filters?.end();
    this.retry?.end();
    this.releaseRequest(this.decision?.clusterName ?? '');
    if (err !== undefined) this.ctx.counters.failures++;
    this.breaker?.done(this.breakerTicket, breakerVerdictOfHttp(outcome), err);
    this.trace?.end(
      this.current,
      this.attempts,
      this.statusCode,
      this.responseFlag(outcome, err),
      err,
    );
    this.ctx.publish(this, outcome, err);
  }

  /** Envoy's response flags of the outcome, comma-joined: `DI,UT`, `FI`, `-`. */
  private responseFlag(outcome: HttpRequestOutcome, err: Error | undefined): string {
    const flag =
      outcome === 'fault-abort'
        ? 'FI'
        : err instanceof WeftError
          ? err.responseFlag
          : (this.filters?.localResponseFlag ?? '-');
    const faultFlag = this.filters?.faultFlag;
    if (faultFlag === undefined) return flag;
    return flag === '-' ? faultFlag : `${faultFlag},${flag}`;
  }

  private releaseRequest(cluster: string): void {
    if (!this.holdsRequest) return;
    this.holdsRequest = false;
    this.ctx.admission.endRequest(cluster);
  }

  /** The record published for this request. */
  describe(outcome: HttpRequestOutcome, err: Error | undefined): HttpRequestEvent {
    return {
      authority: this.authority,
      method: this.opts.method,
      path: this.path,
      cluster: this.decision?.clusterName,
      endpoint: this.current?.lease.endpoint.key,
      outcome,
      statusCode: this.statusCode,
      responseFlag: this.responseFlag(outcome, err),
      attempts: this.attempts,
      retries: this.retry?.retries ?? 0,
      durationMs: this.ctx.clock.now() - this.startMs,
      requestBytes: bodyLength(this.opts.body) ?? this.bodyBytesSent,
      responseBytes: this.responseBytes,
      error: err,
    };
  }
}

/** The length of a body held in memory; undefined for a stream or iterable. */
function bodyLength(body: Dispatcher.DispatchOptions['body']): number | undefined {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}
