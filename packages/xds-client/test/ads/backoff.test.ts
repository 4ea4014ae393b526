// Backoff: jittered exponential delays on an injected clock.
import assert from 'node:assert/strict';
import { Backoff, DEFAULT_BACKOFF_OPTIONS } from '../../src/backoff.js';
import { fakeClock } from '../helpers/ads-fixture.js';

describe('Backoff', () => {
  it('grows by the multiplier up to maxMs, and starts over after reset()', () => {
    const { clock } = fakeClock();
    const backoff = new Backoff({ ...DEFAULT_BACKOFF_OPTIONS, jitter: 0 }, clock);
    const delays = Array.from({ length: 10 }, () => backoff.nextDelayMs());
    assert.deepEqual(delays, [1000, 1600, 2560, 4096, 6554, 10486, 16777, 26844, 30000, 30000]);
    backoff.reset();
    assert.equal(backoff.nextDelayMs(), 1000);
  });

  it('keeps jitter within ±jitter of the un-jittered delay', () => {
    const { clock } = fakeClock();
    const low = new Backoff(DEFAULT_BACKOFF_OPTIONS, clock, () => 0);
    const high = new Backoff(DEFAULT_BACKOFF_OPTIONS, clock, () => 0.999999);
    assert.equal(low.nextDelayMs(), 800);
    assert.equal(high.nextDelayMs(), 1200);
  });

  it('runs a scheduled callback after the delay on the injected clock, and cancel() drops it', async () => {
    const { clock, fake } = fakeClock();
    const backoff = new Backoff({ ...DEFAULT_BACKOFF_OPTIONS, jitter: 0 }, clock);
    let runs = 0;
    assert.equal(
      backoff.schedule(() => runs++),
      1000,
    );
    assert.equal(backoff.pending, true);
    await fake.tickAsync(999);
    assert.equal(runs, 0);
    await fake.tickAsync(1);
    assert.equal(runs, 1);
    backoff.schedule(() => runs++);
    backoff.cancel();
    await fake.tickAsync(10_000);
    assert.equal(runs, 1);
  });
});
