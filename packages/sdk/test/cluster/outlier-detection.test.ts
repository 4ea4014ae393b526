import { strict as assert } from 'node:assert';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { OutlierDetectionUpdate } from '@weft/xds-client';
import { silentLogger } from '@weft/xds-client';
import type { RequestHashSource } from '../../src/cluster/cluster-balancer.js';
import { ClusterBalancer } from '../../src/cluster/cluster-balancer.js';
import { EndpointHealthStore } from '../../src/cluster/endpoint-health-store.js';
import type { OutlierEvent } from '../../src/cluster/outlier-detector.js';
import { OUTLIER_CHANNEL } from '../../src/cluster/outlier-detector.js';
import { OutlierDetectors } from '../../src/cluster/outlier-detectors.js';
import type { AttemptDetail, AttemptOutcome } from '../../src/runtime/mesh-runtime.js';
import { UNUSED_LEASE } from '../../src/runtime/mesh-runtime.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import type { FakeClock } from '../helpers/fake-clock.js';
import { seededRandom } from '../helpers/seeded-random.js';
import type { LocalitySpec } from '../helpers/xds-builders.js';
import { cla, cluster } from '../helpers/xds-builders.js';

const noHash: RequestHashSource = { requestHash: () => assert.fail('hash asked') };

/** Envoy's defaults, with enforcement of every detector on and no max-ejection limit. */
function od(overrides: Partial<OutlierDetectionUpdate> = {}): OutlierDetectionUpdate {
  return Object.freeze({
    consecutive5xx: 5,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionTimeJitterMs: 0,
    maxEjectionPercent: 100,
    enforcingConsecutive5xx: 100,
    enforcingSuccessRate: 0,
    successRateMinimumHosts: 5,
    successRateRequestVolume: 100,
    successRateStdevFactor: 1900,
    consecutiveGatewayFailure: 5,
    enforcingConsecutiveGatewayFailure: 100,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailure: 5,
    enforcingConsecutiveLocalOriginFailure: 100,
    enforcingLocalOriginSuccessRate: 100,
    failurePercentageThreshold: 85,
    enforcingFailurePercentage: 0,
    enforcingFailurePercentageLocalOrigin: 0,
    failurePercentageMinimumHosts: 5,
    failurePercentageRequestVolume: 50,
    alwaysEjectOneHost: false,
    ...overrides,
  });
}

const key = (ip: string): string => `${ip}:8080`;
const ips = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);

interface Harness {
  readonly fc: FakeClock;
  readonly b: ClusterBalancer;
  /** Ends one attempt on `ip` with `outcome`. */
  send(ip: string, outcome: AttemptOutcome, detail?: AttemptDetail, times?: number): void;
  ejected(): string[];
  endpoint(ip: string): Record<string, unknown>;
  close(): void;
}

function harness(config: OutlierDetectionUpdate, localities: LocalitySpec[]): Harness {
  const fc = createFakeClock();
  const store = new EndpointHealthStore(fc.clock);
  const outliers = new OutlierDetectors({
    clock: fc.clock,
    logger: silentLogger,
    random: seededRandom(7),
    onChange: () => {
      store.generation++;
    },
  });
  const c = { ...cluster('c'), outlierDetection: config };
  const b = ClusterBalancer.create(
    { name: 'c', cluster: c, endpoints: cla('c', localities), error: undefined },
    {
      store,
      outliers,
      now: () => fc.clock.now(),
      random: seededRandom(3),
      localLocality: { region: 'r1', zone: 'z1', subZone: '' },
    },
  );
  const all = b.endpoints.map((e) => e.key);
  const endpoints = (): Record<string, unknown>[] =>
    (
      b.describe()['priorities'] as { localities: { endpoints: Record<string, unknown>[] }[] }[]
    ).flatMap((p) => p.localities.flatMap((l) => l.endpoints));
  return {
    fc,
    b,
    send(ip, outcome, detail, times = 1) {
      for (let i = 0; i < times; i++) {
        const lease = b.pick(noHash, new Set(all.filter((k) => k !== key(ip))));
        assert.ok(lease, `${ip} is pickable`);
        assert.equal(lease.endpoint.key, key(ip));
        lease.done(outcome, detail);
      }
    },
    ejected: () =>
      endpoints()
        .filter((e) => e['ejected'] === true)
        .map((e) => String(e['key'])),
    endpoint: (ip) => endpoints().find((e) => e['key'] === key(ip)) ?? {},
    close: () => {
      outliers.close();
    },
  };
}

