// One request through the mesh: route once, pick an endpoint, send on its pool; a connect failure
// moves to the next endpoint within the same request; the route timeout aborts the upstream.
// DESIGN.md "The request path", steps 1-6.
import type { Duplex } from 'node:stream';
import { WeftError } from '@weft/xds-client';
import type { TimerHandle } from '@weft/xds-client';
import type { Dispatcher } from 'undici';
import type {
  AttemptOutcome,
  EndpointLease,
  RouteDecision,
  RouteInput,
} from '../runtime/mesh-runtime.js';
import type { CallContext } from './call-context.js';
import type { HttpRequestEvent, HttpRequestOutcome } from './http-request-event.js';
import type { LegacyHandler } from './legacy-handler.js';
import { indexHeaders, withHostHeader } from './request-headers.js';
import type { UpstreamTarget } from './upstream-target.js';

/**
 * Error codes of failures to establish a connection: the request never left this process, so it
 * may go to another endpoint. UND_ERR_CLOSED/DESTROYED: the endpoint's pool was closed because
 * the endpoint left the config between pick and send.
 */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

function isConnectError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (CONNECT_ERROR_CODES.has(code) || code.startsWith('ERR_TLS_'));
}

/** Bodies that can be sent again as they are: nothing was consumed by a failed attempt. */
function isReplayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer
  );
}

/** `servername` is read by undici's Request (TLS SNI, connection reuse) but missing from its types. */
type MutableDispatchOptions = {
  -readonly [K in keyof Dispatcher.DispatchOptions]: Dispatcher.DispatchOptions[K];
} & { servername?: unknown };

/** One send of the request to one endpoint; the pool drives it through undici's callbacks. */
class Attempt implements LegacyHandler {
  connected = false;
  responded = false;
  /** The request gave up on this attempt (timeout before connect); ignore what comes later. */
  abandoned = false;
  abortUpstream: ((err?: Error) => void) | undefined = undefined;
  private reported = false;

  constructor(
    private readonly call: MeshCall,
    readonly lease: EndpointLease,
  ) {}

