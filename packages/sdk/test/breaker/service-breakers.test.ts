import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { silentLogger, WeftError } from '@weft/xds-client';
import type { Clock, ConfigIssue } from '@weft/xds-client';
import type { ClusterBreaker, ServiceBreakerEvent } from '../../src/breaker/cluster-breaker.js';
import { resolveServiceBreakerOptions } from '../../src/breaker/service-breaker-options.js';
import type { ServiceBreakerOptions } from '../../src/breaker/service-breaker-options.js';
import { BREAKER_CHANNEL, ServiceBreakers } from '../../src/breaker/service-breakers.js';
import { createFakeClock } from '../helpers/fake-clock.js';

function breakers(over: ServiceBreakerOptions = {}, clock?: Clock): ServiceBreakers {
  const issues: ConfigIssue[] = [];
  const options = resolveServiceBreakerOptions(
    { volumeThreshold: 4, resetTimeoutMs: 50, ...over },
    'serviceBreaker',
    issues,
  );
  assert.deepEqual(issues, []);
  assert.ok(options !== false);
  return new ServiceBreakers({
    nodeId: 'n',
    options,
    logger: silentLogger,
    ...(clock === undefined ? {} : { clock }),
  });
}

function fail(b: ClusterBreaker, n: number): void {
  end(b, n, 'failure');
}

function end(b: ClusterBreaker, n: number, verdict: 'success' | 'failure'): void {
  for (let i = 0; i < n; i++) {
    const ticket = b.admit();
    assert.ok(!(ticket instanceof WeftError));
    b.done(ticket, verdict);
  }
}

/** Waits (real time: opossum's reset timer) until the breaker announces `state`. */
function nextState(cluster: string, state: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: unknown): void => {
      const e = m as ServiceBreakerEvent;
      if (e.clusterName !== cluster || e.state !== state) return;
      unsubscribe(BREAKER_CHANNEL, on);
      resolve();
    };
    subscribe(BREAKER_CHANNEL, on);
  });
}

describe('ServiceBreakers', function () {
  let all: ServiceBreakers;
  afterEach(() => {
    all.close();
  });

  it('creates one breaker per cluster on first use, closed', function () {
    all = breakers();
    const a = all.of('a');
    assert.equal(all.of('a'), a);
    assert.notEqual(all.of('b'), a);
    assert.deepEqual(Object.keys(all.stats()), ['a', 'b']);
    assert.equal(all.stats()['a']?.state, 'closed');
  });

  it('stays closed below the volume threshold and opens when the error rate passes it', function () {
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    fail(b, 3);
    assert.equal(b.state, 'closed');
    fail(b, 1);
    assert.equal(b.state, 'open');
    const rejected = b.admit();
    assert.ok(rejected instanceof WeftError);
    assert.equal(rejected.code, 'WEFT_BREAKER_OPEN');
    assert.equal(rejected.responseFlag, 'UO');
    assert.deepEqual(b.stats(), {
      state: 'open',
      opens: 1,
      rejects: 1,
      fallbacks: 0,
      failures: 4,
      successes: 0,
    });
  });

  it('does not open at exactly the threshold percentage (opossum: strictly above)', async function () {
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    for (const verdict of ['success', 'failure', 'success', 'failure'] as const) {
      const ticket = b.admit();
      assert.ok(!(ticket instanceof WeftError));
      b.done(ticket, verdict);
    }
    await Promise.resolve();
    assert.equal(b.state, 'closed');
  });

  it('ignores cancelled requests, and leaves out requests admitted before it opened', function () {
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    const early = b.admit();
    assert.ok(!(early instanceof WeftError));
    const cancelled = b.admit();
    assert.ok(!(cancelled instanceof WeftError));
    b.done(cancelled, 'ignore');
    fail(b, 4);
    assert.equal(b.state, 'open');
    b.done(early, 'success');
    // Not recorded as a reject, and the breaker stays open.
    assert.equal(b.state, 'open');
    assert.equal(b.stats().rejects, 0);
  });

  it('lets exactly one probe through when half-open; a good probe closes it', async function () {
    this.timeout(10_000);
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    const halfOpen = nextState('c', 'half-open');
    fail(b, 4);
    await halfOpen;
    const probe = b.admit();
    assert.equal(probe, 'probe');
    const other = b.admit();
    assert.ok(other instanceof WeftError);
    const closed = nextState('c', 'closed');
    b.done('probe', 'success');
    await closed;
    assert.equal(b.state, 'closed');
    assert.equal(b.admit(), 'closed');
  });

  it('re-opens when the probe fails, or ends without a verdict (cancelled)', async function () {
    this.timeout(10_000);
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    let halfOpen = nextState('c', 'half-open');
    fail(b, 4);
    await halfOpen;
    halfOpen = nextState('c', 'half-open');
    let reopened = nextState('c', 'open');
    assert.equal(b.admit(), 'probe');
    b.done('probe', 'failure');
    await reopened;
    await halfOpen;
    reopened = nextState('c', 'open');
    assert.equal(b.admit(), 'probe');
    b.done('probe', 'ignore');
    await reopened;
    assert.equal(b.stats().opens, 3);
  });

  it('marks the errors a fallback may answer', function () {
    all = breakers();
    const b = all.of('c');
    assert.ok(b !== undefined);
    const slow = new WeftError('WEFT_TIMEOUT', 'slow');
    const cancelled = new WeftError('WEFT_CLOSED', 'aborted');
    for (const [err, verdict] of [
      [slow, 'failure'],
      [cancelled, 'ignore'],
    ] as const) {
      const ticket = b.admit();
      assert.ok(!(ticket instanceof WeftError));
      b.done(ticket, verdict, err);
    }
    assert.equal(all.answerableBy(slow), b);
    assert.equal(all.answerableBy(cancelled), undefined);
    assert.equal(all.answerableBy(undefined), undefined);
    fail(b, 3); // with the first failure: 4 of 4, open
    const rejection = b.admit();
    assert.ok(rejection instanceof WeftError);
    assert.equal(all.answerableBy(rejection), b);
  });

  it('keeps successes in the rolling window while their bucket is in it, on the mesh clock', function () {
    const { fake, clock } = createFakeClock();
    all = breakers({ volumeThreshold: 4, rollingWindowMs: 1000, rollingWindowBuckets: 4 }, clock);
    const b = all.of('c');
    assert.ok(b !== undefined);
    end(b, 4, 'success');
    fake.tick(750); // three rotations: the successes' bucket is still the window's last
    fail(b, 4);
    assert.equal(b.state, 'closed'); // 4 failures of 8: 50 %, not above the threshold
    assert.equal(b.stats().successes, 4);
  });

  it('lets successes age out of the rolling window with their bucket', function () {
    const { fake, clock } = createFakeClock();
    all = breakers({ volumeThreshold: 4, rollingWindowMs: 1000, rollingWindowBuckets: 4 }, clock);
    const b = all.of('c');
    assert.ok(b !== undefined);
    end(b, 4, 'success');
    fake.tick(1000); // four rotations: that bucket left the window
    fail(b, 4);
    assert.equal(b.state, 'open'); // 4 failures of 4
  });

  it('stops every breaker on close; no breaker is handed out afterwards', function () {
    all = breakers();
    all.of('c');
    all.close();
    assert.equal(all.of('c'), undefined);
    assert.equal(all.of('d'), undefined);
  });
});