/** Keys picked over `n` picks. */
function picked(b: ClusterBalancer, n: number): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const lease = b.pick(noHash);
    if (lease === undefined) continue;
    seen.add(lease.endpoint.key);
    lease.done('success');
  }
  return seen;
}

const e500: AttemptDetail = { httpStatus: 500 };
const e503: AttemptDetail = { httpStatus: 503 };

describe('outlier detection', () => {
  it('ejects after consecutive5xx errors, and the ejected host is skipped', () => {
    const h = harness(od({ consecutive5xx: 3 }), [{ endpoints: ips('10.0.0', 3) }]);
    h.send('10.0.0.1', 'server-error', e500, 2);
    assert.deepEqual(h.ejected(), []);
    h.send('10.0.0.1', 'server-error', e500);
    assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
    assert.equal(picked(h.b, 300).has(key('10.0.0.1')), false);
    assert.equal(h.endpoint('10.0.0.1')['ejectionCount'], 1);
    assert.equal(h.endpoint('10.0.0.1')['ejectedUntilMs'], h.fc.clock.now() + 30_000);
    h.close();
  });

  it('a success resets the consecutive counters', () => {
    const h = harness(od({ consecutive5xx: 3 }), [{ endpoints: ips('10.0.0', 3) }]);
    for (let i = 0; i < 5; i++) {
      h.send('10.0.0.1', 'server-error', e500, 2);
      h.send('10.0.0.1', 'success');
    }
    assert.deepEqual(h.ejected(), []);
    h.close();
  });

  it('a lease handed back unused neither counts nor resets the counters', () => {
    const h = harness(od({ consecutive5xx: 2 }), [{ endpoints: ips('10.0.0', 3) }]);
    h.send('10.0.0.1', 'server-error', e500);
    h.send('10.0.0.1', 'success', UNUSED_LEASE, 3);
    h.send('10.0.0.1', 'server-error', e500);
    assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
    h.close();
  });

  it('counts resets and timeouts as 5xx when errors are not split', () => {
    const h = harness(od({ consecutive5xx: 3, enforcingConsecutiveGatewayFailure: 0 }), [
      { endpoints: ips('10.0.0', 3) },
    ]);
    h.send('10.0.0.1', 'reset');
    h.send('10.0.0.1', 'timeout');
    h.send('10.0.0.1', 'server-error', e500);
    assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
    h.close();
  });

  it('ejects on consecutive gateway errors (502/503/504) before consecutive5xx', () => {
    const h = harness(od({ consecutive5xx: 10, consecutiveGatewayFailure: 2 }), [
      { endpoints: ips('10.0.0', 3) },
    ]);
    // A 500 breaks a run of gateway errors.
    h.send('10.0.0.1', 'server-error', e503);
    h.send('10.0.0.1', 'server-error', e500);
    h.send('10.0.0.1', 'server-error', e503);
    assert.deepEqual(h.ejected(), []);
    h.send('10.0.0.1', 'server-error', { httpStatus: 504 });
    assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
    h.close();
  });

  it('gateway errors are not enforced when enforcing_consecutive_gateway_failure is 0', () => {
    const h = harness(
      od({
        consecutive5xx: 10,
        consecutiveGatewayFailure: 2,
        enforcingConsecutiveGatewayFailure: 0,
      }),
      [{ endpoints: ips('10.0.0', 3) }],
    );
    h.send('10.0.0.1', 'server-error', e503, 5);
    assert.deepEqual(h.ejected(), []);
    h.close();
  });

  it('split local-origin errors: connect failures, resets and timeouts count apart from 5xx', () => {
    const h = harness(
      od({
        consecutive5xx: 2,
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 3,
      }),
      [{ endpoints: ips('10.0.0', 3) }],
    );
    h.send('10.0.0.2', 'reset');
    h.send('10.0.0.2', 'timeout');
    // A 5xx answer means the connection worked: resets the local-origin count, not a local failure.
    h.send('10.0.0.2', 'server-error', e500);
    h.send('10.0.0.2', 'reset');
    h.send('10.0.0.2', 'timeout');
    assert.deepEqual(h.ejected(), []);
    h.send('10.0.0.2', 'reset');
    assert.deepEqual(h.ejected(), [key('10.0.0.2')]);
    h.close();
  });

  it('ejection time grows with each ejection and the host is un-ejected after it', () => {
    const h = harness(od({ consecutive5xx: 1, intervalMs: 1_000, baseEjectionTimeMs: 10_000 }), [
      { endpoints: ips('10.0.0', 3) },
    ]);
    const events: OutlierEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as OutlierEvent);
    };
    subscribe(OUTLIER_CHANNEL, onEvent);
    try {
      h.send('10.0.0.1', 'server-error', e500);
      h.fc.fake.tick(9_000);
      assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
      h.fc.fake.tick(1_000); // 10 s: un-ejected at this interval tick
      assert.deepEqual(h.ejected(), []);
      assert.ok(picked(h.b, 100).has(key('10.0.0.1')));
      h.send('10.0.0.1', 'server-error', e500); // second ejection: 2 × base
      h.fc.fake.tick(19_000);
      assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), []);
      assert.equal(h.endpoint('10.0.0.1')['ejectionCount'], 2);
      assert.deepEqual(
        events.map((e) => [e.action, e.endpoint, e.reason ?? null, e.ejectionCount]),
        [
          ['eject', key('10.0.0.1'), 'consecutive-5xx', 1],
          ['uneject', key('10.0.0.1'), null, 1],
          ['eject', key('10.0.0.1'), 'consecutive-5xx', 2],
          ['uneject', key('10.0.0.1'), null, 2],
        ],
      );
      const outlier = h.b.describe()['outlierDetection'] as Record<string, number>;
      assert.equal(outlier['ejectionsTotal'], 2);
      assert.equal(outlier['unejectionsTotal'], 2);
    } finally {
      unsubscribe(OUTLIER_CHANNEL, onEvent);
      h.close();
    }
  });

  it('ejection time is capped by max_ejection_time', () => {
    const h = harness(
      od({
        consecutive5xx: 1,
        intervalMs: 1_000,
        baseEjectionTimeMs: 10_000,
        maxEjectionTimeMs: 15_000,
      }),
      [{ endpoints: ips('10.0.0', 3) }],
    );
    h.send('10.0.0.1', 'server-error', e500);
    h.fc.fake.tick(10_000);
    h.send('10.0.0.1', 'server-error', e500);
    assert.equal(h.endpoint('10.0.0.1')['ejectedUntilMs'], h.fc.clock.now() + 15_000);
    h.close();
  });

  it('max_ejection_percent caps ejections, but one host may always go', () => {
    const h = harness(od({ consecutive5xx: 1, maxEjectionPercent: 10 }), [
      { endpoints: ips('10.0.0', 3) },
    ]);
    h.send('10.0.0.1', 'server-error', e500); // 0 of 3 ejected: below 10%, so it goes
    h.send('10.0.0.2', 'server-error', e500); // 1 of 3 = 33% ≥ 10%: stays
    assert.deepEqual(h.ejected(), [key('10.0.0.1')]);
    h.close();
    const h2 = harness(od({ consecutive5xx: 1, maxEjectionPercent: 50 }), [
      { endpoints: ips('10.0.0', 4) },
    ]);
    for (const ip of ips('10.0.0', 4)) h2.send(ip, 'server-error', e500);
    assert.deepEqual(h2.ejected(), [key('10.0.0.1'), key('10.0.0.2')]);
    h2.close();
  });

  it('a fully ejected priority spills to the next priority', () => {
    const h = harness(od({ consecutive5xx: 1 }), [
      { priority: 0, endpoints: ips('10.0.0', 2) },
      { priority: 1, endpoints: ips('10.0.1', 2) },
    ]);
    assert.deepEqual(h.b.priorityLoads(), [1, 0]);
    h.send('10.0.0.1', 'server-error', e500);
    h.send('10.0.0.2', 'server-error', e500);
    assert.deepEqual(h.b.priorityLoads(), [0, 1]);
    assert.deepEqual([...picked(h.b, 100)].sort(), [key('10.0.1.1'), key('10.0.1.2')]);
    assert.match(
      h.b.unavailableError(new Set(h.b.endpoints.map((e) => e.key))).message,
      /2 ejected as outliers/,
    );
    h.close();
  });

  describe('success rate', () => {
    const config = od({
      consecutive5xx: 1000,
      consecutiveGatewayFailure: 1000,
      intervalMs: 1_000,
      enforcingSuccessRate: 100,
      successRateMinimumHosts: 5,
      successRateRequestVolume: 100,
      successRateStdevFactor: 1900,
    });

    it('ejects a host whose success rate is below mean − 1.9·stdev', () => {
      const h = harness(config, [{ endpoints: ips('10.0.0', 6) }]);
      for (const ip of ips('10.0.0', 5)) h.send(ip, 'success', undefined, 100);
      h.send('10.0.0.6', 'success', undefined, 50);
      h.send('10.0.0.6', 'server-error', e500, 50);
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), [key('10.0.0.6')]);
      h.close();
    });

    it('does nothing below the request volume or the minimum number of hosts', () => {
      const h = harness(config, [{ endpoints: ips('10.0.0', 6) }]);
      for (const ip of ips('10.0.0', 5)) h.send(ip, 'success', undefined, 99); // volume 99 < 100
      h.send('10.0.0.6', 'server-error', e500, 100);
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), []);
      h.close();
      const h2 = harness(config, [{ endpoints: ips('10.0.0', 4) }]); // 4 hosts < 5
      for (const ip of ips('10.0.0', 3)) h2.send(ip, 'success', undefined, 100);
      h2.send('10.0.0.4', 'server-error', e500, 100);
      h2.fc.fake.tick(1_000);
      assert.deepEqual(h2.ejected(), []);
      h2.close();
    });
  });

  describe('failure percentage', () => {
    const config = od({
      consecutive5xx: 1000,
      consecutiveGatewayFailure: 1000,
      intervalMs: 1_000,
      enforcingFailurePercentage: 100,
      failurePercentageThreshold: 50,
      failurePercentageMinimumHosts: 3,
      failurePercentageRequestVolume: 20,
    });

    it('ejects hosts whose failure percentage is above the threshold', () => {
      const h = harness(config, [{ endpoints: ips('10.0.0', 3) }]);
      h.send('10.0.0.1', 'success', undefined, 20);
      h.send('10.0.0.2', 'success', undefined, 20);
      h.send('10.0.0.3', 'success', undefined, 5);
      h.send('10.0.0.3', 'server-error', e500, 15); // 75% > 50%
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), [key('10.0.0.3')]);
      h.close();
    });

    it('needs the request volume on the minimum number of hosts, counted per interval', () => {
      const h = harness(config, [{ endpoints: ips('10.0.0', 3) }]);
      h.send('10.0.0.1', 'success', undefined, 20);
      h.send('10.0.0.2', 'success', undefined, 19); // below volume: only 2 hosts qualify
      h.send('10.0.0.3', 'server-error', e500, 20);
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), []);
      // Counts restart each interval: the next interval alone has no volume.
      h.send('10.0.0.2', 'success', undefined, 1);
      h.fc.fake.tick(1_000);
      assert.deepEqual(h.ejected(), []);
      h.close();
    });
  });
});
