// @sinonjs/fake-timers adapted to Weft's Clock (its `now` is a property, ours a function).
import FakeTimers from '@sinonjs/fake-timers';
import type { Clock, TimerHandle } from '@weft/xds-client';

export interface FakeClock {
  readonly fake: ReturnType<typeof FakeTimers.createClock>;
  readonly clock: Clock;
}

export function createFakeClock(start = 1_000_000): FakeClock {
  const fake = FakeTimers.createClock(start);
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
    clearTimeout: (h) => {
      fake.clearTimeout(h as never);
    },
  };
  return { fake, clock };
}