describe('resolveServiceBreakerOptions', function () {
  const table: {
    name: string;
    input: unknown;
    paths?: string[];
    expected?: Partial<Record<string, number>> | false;
  }[] = [
    {
      name: 'defaults',
      input: undefined,
      expected: {
        errorThresholdPercentage: 50,
        resetTimeoutMs: 10_000,
        volumeThreshold: 10,
        rollingWindowMs: 10_000,
        rollingWindowBuckets: 10,
      },
    },
    { name: 'off', input: false, expected: false },
    {
      name: 'overrides',
      input: { errorThresholdPercentage: 25, resetTimeoutMs: 300, volumeThreshold: 0 },
      expected: { errorThresholdPercentage: 25, resetTimeoutMs: 300, volumeThreshold: 0 },
    },
    { name: 'not an object', input: true, paths: ['serviceBreaker'] },
    { name: 'unknown field', input: { timeout: 1 }, paths: ['serviceBreaker.timeout'] },
    {
      name: 'bad numbers',
      input: {
        errorThresholdPercentage: 101,
        resetTimeoutMs: 0,
        volumeThreshold: -1,
        rollingWindowMs: 'x',
      },
      paths: [
        'serviceBreaker.errorThresholdPercentage',
        'serviceBreaker.resetTimeoutMs',
        'serviceBreaker.rollingWindowMs',
        'serviceBreaker.volumeThreshold',
      ],
    },
    {
      name: 'window not divisible into buckets',
      input: { rollingWindowMs: 1000, rollingWindowBuckets: 7 },
      paths: ['serviceBreaker.rollingWindowBuckets'],
    },
  ];
  for (const row of table) {
    it(row.name, function () {
      const issues: ConfigIssue[] = [];
      const resolved = resolveServiceBreakerOptions(row.input, 'serviceBreaker', issues);
      assert.deepEqual(issues.map((i) => i.path).sort(), row.paths ?? []);
      if (row.expected === false) assert.equal(resolved, false);
      else if (row.expected !== undefined) {
        assert.ok(resolved !== false);
        for (const [k, v] of Object.entries(row.expected)) {
          assert.equal(resolved[k as keyof typeof resolved], v, k);
        }
      }
    });
  }
});
