// Tests of the SDK's local rate limiter on a fake clock: the lazily refilled token bucket, one
// bucket per (filter, scope, config instance), enabled / enforced fractions, x-ratelimit-* headers
// (DRAFT_VERSION_03), counters and the once-per-bucket warning.
import assert from 'node:assert/strict';
import type { LocalRateLimitUpdate, LogFields, Logger } from '@weft/xds-client';
import { LocalRateLimiter, TokenBucket } from '@weft/sdk';
import type { RateLimitVerdict } from '@weft/sdk';
import { createFakeClock } from '../helpers/fake-clock.js';
import { sequenceRandom } from '../helpers/seeded-random.js';

type Filters = Parameters<LocalRateLimiter['check']>[0];

function limit(overrides: Partial<LocalRateLimitUpdate> = {}): LocalRateLimitUpdate {
  return {
    statPrefix: 'rl',
    tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillIntervalMs: 10_000 },
    filterEnabledPerMillion: 1_000_000,
    filterEnforcedPerMillion: 1_000_000,
    httpStatus: 429,
    xRateLimitHeaders: true,
    rateLimitedAsResourceExhausted: true,
    ...overrides,
  };
}

const filter = (config: LocalRateLimitUpdate, scope = 'vhost:inventory', name = 'rl'): Filters =>
  [{ kind: 'local_ratelimit', name, config, scope }] as const;

class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields?: LogFields }[] = [];
  debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, ...(fields ? { fields } : {}) });
  }
  info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, ...(fields ? { fields } : {}) });
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) });
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, ...(fields ? { fields } : {}) });
  }
}

function limited(v: RateLimitVerdict | undefined): boolean {
  assert.ok(v !== undefined, 'expected a verdict');
  return v.limited;
}

describe('TokenBucket', () => {
  it('starts full, refuses when empty, and adds tokensPerFill per whole fill interval elapsed', () => {
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 2, fillIntervalMs: 1000 }, 0);
    assert.deepEqual(
      [0, 0, 0, 0].map(() => bucket.tryConsume(0)),
      [true, true, true, false],
    );
    assert.equal(bucket.tryConsume(999), false, 'no fill before a whole interval');
    assert.equal(bucket.tokens(1000), 2);
    assert.equal(bucket.tokens(5000), 3, 'never above maxTokens');
  });

  it('keeps the fill schedule: a fill at 1000 ms then the next at 2000 ms, not 1000 ms after a check', () => {
    const bucket = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 }, 0);
    assert.equal(bucket.tryConsume(0), true);
    assert.equal(bucket.tryConsume(1500), true);
    assert.equal(bucket.msUntilFill(1500), 500);
    assert.equal(bucket.tryConsume(1999), false);
    assert.equal(bucket.tryConsume(2000), true);
  });

  it('does not refill when the clock goes backwards', () => {
    const bucket = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 }, 5000);
    assert.equal(bucket.tryConsume(5000), true);
    assert.equal(bucket.tryConsume(1000), false);
  });
});