  /** Tells the LB/health layer how the attempt went; at most once. */
  report(outcome: AttemptOutcome): void {
    if (this.reported) return;
    this.reported = true;
    this.lease.done(outcome);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.abandoned) {
      abort(this.call.timeoutError ?? new WeftError('WEFT_CLOSED', 'request abandoned'));
      return;
    }
    this.abortUpstream = abort;
    this.connected = true;
    this.call.forwardConnect(abort);
  }

  onResponseStarted(): void {
    if (!this.abandoned) this.call.handler.onResponseStarted?.();
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    if (this.abandoned) return false;
    if (statusCode >= 200 && !this.responded) {
      this.responded = true;
      this.call.responseStarted(statusCode);
      this.report(statusCode >= 500 ? 'server-error' : 'success');
    }
    return this.call.handler.onHeaders(statusCode, rawHeaders, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    if (this.abandoned) return false;
    return this.call.handler.onData(chunk);
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    if (this.abandoned) return;
    this.call.finish(
      this.call.statusCode !== undefined && this.call.statusCode >= 500
        ? 'server-error'
        : 'success',
      undefined,
    );
    this.call.handler.onComplete(trailers);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    if (this.abandoned) return;
    this.responded = true;
    this.call.responseStarted(statusCode);
    this.report('success');
    this.call.finish('success', undefined);
    this.call.handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    if (!this.abandoned) this.call.handler.onBodySent?.(chunkSize, totalBytesSent);
  }

  onRequestSent(): void {
    if (!this.abandoned) this.call.handler.onRequestSent?.();
  }

  onError(err: Error): void {
    if (this.abandoned) return;
    this.call.attemptFailed(this, err);
  }
}

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

  statusCode: number | undefined = undefined;
  timeoutError: WeftError | undefined = undefined;
  private headerIndex: ReadonlyMap<string, string> | undefined = undefined;
  private headerLookup: ((lowerCaseName: string) => string | undefined) | undefined = undefined;
  private decision: RouteDecision | undefined = undefined;
  private upstream: MutableDispatchOptions | undefined = undefined;
  private exclude: Set<string> | undefined = undefined;
  private current: Attempt | undefined = undefined;
  private attempts = 0;
  private lastConnectError: Error | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  private callerAborted = false;
  private finished = false;
  private readonly startMs: number;

  constructor(
    private readonly ctx: CallContext,
    private readonly opts: Dispatcher.DispatchOptions,
    readonly handler: LegacyHandler,
    private readonly target: UpstreamTarget,
  ) {
    this.authority = target.authority;
    this.path = opts.path;
    this.startMs = ctx.clock.now();
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
    this.ctx.follow(this.authority);
    const headers = withHostHeader(this.opts.headers, this.authority, this.target.hostOnlyHeaders);
    this.upstream = { ...this.opts, headers };
    // The Host header is ours (not the caller's): hand undici the servername it would derive from it.
    const serverName = this.target.serverName;
    if (serverName !== undefined && headers !== this.opts.headers && !(this.opts as MutableDispatchOptions).servername) {
      this.upstream.servername = serverName;
    }
    const timeoutMs = result.timeoutMs ?? this.ctx.defaultRouteTimeoutMs;
    if (timeoutMs > 0) {
      this.timer = this.ctx.clock.setTimeout(() => {
        this.timedOut(timeoutMs);
      }, timeoutMs);
    }
    this.send();
  }

  /** Picks the next endpoint (skipping those that failed to connect) and sends on its pool. */
  private send(): void {
    const decision = this.decision;
    const upstream = this.upstream;
    if (decision === undefined || upstream === undefined || this.finished) return;
    if (this.ctx.isClosed()) {
      this.fail(new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed'), 'error');
      return;
    }
    let lease: EndpointLease | undefined;
    try {
      lease = decision.pick(this.exclude);
    } catch (err) {
      this.fail(WeftError.from(err), 'error');
      return;
    }
    if (lease === undefined) {
      const last = this.lastConnectError;
      if (last === undefined) {
        this.fail(decision.unavailableError(this.exclude), 'no-healthy-upstream');
      } else {
        this.fail(
          new WeftError(
            'WEFT_CONNECT_FAILURE',
            `cluster ${decision.clusterName}: every endpoint failed to connect (${this.attempts} tried): ${last.message}`,
            { cause: last },
          ),
          'connect-failure',
        );
      }
      return;
    }
    const entry = this.ctx.pools.get(lease.endpoint, decision.cluster?.connectTimeoutMs);
    if (entry === undefined) {
      lease.done('success'); // not the endpoint's fault: the mesh closed under us
      this.fail(new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed'), 'error');
      return;
    }
    if (this.attempts > 0) this.ctx.counters.retriesToNextEndpoint++;
    this.attempts++;
    const attempt = new Attempt(this, lease);
    this.current = attempt;
    upstream.origin = entry.origin;
    entry.pool.dispatch(upstream, attempt);
  }

  /** The first attempt that connects hands the caller its abort function (only one ever does). */
  forwardConnect(abort: (err?: Error) => void): void {
    this.handler.onConnect((reason?: Error) => {
      if (!this.finished) this.callerAborted = true;
      abort(reason);
    });
  }

  responseStarted(statusCode: number): void {
    this.statusCode = statusCode;
    this.ctx.counters.responses++;
  }

  /** An attempt's error: move on after a connect failure, else end the request. */
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
        this.send();
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
      this.fail(
        new WeftError(
          'WEFT_UPSTREAM_RESET',
          `cluster ${cluster}: endpoint ${key}: ${err.message}`,
          {
            cause: err,
          },
        ),
        'reset',
      );
    }
  }

  private timedOut(timeoutMs: number): void {
    this.timer = undefined;
    if (this.finished) return;
    this.ctx.counters.timeouts++;
    const decision = this.decision;
    const err = new WeftError(
      'WEFT_TIMEOUT',
      `cluster ${decision?.clusterName ?? ''}: route ${decision?.routeName ?? ''}: timeout after ${timeoutMs}ms`,
    );
    this.timeoutError = err;
    const attempt = this.current;
    if (attempt?.abortUpstream !== undefined) {
      attempt.abortUpstream(err); // → attemptFailed(err) → fail
    } else if (attempt !== undefined) {
      // Still connecting or queued in the pool: abort as soon as it connects, answer now.
      attempt.abandoned = true;
      attempt.report('timeout');
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

  /** Stops the timer, counts, and publishes the request record (once). */
  finish(outcome: HttpRequestOutcome, err: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) {
      this.ctx.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (err !== undefined) this.ctx.counters.failures++;
    this.ctx.publish(this, outcome, err);
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
      responseFlag: err instanceof WeftError ? err.responseFlag : '-',
      attempts: this.attempts,
      durationMs: this.ctx.clock.now() - this.startMs,
      error: err,
    };
  }
}
