// @sinonjs/fake-timers adapted to Weft's Clock (its `now` is a number, ours a function).
import FakeTimers from '@sinonjs/fake-timers';
import type { Clock, TimerHandle } from '@weft/xds-client';

/** A fake clock for the code under test only; the network stays real. Advance with `fake.tickAsync(ms)`. */
export function fakeClock(): { clock: Clock; fake: ReturnType<typeof FakeTimers.createClock> } {
  const fake = FakeTimers.createClock();
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs) as unknown as TimerHandle,
    clearTimeout: (handle) => {
      fake.clearTimeout(handle as never);
    },
  };
  return { clock, fake };
}
