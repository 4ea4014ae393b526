// The retry state of one mesh HTTP request: the route's retry policy (when the body can be sent
// twice), retries taken, the per-try and back-off timers, and the cluster's retry budget
// (circuit breaker max_retries / retry_budget). DESIGN.md "The request path", step 6; Envoy's
// router retry semantics (config.route.v3.RetryPolicy).
import { WeftError } from '@weft/xds-client';
import type { RetryPolicyUpdate, TimerHandle } from '@weft/xds-client';
import type { Dispatcher } from 'undici';
import type { RouteDecision } from '../runtime/mesh-runtime.js';
import { retriesFailure, retryBackoffMs } from '../routing/retry-conditions.js';
import type { RetriableFailure } from '../routing/retry-conditions.js';
import type { CallContext } from './call-context.js';
import { isReplayable } from './upstream-failures.js';

/** Made only for requests whose route retries or whose cluster has a retry budget. */
export class RetryState {
  /** Retries scheduled so far. */
  retries = 0;
  /** A retriable failure met a policy with no retries left: the final error is URX. */
  private exhausted = false;
  /** Holds one of the cluster's concurrent-retry slots (from the first retry to the end). */
  private holdsRetry = false;
  private countsForBudget: boolean;
  private backoffTimer: TimerHandle | undefined = undefined;
  private perTryTimer: TimerHandle | undefined = undefined;

  private constructor(
    private readonly ctx: CallContext,
    private readonly decision: RouteDecision,
    /** Undefined when the route has none or the body cannot be sent twice. */
    readonly policy: RetryPolicyUpdate | undefined,
    countsForBudget: boolean,
  ) {
    this.countsForBudget = countsForBudget;
  }

  /**
   * The retry state of a request routed by `decision` with `body`; undefined when the route has
   * no retries to offer and the cluster no retry budget to count the request in.
   */
  static of(
    ctx: CallContext,
    decision: RouteDecision,
    body: Dispatcher.DispatchOptions['body'],
  ): RetryState | undefined {
    let policy = decision.retryPolicy;
    if (policy !== undefined && policy.numRetries > 0) {
      // A streamed body is consumed by the first try: never sent twice (its outcome stands).
      if (!isReplayable(body)) {
        ctx.counters.retriesSkippedStreamedBody++;
        policy = undefined;
      }
    } else policy = undefined;
    const countsForBudget = decision.cluster?.circuitBreakers.retryBudget !== undefined;
    if (policy === undefined && !countsForBudget) return undefined;
    if (countsForBudget) ctx.retryBudgets.requestStarted(decision.clusterName);
    return new RetryState(ctx, decision, policy, countsForBudget);
  }

  /**
   * Whether the policy retries `failure` (or a status, when `failure` is undefined and the caller
   * checked it), retries are left and the cluster admits one more concurrent retry. Counts an
   * exhausted policy and a refused budget.
   */
  admits(failure: RetriableFailure | undefined): boolean {
    const policy = this.policy;
    if (policy === undefined) return false;
    if (failure !== undefined && !retriesFailure(policy, failure)) return false;
    if (this.retries >= policy.numRetries) {
      if (!this.exhausted) this.ctx.counters.retriesExhausted++;
      this.exhausted = true;
      return false;
    }
    if (!this.holdsRetry) {
      const decision = this.decision;
      if (
        !this.ctx.retryBudgets.tryAcquire(decision.clusterName, decision.cluster?.circuitBreakers)
      ) {
        this.ctx.counters.retryBudgetExceeded++;
        this.ctx.logger.debug('mesh http: retry budget of the cluster exceeded, not retrying', {
          cluster: decision.clusterName,
        });
        return false;
      }
      this.holdsRetry = true;
    }
    return true;
  }

  /** Counts a retry admitted by `admits` and calls `sendAgain` after the jittered back-off. */
  schedule(sendAgain: () => void): void {
    const policy = this.policy;
    if (policy === undefined) return;
    const delayMs = retryBackoffMs(policy, this.retries, this.ctx.random);
    this.retries++;
    this.ctx.counters.retries++;
    this.clearPerTry();
    this.backoffTimer = this.ctx.clock.setTimeout(() => {
      this.backoffTimer = undefined;
      sendAgain();
    }, delayMs);
  }

  /** Arms the policy's per-try timeout (if any) for the try being sent. */
  armPerTry(onTimeout: (perTryMs: number) => void): void {
    const perTryMs = this.policy?.perTryTimeoutMs;
    if (perTryMs === undefined || perTryMs <= 0) return;
    this.clearPerTry();
    this.perTryTimer = this.ctx.clock.setTimeout(() => {
      this.perTryTimer = undefined;
      onTimeout(perTryMs);
    }, perTryMs);
  }

  /** The request's error after a retriable failure: URX wrapping it when retries ran out. */
  final(err: WeftError, attempts: number): WeftError {
    if (!this.exhausted || this.retries === 0) return err;
    return new WeftError(
      'WEFT_RETRIES_EXHAUSTED',
      `cluster ${this.decision.clusterName}: retries exhausted (${attempts} attempts): ${err.message}`,
      { cause: err },
    );
  }

  /** The request ended: stops the timers and gives back the retry slot and budget count (once). */
  end(): void {
    const clock = this.ctx.clock;
    this.clearPerTry();
    if (this.backoffTimer !== undefined) clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const cluster = this.decision.clusterName;
    if (this.holdsRetry) this.ctx.retryBudgets.release(cluster);
    if (this.countsForBudget) this.ctx.retryBudgets.requestEnded(cluster);
    this.holdsRetry = this.countsForBudget = false;
  }

  private clearPerTry(): void {
    if (this.perTryTimer === undefined) return;
    this.ctx.clock.clearTimeout(this.perTryTimer);
    this.perTryTimer = undefined;
  }
}