describe('LocalRateLimiter', () => {
  it('returns undefined for a route without rate-limit filters', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    assert.equal(limiter.check([]), undefined);
  });

  it('allows maxTokens requests, refuses the next with headers, and allows again after the fill interval', async () => {
    const { clock, fake } = createFakeClock(0);
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    const f = filter(limit());
    for (let i = 0; i < 5; i++) {
      const v = limiter.check(f);
      assert.ok(v !== undefined && !v.limited);
      assert.deepEqual(v.headers, [
        ['x-ratelimit-limit', '5'],
        ['x-ratelimit-remaining', String(4 - i)],
        ['x-ratelimit-reset', '10'],
      ]);
    }
    await fake.tickAsync(2500);
    const refused = limiter.check(f);
    assert.ok(refused?.limited === true);
    assert.equal(refused.refusal.filterName, 'rl');
    assert.equal(refused.refusal.scope, 'vhost:inventory');
    assert.deepEqual(refused.refusal.headers, [
      ['x-ratelimit-limit', '5'],
      ['x-ratelimit-remaining', '0'],
      ['x-ratelimit-reset', '8'],
    ]);
    await fake.tickAsync(7500);
    assert.equal(limited(limiter.check(f)), false);
    assert.deepEqual(limiter.stats(), {
      allowed: 6,
      limited: 1,
      shadowLimited: 0,
      scopes: [
        {
          filter: 'rl',
          scope: 'vhost:inventory',
          statPrefix: 'rl',
          allowed: 6,
          limited: 1,
          shadowLimited: 0,
          tokens: 4,
        },
      ],
    });
  });

  it('adds no headers when the config does not enable them', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    const f = filter(
      limit({
        xRateLimitHeaders: false,
        tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
      }),
    );
    assert.deepEqual(limiter.check(f), { limited: false, headers: [] });
    const v = limiter.check(f);
    assert.ok(v?.limited === true);
    assert.deepEqual(v.refusal.headers, []);
  });

  it('keeps one bucket per scope and per config instance (a new instance starts full, counters carry on)', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    const one = limit({ tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 } });
    assert.equal(limited(limiter.check(filter(one, 'route:a'))), false);
    assert.equal(limited(limiter.check(filter(one, 'route:a'))), true);
    assert.equal(limited(limiter.check(filter(one, 'route:b'))), false, 'another scope');
    assert.equal(limited(limiter.check(filter(one, 'route:a', 'other'))), false, 'another filter');
    const updated = { ...one };
    assert.equal(
      limited(limiter.check(filter(updated, 'route:a'))),
      false,
      'a new config instance',
    );
    const a = limiter.stats().scopes.find((s) => s.scope === 'route:a' && s.filter === 'rl');
    assert.equal(a?.allowed, 2);
    assert.equal(a.limited, 1);
  });

  it('skips a filter whose bucket is unset (listener level) or that filter_enabled does not select', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    const none = limit({ tokenBucket: undefined });
    const off = limit({
      filterEnabledPerMillion: 0,
      tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(limited(limiter.check(filter(none))), false);
      assert.equal(limited(limiter.check(filter(off))), false);
    }
    assert.deepEqual(limiter.stats().scopes, []);
  });

  it('counts but lets through what filter_enforced does not select (shadow mode)', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({
      clock,
      logger: new RecordingLogger(),
      random: sequenceRandom(0.9, 0.1),
    });
    const f = filter(
      limit({
        filterEnforcedPerMillion: 500_000,
        tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 },
      }),
    );
    assert.equal(limited(limiter.check(f)), false);
    assert.equal(limited(limiter.check(f)), false, 'random 0.9: not enforced');
    assert.equal(limited(limiter.check(f)), true, 'random 0.1: enforced');
    const s = limiter.stats();
    assert.deepEqual([s.allowed, s.shadowLimited, s.limited], [1, 1, 1]);
  });

  it('runs filters in chain order: the first empty bucket refuses, the headers of the tightest allowed one are kept', () => {
    const { clock } = createFakeClock();
    const limiter = new LocalRateLimiter({ clock, logger: new RecordingLogger() });
    const wide = limit({ tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillIntervalMs: 1000 } });
    const tight = limit({ tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillIntervalMs: 1000 } });
    const chain: Filters = [...filter(wide, 'listener', 'a'), ...filter(tight, 'listener', 'b')];
    const first = limiter.check(chain);
    assert.ok(first?.limited === false);
    assert.deepEqual(first.headers[1], ['x-ratelimit-remaining', '1']);
    limiter.check(chain);
    const third = limiter.check(chain);
    assert.ok(third?.limited === true);
    assert.equal(third.refusal.filterName, 'b');
  });

  it('warns once per bucket when limiting starts and logs each refusal at debug', () => {
    const { clock } = createFakeClock();
    const logger = new RecordingLogger();
    const limiter = new LocalRateLimiter({ clock, logger });
    const f = filter(
      limit({ tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 } }),
    );
    for (let i = 0; i < 4; i++) limiter.check(f);
    const warns = logger.lines.filter((l) => l.level === 'warn');
    assert.equal(warns.length, 1);
    assert.equal(warns[0]?.fields?.['scope'], 'vhost:inventory');
    assert.equal(logger.lines.filter((l) => l.level === 'debug').length, 3);
  });
});
