// The HTTP filters of a route that run before the router, in Envoy's order: the local rate limit
// (answers 429 itself, or adds x-ratelimit-* headers to the response), then fault injection (a
// delay on the mesh clock, an abort answered with a response the mesh makes). A fault is neither
// retried nor mirrored, and an immediate abort never reaches the service breaker.
// Spec: envoy/extensions/filters/http/{local_ratelimit,fault}/v3.
import type { TimerHandle } from '@weft/xds-client';
import type { RateLimitHeaders } from '../filters/local-rate-limit.js';
import { sendRateLimited } from '../filters/local-rate-limit-response.js';
import type { FaultAbort, FaultPlan } from '../filters/fault.js';
import type { RouteDecision } from '../runtime/mesh-runtime.js';
import type { CallContext } from './call-context.js';
import { faultAbortResponse } from './fault-response.js';
import type { MeshCall } from './mesh-call.js';

/** Made only for requests whose route has filters. */
export class PreRouterFilters {
  /** x-ratelimit-* headers the route's local rate limit adds to the response. */
  responseHeadersToAdd: RateLimitHeaders | undefined = undefined;
  /** Response flag of an answer the mesh gave itself (RL). */
  localResponseFlag: string | undefined = undefined;
  /** DI when a fault filter delayed the request (joined to the outcome's flag). */
  faultFlag: string | undefined = undefined;
  /** The faults drawn for the request (undefined: none), injected by `inject`. */
  private plan: FaultPlan | undefined = undefined;
  private faultTimer: TimerHandle | undefined = undefined;
  /** Ends the fault delay's count in max_active_faults. */
  private endFaultDelay: (() => void) | undefined = undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly call: MeshCall,
  ) {}

  /**
   * Runs the rate limit and draws the faults of `decision`'s filters: true when the mesh answered
   * the request itself (rate limited, or aborted without delay).
   */
  answered(decision: RouteDecision): boolean {
    const call = this.call;
    const limit = this.ctx.rateLimiter.check(decision.filters);
    if (limit !== undefined) {
      if (limit.limited) {
        this.ctx.counters.rateLimited++;
        this.localResponseFlag = 'RL';
        call.statusCode = limit.refusal.config.httpStatus;
        sendRateLimited(call.handler, limit.refusal, () => {
          call.finish('rate-limited', undefined);
        });
        return true;
      }
      if (limit.headers.length > 0) this.responseHeadersToAdd = limit.headers;
    }
    const plan = this.ctx.faults.plan(decision.filters, call.header, decision.routeName);
    if (plan !== undefined && plan.delayMs <= 0 && plan.abort !== undefined) {
      this.abort(plan.abort);
      return true;
    }
    this.plan = plan;
    return false;
  }

  /**
   * Injects the drawn faults once the request is set up to be sent: false when none were drawn.
   * Waits out the delay on the mesh clock (the route timeout still runs and bounds it; the caller
   * can abort during it), then aborts or lets the router send.
   */
  inject(): boolean {
    const plan = this.plan;
    if (plan === undefined) return false;
    this.plan = undefined;
    if (plan.delayMs <= 0) {
      if (plan.abort !== undefined) this.abort(plan.abort);
      return true;
    }
    this.faultFlag = 'DI';
    this.call.forwardConnect();
    this.endFaultDelay = this.ctx.faults.begin();
    this.faultTimer = this.ctx.clock.setTimeout(() => {
      this.faultTimer = undefined;
      this.endFaultDelay?.();
      this.endFaultDelay = undefined;
      if (this.call.ended()) return;
      if (plan.abort !== undefined) this.abort(plan.abort);
      else this.call.sendFirst();
    }, plan.delayMs);
    return true;
  }

  /** The request ended: stops a pending delay and ends its count. */
  end(): void {
    if (this.faultTimer !== undefined) this.ctx.clock.clearTimeout(this.faultTimer);
    this.faultTimer = undefined;
    this.endFaultDelay?.();
    this.endFaultDelay = undefined;
  }

  /**
   * Answers with a response the mesh makes, like Envoy's fault filter (body `fault filter
   * abort`, flag FI): the caller sees a real Response, never reaching the upstream.
   */
  private abort(abort: FaultAbort): void {
    const call = this.call;
    const response = faultAbortResponse(abort, call.header('content-type'));
    call.forwardConnect();
    if (call.ended()) return; // the caller aborted in onConnect
    const handler = call.handler;
    call.responseStartedOnce();
    call.responseStarted(response.statusCode);
    try {
      handler.onHeaders(response.statusCode, response.rawHeaders, noop, response.statusText);
      if (!call.ended() && response.body.length > 0) {
        call.responseBytes += response.body.length;
        handler.onData(response.body);
      }
    } catch (err) {
      call.fail(err instanceof Error ? err : new Error(String(err)), 'error');
      return;
    }
    if (call.ended()) return;
    call.finish('fault-abort', undefined);
    handler.onComplete([]);
  }
}

function noop(): void {
  // A mesh-made response is in memory: nothing to resume.
}
