// Coalesces bursts of config-change signals into one reload: a quiet period plus a cap, as
// istiod debounces pushes (100 ms quiet, 10 s max). XDS-NOTES "Timers worth knowing".
import type { Clock, TimerHandle } from '@weft/xds-client';

/** Options of {@link Debouncer}. */
export interface DebouncerOptions {
  readonly clock: Clock;
  /** Quiet period after the last signal, ms. */
  readonly quietMs: number;
  /** Longest delay after the first signal of a burst, ms. */
  readonly maxMs: number;
  /** Called once per burst. MUST not throw. */
  readonly fire: () => void;
}

/** Calls `fire` after `quietMs` without a signal, or `maxMs` after a burst's first signal. */
export class Debouncer {
  readonly #options: DebouncerOptions;
  #timer: TimerHandle | undefined;
  #burstStartMs = 0;
  #closed = false;

  /** Creates an idle debouncer. */
  constructor(options: DebouncerOptions) {
    this.#options = options;
  }

  /** Whether a burst is waiting to fire. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Records one change signal. */
  signal(): void {
    if (this.#closed) return;
    const { clock, quietMs, maxMs } = this.#options;
    const now = clock.now();
    if (this.#timer === undefined) this.#burstStartMs = now;
    else clock.clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(quietMs, this.#burstStartMs + maxMs - now));
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#options.fire();
    }, delay);
    this.#timer.unref?.();
  }

  /** Cancels a pending burst; later signals are ignored. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
