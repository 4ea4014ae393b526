// The service-level breaker of one upstream cluster: an opossum CircuitBreaker driven by the
// outcomes of whole requests (after retries). Issue 4, "Service-level breaker with fallback";
// opossum's states: https://nodeshift.dev/opossum/ (closed → open → half-open → closed).
//
// How opossum is driven, cheaply: opossum's `fire(action)` wraps one promise-returning action. A
// mesh request is not a promise (undici handlers, grpc-js calls), so instead of wrapping the
// request the breaker records its outcome when it ends. A failure goes through `fire()` with an
// action that throws a shared error, so opossum's own failure path runs (rolling window, error
// rate above the threshold with the volume threshold met → open). A success, the happy path,
// touches nothing of opossum's: it is counted in `pendingSuccesses`, and those are added to
// opossum's current bucket in one step (as the fire and success that `fire()` counts for each)
// before opossum reads the window: before a failure is recorded and before the window rotates.
// The breaker drives the rotation itself (opossum's `rotateBucketController`, on the mesh clock),
// so every success lands in the bucket of its time. Per success that is one increment, where
// emitting opossum's `fire` + `success` events cost ~0.1 µs and pushed onto a per-bucket latency
// array (unused: percentiles are off) that the GC then carried. Admission reads `closed` (a
// getter); only when the breaker is not closed does admission call `fire()`, so that opossum
// itself decides between rejecting (open, or half-open with the probe already out) and letting
// this request through as the probe, whose promise settles when the request ends. opossum keeps
// the window, the thresholds, the open → half-open reset timer and the single probe; none is
// reimplemented.
import type { Channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { WeftError } from '@weft/xds-client';
import type { Clock, Logger, TimerHandle } from '@weft/xds-client';
import CircuitBreaker from 'opossum';
import type { ResolvedServiceBreakerOptions } from './service-breaker-options.js';

/** A breaker's state, as shown in `mesh.stats().breakers` and on the diagnostics channel. */
export type ServiceBreakerState = 'closed' | 'open' | 'half-open';

/** Admitted while closed, or as the half-open probe. */
export type BreakerTicket = 'closed' | 'probe';

/**
 * What a finished request tells the breaker: a failure of the service, a success, or nothing
 * (the caller cancelled it, the mesh closed): ignored, except that an ignored probe counts as a
 * failure so the breaker never stays half-open.
 */
export type BreakerVerdict = 'success' | 'failure' | 'ignore';

/** Counters and state of one cluster's breaker since it was created; a plain object. */
export interface ServiceBreakerStats {
  readonly state: ServiceBreakerState;
  /** Times the breaker opened (from closed, or again after a failed probe). */
  readonly opens: number;
  /** Requests failed fast (WEFT_BREAKER_OPEN) without touching the network. */
  readonly rejects: number;
  /** Failed or rejected requests a caller's fallback answered. */
  readonly fallbacks: number;
  /** Requests whose final outcome counted as a failure of the service. */
  readonly failures: number;
  /** Requests whose final outcome counted as a success. */
  readonly successes: number;
}

/** Published on BREAKER_CHANNEL and logged whenever a breaker changes state. */
export interface ServiceBreakerEvent {
  readonly nodeId: string;
  readonly clusterName: string;
  readonly state: ServiceBreakerState;
  readonly stats: ServiceBreakerStats;
}

/** What every breaker of one mesh shares. */
export interface ClusterBreakerContext {
  readonly nodeId: string;
  readonly options: ResolvedServiceBreakerOptions;
  readonly logger: Logger;
  /** Drives the rolling window's bucket rotation. */
  readonly clock: Clock;
  readonly channel: Channel;
  /** Errors a breaker counted as a failure of its cluster, or rejected with: what a fallback may answer. */
  readonly answerable: WeakMap<object, ClusterBreaker>;
}

/** The argument of `fire()` that asks opossum for the half-open probe. */
const PROBE = Symbol('weft.breaker.probe');
/** The argument of `fire()` recording a failure; thrown by the action (one instance: no stack each time). */
const FAILED = new Error('weft: request to the cluster failed');
const SUCCEEDED: Promise<true> = Promise.resolve(true);
/** The event opossum's Status rotates its window on, given a `rotateBucketController`. */
const ROTATE_EVENT = 'rotate';
const ignore = (): undefined => undefined;

/** One cluster's breaker. Single-threaded: used from the event loop only. */
export class ClusterBreaker {
  private readonly breaker: CircuitBreaker<[unknown]>;
  private opens = 0;
  private rejects = 0;
  private fallbacks = 0;
  private failures = 0;
  private successes = 0;
  /** Counted by the action when opossum runs it for a PROBE fire (admission reads it right after). */
  private probesStarted = 0;
  private settleProbe: ((failed: boolean) => void) | undefined = undefined;
  /** Successes not yet added to opossum's current bucket (see the file comment). */
  private pendingSuccesses = 0;
  /** Emits ROTATE_EVENT to opossum's Status every bucket interval. */
  private readonly rotation = new EventEmitter();
  private readonly bucketMs: number;
  private rotateTimer: TimerHandle | undefined = undefined;

  constructor(
    readonly clusterName: string,
    private readonly ctx: ClusterBreakerContext,
  ) {
    const o = ctx.options;
    this.breaker = new CircuitBreaker<[unknown]>(this.record, {
      name: clusterName,
      // The route timeout bounds every request already; opossum's would arm a timer per fire().
      timeout: false,
      errorThresholdPercentage: o.errorThresholdPercentage,
      resetTimeout: o.resetTimeoutMs,
      volumeThreshold: o.volumeThreshold,
      rollingCountTimeout: o.rollingWindowMs,
      rollingCountBuckets: o.rollingWindowBuckets,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.rotation,
    });
    // opossum's own interval would be Math.floor(window / buckets) too.
    this.bucketMs = Math.max(1, Math.floor(o.rollingWindowMs / o.rollingWindowBuckets));
    this.armRotation();
    this.breaker.on('open', () => {
      this.opens++;
      this.changed('open');
    });
    this.breaker.on('halfOpen', () => {
      this.changed('half-open');
    });
    this.breaker.on('close', () => {
      this.changed('closed');
    });
  }

  get state(): ServiceBreakerState {
    if (this.breaker.closed) return 'closed';
    return this.breaker.halfOpen ? 'half-open' : 'open';
  }

  /**
   * Admits a request to the cluster, or returns the WEFT_BREAKER_OPEN error to fail it with
   * (counted as a reject). A ticket must be handed back to `done()` exactly once.
   */
  admit(): BreakerTicket | WeftError {
    if (this.breaker.closed) return 'closed';
    const probes = this.probesStarted;
    this.breaker.fire(PROBE).catch(ignore);
    if (this.probesStarted !== probes) return 'probe';
    this.rejects++;
    const rejection = new WeftError(
      'WEFT_BREAKER_OPEN',
      `cluster ${this.clusterName}: service breaker ${this.state} (failing fast; next probe after ${this.ctx.options.resetTimeoutMs}ms)`,
    );
    this.ctx.answerable.set(rejection, this);
    return rejection;
  }

  /**
   * The request admitted with `ticket` ended with `verdict`; `err`, the error it failed with if
   * any, becomes answerable by a fallback when the verdict is a failure.
   */
  done(ticket: BreakerTicket, verdict: BreakerVerdict, err?: Error): void {
    if (verdict === 'success') this.successes++;
    else if (verdict === 'failure') {
      this.failures++;
      if (err !== undefined) this.ctx.answerable.set(err, this);
    }
    if (ticket === 'probe') {
      const settle = this.settleProbe;
      this.settleProbe = undefined;
      settle?.(verdict !== 'success');
      return;
    }
    // A request admitted before the breaker opened says nothing opossum could use now (it would
    // count as a reject), so it is left out of the window.
    if (verdict === 'ignore' || !this.breaker.closed) return;
    if (verdict === 'success') {
      this.pendingSuccesses++; // see the file comment
      return;
    }
    this.flushSuccesses();
    this.breaker.fire(FAILED).catch(ignore);
  }

  /** A caller's fallback answered a request this breaker failed or rejected. */
  fellBack(): void {
    this.fallbacks++;
  }

  stats(): ServiceBreakerStats {
    return {
      state: this.state,
      opens: this.opens,
      rejects: this.rejects,
      fallbacks: this.fallbacks,
      failures: this.failures,
      successes: this.successes,
    };
  }

  /** Stops opossum's timers (rolling window, reset timeout). The breaker then rejects nothing. */
  close(): void {
    const settle = this.settleProbe;
    this.settleProbe = undefined;
    settle?.(true);
    if (this.rotateTimer !== undefined) this.ctx.clock.clearTimeout(this.rotateTimer);
    this.rotateTimer = undefined;
    this.breaker.shutdown();
  }

  /**
   * Adds the pending successes to opossum's current bucket as what `fire()` counts for a success
   * (a fire and a success). `status.window` is a copy of the window array holding the live
   * bucket objects; the latency list is left alone (percentiles are off).
   */
  private flushSuccesses(): void {
    const n = this.pendingSuccesses;
    if (n === 0) return;
    this.pendingSuccesses = 0;
    const current = this.breaker.status.window[0];
    if (current === undefined) return;
    current.fires += n;
    current.successes += n;
  }

  private armRotation(): void {
    this.rotateTimer = this.ctx.clock.setTimeout(this.rotate, this.bucketMs);
  }

  /** Every bucket interval: the successes of the ending bucket go in, then opossum rotates. */
  private readonly rotate = (): void => {
    this.flushSuccesses();
    this.rotation.emit(ROTATE_EVENT);
    this.armRotation();
  };

  /** opossum's action: settles a probe at the request's end, or records an outcome at once. */
  private readonly record = (arg: unknown): Promise<unknown> => {
    if (arg === PROBE) {
      this.probesStarted++;
      return new Promise((resolve, reject) => {
        this.settleProbe = (failed) => {
          if (failed) reject(FAILED);
          else resolve(true);
        };
      });
    }
    if (arg === FAILED) throw FAILED;
    return SUCCEEDED;
  };

  private changed(state: ServiceBreakerState): void {
    const { ctx } = this;
    const fields = { cluster: this.clusterName, ...this.stats(), state };
    if (state === 'open') {
      ctx.logger.warn('mesh breaker: opened, failing fast', {
        ...fields,
        resetTimeoutMs: ctx.options.resetTimeoutMs,
      });
    } else if (state === 'half-open') {
      ctx.logger.info('mesh breaker: half-open, letting one probe through', fields);
    } else {
      ctx.logger.info('mesh breaker: closed', fields);
    }
    if (ctx.channel.hasSubscribers) {
      const event: ServiceBreakerEvent = {
        nodeId: ctx.nodeId,
        clusterName: this.clusterName,
        state,
        stats: { ...this.stats(), state },
      };
      ctx.channel.publish(event);
    }
  }
}
