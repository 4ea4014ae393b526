import { strict as assert } from 'node:assert';
import type { ClusterLoadAssignmentUpdate, LbPolicyUpdate } from '@weft/xds-client';
import { WeftError } from '@weft/xds-client';
import type { RequestHashSource } from '../../src/cluster/cluster-balancer.js';
import { ClusterBalancer } from '../../src/cluster/cluster-balancer.js';
import { EndpointHealthStore } from '../../src/cluster/endpoint-health-store.js';
import { RoutingError } from '../../src/routing/routing-error.js';
import { xxhash64 } from '../../src/routing/xxhash64.js';
import type { EndpointLease } from '../../src/runtime/mesh-runtime.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import type { FakeClock } from '../helpers/fake-clock.js';
import { seededRandom } from '../helpers/seeded-random.js';
import type { LocalitySpec } from '../helpers/xds-builders.js';
import { cla, cluster } from '../helpers/xds-builders.js';

const noHash: RequestHashSource = { requestHash: () => assert.fail('hash asked') };
const hashOf = (h: bigint): RequestHashSource => ({ requestHash: () => h });
const ips = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);

interface Harness {
  readonly fc: FakeClock;
  readonly store: EndpointHealthStore;
  build(localities: LocalitySpec[], lb?: LbPolicyUpdate, factor?: number): ClusterBalancer;
}

function harness(seed = 1): Harness {
  const fc = createFakeClock();
  const store = new EndpointHealthStore(fc.clock);
  const random = seededRandom(seed);
  return {
    fc,
    store,
    build(localities, lb = { kind: 'round_robin' }, factor = 140) {
      const endpoints: ClusterLoadAssignmentUpdate = cla('c', localities, factor);
      return ClusterBalancer.create(
        { name: 'c', cluster: cluster('c', lb), endpoints, error: undefined },
        {
          store,
          now: () => fc.clock.now(),
          random,
          localLocality: { region: 'r1', zone: 'z1', subZone: '' },
        },
      );
    },
  };
}

/** Picks `n` times (each lease ended with success) and counts by a key of the endpoint. */
function tally(
  b: ClusterBalancer,
  n: number,
  by: (l: EndpointLease) => string,
  hs: RequestHashSource = noHash,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const lease = b.pick(hs);
    assert.ok(lease);
    const k = by(lease);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    lease.done('success');
  }
  return counts;
}

const share = (m: Map<string, number>, k: string, n: number): number => (m.get(k) ?? 0) / n;

