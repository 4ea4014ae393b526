// The only place in src that may touch the wall clock and timers: everything that waits takes
// a `Clock`, so tests inject @sinonjs/fake-timers instead. (STYLE rule 26.)

/** An opaque timer handle; `unref()` keeps a pending timer from holding the process open. */
export interface TimerHandle {
  unref?(): unknown;
}

/** Time and timers, injected. `now()` is milliseconds since the epoch. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. Every timer it creates is unref()'d: Weft never keeps a process alive. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle: TimerHandle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});

/**
 * Milliseconds since the epoch with sub-millisecond resolution, monotonic within the process (the
 * performance timer from its time origin): span timestamps and durations.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
