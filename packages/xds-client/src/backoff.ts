// Jittered exponential backoff for reconnecting xDS streams (gRPC connection-backoff.md; gRFC A57).
import type { Clock, TimerHandle } from './clock.js';

/** Backoff tuning. All durations in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 1000. */
  readonly initialMs?: number;
  /** Upper bound of the un-jittered delay, in ms. Default 30000. */
  readonly maxMs?: number;
  /** Growth factor between consecutive retries. Default 1.6. */
  readonly multiplier?: number;
  /** Relative jitter: each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  readonly jitter?: number;
}

/** Validated backoff options with no optional fields. */
export interface ResolvedBackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  readonly jitter: number;
}

/** The defaults of gRPC's connection backoff, except a 30 s cap (xDS servers restart quickly). */
export const DEFAULT_BACKOFF_OPTIONS: ResolvedBackoffOptions = Object.freeze({
  initialMs: 1000,
  maxMs: 30_000,
  multiplier: 1.6,
  jitter: 0.2,
});

/**
 * One retry schedule. `schedule(fn)` runs `fn` after the next delay; each call grows the delay
 * until `reset()`. At most one callback is pending; scheduling again replaces it.
 */
export class Backoff {
  private nextBaseMs: number;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly options: ResolvedBackoffOptions,
    private readonly clock: Clock,
    /** Returns a number in [0, 1); injected so tests can pin the jitter. */
    private readonly random: () => number = Math.random,
  ) {
    this.nextBaseMs = options.initialMs;
  }

  /** The delay the next `schedule()` will use, and advances the schedule. */
  nextDelayMs(): number {
    const base = this.nextBaseMs;
    this.nextBaseMs = Math.min(base * this.options.multiplier, this.options.maxMs);
    const factor = 1 + this.options.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.round(base * factor));
  }

  /** Runs `callback` after the next delay; returns that delay in ms. */
  schedule(callback: () => void): number {
    this.cancel();
    const delayMs = this.nextDelayMs();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      callback();
    }, delayMs);
    return delayMs;
  }

  /** Whether a callback is waiting. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** Drops the pending callback, if any. */
  cancel(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Starts the schedule over from `initialMs` (after a stream that got a response). */
  reset(): void {
    this.nextBaseMs = this.options.initialMs;
  }
}