describe('ClusterBalancer', () => {
  describe('priorities', () => {
    it('sends all traffic to a healthy P0', () => {
      const h = harness();
      const b = h.build([
        { priority: 0, endpoints: ips('10.0.0', 2) },
        { priority: 1, endpoints: ips('10.0.1', 2) },
      ]);
      const counts = tally(b, 1000, (l) => String(l.endpoint.priority));
      assert.equal(counts.get('1'), undefined);
    });

    it('spills about 30% to P1 when P0 is 50% healthy (overprovisioning 1.4)', () => {
      const h = harness(7);
      const p0 = ips('10.0.0', 10).map((address, i) => ({
        address,
        health: i < 5 ? ('HEALTHY' as const) : ('UNHEALTHY' as const),
      }));
      const b = h.build([
        { priority: 0, endpoints: p0 },
        { priority: 1, endpoints: ips('10.0.1', 10) },
      ]);
      const n = 100_000;
      const counts = tally(b, n, (l) => String(l.endpoint.priority));
      assert.ok(Math.abs(share(counts, '0', n) - 0.7) < 0.01, `P0 share ${share(counts, '0', n)}`);
      assert.deepEqual(
        b.priorityLoads().map((x) => Math.round(x * 100)),
        [70, 30],
      );
    });

    it('honours a custom overprovisioning factor', () => {
      const h = harness();
      const p0 = ips('10.0.0', 10).map((address, i) => ({
        address,
        health: i < 5 ? ('HEALTHY' as const) : ('DRAINING' as const),
      }));
      const b = h.build(
        [
          { priority: 0, endpoints: p0 },
          { priority: 1, endpoints: ips('10.0.1', 10) },
        ],
        undefined,
        100,
      );
      assert.deepEqual(
        b.priorityLoads().map((x) => Math.round(x * 100)),
        [50, 50],
      );
    });

    it('moves a request to P1 within the same request once every P0 endpoint is excluded', () => {
      const h = harness();
      const b = h.build([
        { priority: 0, endpoints: ['10.0.0.1', '10.0.0.2'] },
        { priority: 1, endpoints: ['10.0.1.1'] },
      ]);
      const tried = new Set<string>();
      // The transport's loop: pick, connect fails, exclude, pick again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const lease = b.pick(noHash, tried);
        assert.ok(lease);
        if (lease.endpoint.priority === 1) {
          lease.done('success');
          assert.equal(lease.endpoint.key, '10.0.1.1:8080');
          return;
        }
        tried.add(lease.endpoint.key);
        lease.done('connect-failure');
      }
      assert.fail('never reached P1');
    });

    it('sends every later request to P1 while all P0 endpoints are unreachable', () => {
      const h = harness();
      const b = h.build([
        { priority: 0, endpoints: ['10.0.0.1', '10.0.0.2'] },
        { priority: 1, endpoints: ['10.0.1.1'] },
      ]);
      for (const key of ['10.0.0.1:8080', '10.0.0.2:8080'])
        h.store.record(h.store.stateOf(key), 'connect-failure');
      const counts = tally(b, 200, (l) => String(l.endpoint.priority));
      assert.equal(counts.get('1'), 200);
    });

    it('returns undefined when every endpoint is excluded', () => {
      const h = harness();
      const b = h.build([{ endpoints: ['10.0.0.1'] }]);
      assert.equal(b.pick(noHash, new Set(['10.0.0.1:8080'])), undefined);
    });
  });

  describe('localities', () => {
    it('splits by load_balancing_weight within a priority', () => {
      const h = harness(3);
      const b = h.build([
        { zone: 'a', weight: 3, endpoints: ips('10.0.0', 2) },
        { zone: 'b', weight: 1, endpoints: ips('10.0.1', 2) },
      ]);
      const n = 100_000;
      const counts = tally(b, n, (l) => l.endpoint.locality.zone);
      assert.ok(Math.abs(share(counts, 'a', n) - 0.75) < 0.01, `a share ${share(counts, 'a', n)}`);
    });

    it('scales a locality weight by its availability', () => {
      const h = harness(5);
      const half = ips('10.0.0', 4).map((address, i) => ({
        address,
        health: i < 2 ? ('HEALTHY' as const) : ('TIMEOUT' as const),
      }));
      const b = h.build([
        { zone: 'a', weight: 1, endpoints: half },
        { zone: 'b', weight: 1, endpoints: ips('10.0.1', 4) },
      ]);
      const n = 100_000;
      const counts = tally(b, n, (l) => l.endpoint.locality.zone);
      // a: 1 × min(1, 1.4 × 2/4) = 0.7; b: 1 → a gets 0.7 / 1.7.
      assert.ok(
        Math.abs(share(counts, 'a', n) - 0.7 / 1.7) < 0.01,
        `a share ${share(counts, 'a', n)}`,
      );
    });
  });

  describe('policies', () => {
    it('round_robin visits each endpoint of a locality in turn', () => {
      const b = harness().build([{ endpoints: ips('10.0.0', 3) }]);
      const counts = tally(b, 300, (l) => l.endpoint.address);
      assert.deepEqual([...counts.values()], [100, 100, 100]);
    });

    it('random spreads picks evenly', () => {
      const b = harness(11).build([{ endpoints: ips('10.0.0', 4) }], { kind: 'random' });
      const n = 40_000;
      const counts = tally(b, n, (l) => l.endpoint.address);
      for (const c of counts.values()) assert.ok(Math.abs(c / n - 0.25) < 0.01);
    });

    it('least_request prefers the endpoint with fewer requests in flight', () => {
      const b = harness(13).build([{ endpoints: ['10.0.0.1', '10.0.0.2'] }], {
        kind: 'least_request',
        choiceCount: 2,
      });
      // Load 10.0.0.1 with five open requests.
      const held: EndpointLease[] = [];
      while (held.length < 5) {
        const l = b.pick(noHash);
        assert.ok(l);
        if (l.endpoint.address === '10.0.0.1') held.push(l);
        else l.done('success');
      }
      const n = 10_000;
      const counts = tally(b, n, (l) => l.endpoint.address);
      // P2C picks the loaded one only when both draws land on it: 1/4.
      assert.ok(
        Math.abs(share(counts, '10.0.0.1', n) - 0.25) < 0.02,
        `loaded share ${share(counts, '10.0.0.1', n)}`,
      );
      for (const l of held) l.done('success');
    });

    it('least_request with a large choice count almost never picks the loaded endpoint', () => {
      const b = harness(17).build([{ endpoints: ['10.0.0.1', '10.0.0.2'] }], {
        kind: 'least_request',
        choiceCount: 10,
      });
      let held: EndpointLease | undefined;
      while (held === undefined) {
        const l = b.pick(noHash);
        assert.ok(l);
        if (l.endpoint.address === '10.0.0.1') held = l;
        else l.done('success');
      }
      const counts = tally(b, 1000, (l) => l.endpoint.address);
      assert.ok((counts.get('10.0.0.1') ?? 0) < 10);
      held.done('success');
    });
  });

  describe('ring_hash', () => {
    const ringHash: LbPolicyUpdate = { kind: 'ring_hash', minRingSize: 1024, maxRingSize: 4096 };

    it('sends the same hash to the same endpoint while the set is stable', () => {
      const b = harness().build([{ endpoints: ips('10.0.0', 5) }], ringHash);
      for (const user of ['alice', 'bob', 'carol']) {
        const counts = tally(b, 100, (l) => l.endpoint.key, hashOf(xxhash64(user)));
        assert.equal(counts.size, 1, `${user} reached ${[...counts.keys()].join(', ')}`);
      }
    });

    it('spreads different hashes over every endpoint', () => {
      const b = harness().build([{ endpoints: ips('10.0.0', 5) }], ringHash);
      const seen = new Set<string>();
      for (let i = 0; i < 500; i++) {
        const l = b.pick(hashOf(xxhash64(`user-${i}`)));
        assert.ok(l);
        seen.add(l.endpoint.key);
        l.done('success');
      }
      assert.equal(seen.size, 5);
    });

    it('moves every hash of a removed endpoint and under a fifth of the others (A42 sizing)', () => {
      const h = harness();
      const before = h.build([{ endpoints: ips('10.0.0', 5) }], ringHash);
      const after = h.build([{ endpoints: ips('10.0.0', 4) }], ringHash); // 10.0.0.5 removed
      // Every hash of the removed endpoint moves; of the others only the few that the remaining
      // endpoints' extra ring entries (A42 sizes entries by normalised weight) now cover.
      let onRemoved = 0;
      let movedOthers = 0;
      const n = 4000;
      for (let i = 0; i < n; i++) {
        const hs = hashOf(xxhash64(`user-${i}`));
        const a = before.pick(hs)!;
        const b = after.pick(hs)!;
        a.done('success');
        b.done('success');
        if (a.endpoint.key === '10.0.0.5:8080') onRemoved++;
        else if (a.endpoint.key !== b.endpoint.key) movedOthers++;
      }
      assert.ok(Math.abs(onRemoved / n - 0.2) < 0.05, `removed endpoint held ${onRemoved / n}`);
      // 5 → 4 endpoints: each survivor goes from 205 to 256 ring entries, taking ~15% of arcs.
      assert.ok(
        movedOthers / (n - onRemoved) < 0.2,
        `moved ${movedOthers} of ${n - onRemoved} others`,
      );
    });

    it('walks past an unreachable endpoint and comes back after it recovers', async () => {
      const h = harness();
      const b = h.build([{ endpoints: ips('10.0.0', 3) }], ringHash);
      const hs = hashOf(xxhash64('alice'));
      const first = b.pick(hs)!;
      first.done('connect-failure');
      const second = b.pick(hs)!;
      assert.notEqual(second.endpoint.key, first.endpoint.key);
      second.done('success');
      await h.fc.fake.tickAsync(1000);
      const third = b.pick(hs)!;
      assert.equal(third.endpoint.key, first.endpoint.key);
      third.done('success');
    });

    it('builds a ring no larger than the cap', () => {
      const b = harness().build([{ endpoints: ips('10.0.0', 3) }], {
        kind: 'ring_hash',
        minRingSize: 100_000,
        maxRingSize: 8_388_608,
      });
      const desc = b.describe();
      assert.equal(desc.lbPolicy, 'ring_hash');
    });
  });

  describe('health', () => {
    it('never picks UNHEALTHY, DRAINING or TIMEOUT endpoints and picks UNKNOWN and DEGRADED', () => {
      const b = harness().build([
        {
          endpoints: [
            { address: '10.0.0.1', health: 'UNHEALTHY' },
            { address: '10.0.0.2', health: 'DRAINING' },
            { address: '10.0.0.3', health: 'TIMEOUT' },
            { address: '10.0.0.4', health: 'UNKNOWN' },
            { address: '10.0.0.5', health: 'DEGRADED' },
          ],
        },
      ]);
      const counts = tally(b, 100, (l) => l.endpoint.address);
      assert.deepEqual([...counts.keys()].sort(), ['10.0.0.4', '10.0.0.5']);
    });

    it('skips a connect-failed endpoint until the backoff passes, doubling to 30 s', async () => {
      const h = harness();
      const b = h.build([{ endpoints: ['10.0.0.1', '10.0.0.2'] }]);
      // Picks `n` times; 10.0.0.1 keeps failing to connect, 10.0.0.2 succeeds.
      const picksOfFailing = (n: number): number => {
        let hits = 0;
        for (let i = 0; i < n; i++) {
          const l = b.pick(noHash)!;
          if (l.endpoint.address === '10.0.0.1') hits++;
          l.done(l.endpoint.address === '10.0.0.1' ? 'connect-failure' : 'success');
        }
        return hits;
      };
      h.store.record(h.store.stateOf('10.0.0.1:8080'), 'connect-failure');
      for (const ms of [1000, 2000, 4000, 8000, 16000, 30000, 30000]) {
        assert.equal(picksOfFailing(10), 0);
        await h.fc.fake.tickAsync(ms - 1);
        assert.equal(picksOfFailing(10), 0, `picked before ${ms} ms passed`);
        await h.fc.fake.tickAsync(1);
        assert.equal(picksOfFailing(2), 1, `not picked after ${ms} ms`); // round robin: one of two
      }
    });

    it('clears the backoff when an attempt on the endpoint succeeds', () => {
      const h = harness();
      const b = h.build([{ endpoints: ['10.0.0.1', '10.0.0.2'] }]);
      const l1 = b.pick(noHash)!;
      const l2 = b.pick(noHash)!; // two attempts in flight on different endpoints
      const other = l1.endpoint.key === '10.0.0.1:8080' ? l1 : l2;
      h.store.record(h.store.stateOf('10.0.0.1:8080'), 'connect-failure');
      other.done('success'); // the attempt begun before the failure connected after all
      const counts = tally(b, 10, (l) => l.endpoint.address);
      assert.equal(counts.get('10.0.0.1'), 5);
      (other === l1 ? l2 : l1).done('success');
    });

    it('counts requests in flight and ignores a second done()', () => {
      const h = harness();
      const b = h.build([{ endpoints: ['10.0.0.1'] }]);
      const l = b.pick(noHash)!;
      assert.equal(h.store.stateOf('10.0.0.1:8080').inFlight, 1);
      l.done('success');
      l.done('connect-failure');
      assert.equal(h.store.stateOf('10.0.0.1:8080').inFlight, 0);
      assert.equal(h.store.stateOf('10.0.0.1:8080').unreachableUntil, 0);
    });

    it('keys IPv6 endpoints in brackets', () => {
      const b = harness().build([{ endpoints: ['fd00::1'] }]);
      assert.equal(b.pick(noHash)?.endpoint.key, '[fd00::1]:8080');
    });
  });

  describe('unavailableError', () => {
    it('names the resource error of a cluster whose EDS is missing', () => {
      const fc = createFakeClock();
      const cause = new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'eds c: does not exist');
      const b = ClusterBalancer.create(
        { name: 'c', cluster: cluster('c'), endpoints: undefined, error: cause },
        {
          store: new EndpointHealthStore(fc.clock),
          now: () => fc.clock.now(),
          random: Math.random,
          localLocality: { region: '', zone: '', subZone: '' },
        },
      );
      assert.equal(b.pick(noHash), undefined);
      const err = b.unavailableError();
      assert.ok(err instanceof RoutingError);
      assert.equal(err.code, 'WEFT_NO_HEALTHY_UPSTREAM');
      assert.equal(err.layer, 'cluster');
      assert.equal(err.cause, cause);
    });

    it('reports a cluster without endpoints and one with every endpoint excluded', () => {
      const h = harness();
      const empty = h.build([]);
      assert.equal(empty.pick(noHash), undefined);
      assert.equal(empty.unavailableError().code, 'WEFT_NO_HEALTHY_UPSTREAM');
      const one = h.build([{ endpoints: ['10.0.0.1'] }]);
      const err = one.unavailableError(new Set(['10.0.0.1:8080']));
      assert.equal(err.code, 'WEFT_NO_HEALTHY_UPSTREAM');
      assert.equal(err.layer, 'cluster');
    });
  });

  it('describes priorities, loads, localities and endpoint health as JSON', () => {
    const h = harness();
    const b = h.build([
      { region: 'r1', zone: 'z1', endpoints: ['10.0.0.1'] },
      { priority: 1, region: 'r2', endpoints: ['10.0.1.1'] },
    ]);
    h.store.record(h.store.stateOf('10.0.0.1:8080'), 'connect-failure');
    const d = JSON.parse(JSON.stringify(b.describe()));
    assert.equal(d.priorities.length, 2);
    assert.equal(d.priorities[0].localities[0].local, true);
    assert.equal(d.priorities[0].localities[0].endpoints[0].reachable, false);
    assert.equal(d.priorities[0].load, 0);
    assert.equal(d.priorities[1].load, 1);
  });
});
