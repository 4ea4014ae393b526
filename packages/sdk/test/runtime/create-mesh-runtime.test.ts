import { strict as assert } from 'node:assert';
import { ConfigError, WeftError } from '@weft/xds-client';
import { RoutingError } from '../../src/routing/routing-error.js';
import { xxhash64 } from '../../src/routing/xxhash64.js';
import { createMeshRuntime } from '../../src/runtime/create-mesh-runtime.js';
import type { MeshRuntime, RouteDecision, RouteInput } from '../../src/runtime/mesh-runtime.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import type { FakeClock } from '../helpers/fake-clock.js';
import { FakeWatchSource, flush } from '../helpers/fake-watch-source.js';
import { seededRandom } from '../helpers/seeded-random.js';
import type { LocalitySpec, RouteSpec } from '../helpers/xds-builders.js';
import {
  TYPES,
  cla,
  cluster,
  headersOf,
  listener,
  route,
  routeConfig,
  vhost,
} from '../helpers/xds-builders.js';

interface Run {
  readonly src: FakeWatchSource;
  readonly fc: FakeClock;
  readonly mesh: MeshRuntime;
}

function start(seed = 1): Run {
  const src = new FakeWatchSource();
  const fc = createFakeClock();
  const mesh = createMeshRuntime({
    watchSource: src,
    localLocality: { region: 'us-east-1', zone: 'us-east-1a' },
    clock: fc.clock,
    random: seededRandom(seed),
  });
  return { src, fc, mesh };
}

const input = (
  path = '/',
  headers: Record<string, string> = {},
  authority = 'inventory',
): RouteInput => ({
  authority,
  path,
  header: headersOf(headers),
});

function serve(
  src: FakeWatchSource,
  routes: RouteSpec[],
  clusters: Record<string, LocalitySpec[]>,
): void {
  src.set(TYPES.lds, 'inventory', listener('inventory', 'inventory:8080'));
  src.set(
    TYPES.rds,
    'inventory:8080',
    routeConfig('inventory:8080', [
      vhost('inventory', ['inventory', 'inventory:8080'], routes.map(route)),
    ]),
  );
  for (const [name, localities] of Object.entries(clusters)) {
    src.set(TYPES.cds, name, cluster(name));
    src.set(TYPES.eds, name, cla(name, localities));
  }
}

function show(d: ReturnType<MeshRuntime['route']>): string {
  if (typeof d === 'string') return d;
  return d instanceof WeftError ? `${d.code}: ${d.message}` : `a decision for ${d.clusterName}`;
}

function decide(mesh: MeshRuntime, i: RouteInput = input()): RouteDecision {
  const d = mesh.route(i);
  assert.ok(
    typeof d === 'object' && !(d instanceof WeftError),
    `expected a decision, got ${show(d)}`,
  );
  return d;
}

function routingError(mesh: MeshRuntime, i: RouteInput): RoutingError {
  const d = mesh.route(i);
  assert.ok(d instanceof RoutingError, `expected a RoutingError, got ${show(d)}`);
  return d;
}

describe('createMeshRuntime', () => {
  it('rejects invalid options with one ConfigError listing every issue', () => {
    assert.throws(
      () =>
        createMeshRuntime({
          watchSource: {} as never,
          localLocality: { zone: 3 as never },
          resourceWaitMs: -1,
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.code === 'WEFT_INVALID_CONFIG' &&
        err.issues.map((i) => i.path).join() === 'watchSource,localLocality.zone,resourceWaitMs',
    );
  });

  describe('route', () => {
    it('follows mirror clusters too, and pickMirror picks an endpoint of one', async () => {
      const r = start();
      const ready = r.mesh.whenReady('inventory', 5000);
      serve(r.src, [{ clusters: 'v1', mirrors: ['shadow'] }], {
        v1: [{ endpoints: ['10.0.0.1'] }],
      });
      await flush();
      assert.equal(r.mesh.route(input()), 'pending'); // the mirror cluster is not there yet
      r.src.set(TYPES.cds, 'shadow', cluster('shadow'));
      r.src.set(TYPES.eds, 'shadow', cla('shadow', [{ endpoints: ['10.0.0.9'] }]));
      await ready;
      const d = decide(r.mesh);
      assert.equal(d.clusterName, 'v1');
      const picked = d.pickMirror('shadow');
      assert.ok(picked !== undefined);
      assert.equal(picked.lease.endpoint.key, '10.0.0.9:8080');
      assert.equal(picked.cluster?.name, 'shadow');
      picked.lease.done('success');
      assert.equal(d.pickMirror('unknown'), undefined);
      assert.deepEqual(
        r.mesh
          .endpointsOf('inventory')
          .map((e) => e.key)
          .sort(),
        ['10.0.0.1:8080', '10.0.0.9:8080'],
      );
    });

    it("answers 'pending' until whenReady has a complete configuration, then decides", async () => {
      const r = start();
      assert.equal(r.mesh.route(input()), 'pending');
      const ready = r.mesh.whenReady('inventory', 5000);
      assert.equal(r.mesh.route(input()), 'pending');
      serve(r.src, [{ clusters: 'v1', timeoutMs: 2000 }], { v1: [{ endpoints: ['10.0.0.1'] }] });
      await ready;
      const d = decide(r.mesh);
      assert.equal(d.listenerName, 'inventory');
      assert.equal(d.routeConfigName, 'inventory:8080');
      assert.equal(d.virtualHostName, 'inventory');
      assert.equal(d.routeName, '#0');
      assert.equal(d.clusterName, 'v1');
      assert.equal(d.timeoutMs, 2000);
      assert.equal(d.cluster?.name, 'v1');
      const lease = d.pick();
      assert.equal(lease?.endpoint.key, '10.0.0.1:8080');
      lease.done('success');
    });

    it('treats xds:///name as the listener name', async () => {
      const r = start();
      serve(r.src, [{ clusters: 'v1' }], { v1: [{ endpoints: ['10.0.0.1'] }] });
      await r.mesh.whenReady('xds:///inventory', 5000);
      assert.equal(decide(r.mesh, input('/', {}, 'xds:///inventory')).clusterName, 'v1');
    });

    it('refuses an authority no virtual host serves at the virtual-host layer', async () => {
      const r = start();
      r.src.set(TYPES.lds, 'other', listener('other', 'inventory:8080'));
      serve(r.src, [{ clusters: 'v1' }], { v1: [{ endpoints: ['10.0.0.1'] }] });
      await r.mesh.whenReady('other', 5000);
      const err = routingError(r.mesh, input('/', {}, 'other'));
      assert.equal(err.code, 'WEFT_NO_ROUTE');
      assert.equal(err.layer, 'virtual-host');
      assert.equal(err.httpStatus, 404);
    });

    it('refuses a path no route matches at the route layer', async () => {
      const r = start();
      serve(r.src, [{ path: { kind: 'prefix', prefix: '/items' }, clusters: 'v1' }], {
        v1: [{ endpoints: ['10.0.0.1'] }],
      });
      await r.mesh.whenReady('inventory', 5000);
      const err = routingError(r.mesh, input('/orders'));
      assert.equal(err.code, 'WEFT_NO_ROUTE');
      assert.equal(err.layer, 'route');
    });

    it('refuses every request of a listener that does not exist, and whenReady rejects', async () => {
      const r = start();
      r.src.fail(
        TYPES.lds,
        'inventory',
        new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'lds inventory: gone'),
      );
      await assert.rejects(
        r.mesh.whenReady('inventory', 5000),
        (err: unknown) =>
          err instanceof RoutingError && err.layer === 'listener' && err.code === 'WEFT_NO_ROUTE',
      );
      assert.equal(routingError(r.mesh, input()).layer, 'listener');
    });

    it('sends header-matched requests to v2 and splits the rest 90/10', async () => {
      const r = start(99);
      serve(
        r.src,
        [
          {
            headers: [
              {
                name: 'x-user-type',
                invertMatch: false,
                match: { kind: 'exact', value: 'premium', ignoreCase: false },
              },
            ],
            clusters: 'v2',
          },
          {
            clusters: [
              ['v1', 90],
              ['v2', 10],
            ],
          },
        ],
        { v1: [{ endpoints: ['10.0.0.1'] }], v2: [{ endpoints: ['10.0.0.2'] }] },
      );
      await r.mesh.whenReady('inventory', 5000);
      assert.equal(decide(r.mesh, input('/', { 'x-user-type': 'premium' })).clusterName, 'v2');
      let v2 = 0;
      const n = 20_000;
      for (let i = 0; i < n; i++) if (decide(r.mesh).clusterName === 'v2') v2++;
      assert.ok(Math.abs(v2 / n - 0.1) < 0.01, `v2 share ${v2 / n}`);
    });

    it('keeps routing to the old cluster until the new one has CDS and EDS', async () => {
      const r = start();
      serve(r.src, [{ clusters: 'old' }], { old: [{ endpoints: ['10.0.0.1'] }] });
      await r.mesh.whenReady('inventory', 5000);
      r.src.set(
        TYPES.rds,
        'inventory:8080',
        routeConfig('inventory:8080', [
          vhost('inventory', ['inventory'], [route({ clusters: 'new' })]),
        ]),
      );
      assert.equal(decide(r.mesh).clusterName, 'old');
      assert.equal(decide(r.mesh).pick()?.endpoint.key, '10.0.0.1:8080');
      r.src.set(TYPES.cds, 'new', cluster('new'));
      assert.equal(decide(r.mesh).clusterName, 'old');
      r.src.set(TYPES.eds, 'new', cla('new', [{ endpoints: ['10.0.0.9'] }]));
      assert.equal(decide(r.mesh).clusterName, 'new');
    });

    it('fails over from a dead local priority to the next within one request', async () => {
      const r = start();
      serve(r.src, [{ clusters: 'inv' }], {
        inv: [
          { priority: 0, region: 'us-east-1', endpoints: ['10.0.0.1', '10.0.0.2'] },
          { priority: 1, region: 'us-west-2', endpoints: ['10.0.1.1'] },
        ],
      });
      await r.mesh.whenReady('inventory', 5000);
      const d = decide(r.mesh);
      const tried = new Set<string>();
      let lease = d.pick(tried);
      while (lease !== undefined && lease.endpoint.priority === 0) {
        tried.add(lease.endpoint.key);
        lease.done('connect-failure');
        lease = d.pick(tried);
      }
      assert.equal(lease?.endpoint.locality.region, 'us-west-2');
      assert.ok(tried.size <= 2);
      lease.done('success');
      // The next request goes straight to P1 while P0 is backing off…
      assert.equal(decide(r.mesh).pick()?.endpoint.priority, 1);
      // …and back to P0 once the backoff has passed.
      await r.fc.fake.tickAsync(1000);
      assert.equal(decide(r.mesh).pick()?.endpoint.priority, 0);
    });

    it('fails a request to a cluster that does not exist with WEFT_NO_HEALTHY_UPSTREAM naming it', async () => {
      const r = start();
      serve(r.src, [{ clusters: 'ghost' }], {});
      const cause = new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'cds ghost: does not exist');
      r.src.fail(TYPES.cds, 'ghost', cause);
      await r.mesh.whenReady('inventory', 5000);
      const d = decide(r.mesh);
      assert.equal(d.cluster, undefined);
      assert.equal(d.pick(), undefined);
      const err = d.unavailableError();
      assert.ok(err instanceof RoutingError);
      assert.equal(err.code, 'WEFT_NO_HEALTHY_UPSTREAM');
      assert.equal(err.layer, 'cluster');
      assert.equal(err.httpStatus, 503);
      assert.equal(err.cause, cause);
    });

    it('keeps a ring_hash request on one endpoint for one header value', async () => {
      const r = start();
      r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
      r.src.set(
        TYPES.rds,
        'rc',
        routeConfig('rc', [
          vhost(
            'v',
            ['*'],
            [
              route({
                clusters: 'rh',
                hashPolicies: [{ kind: 'header', headerName: 'x-user', terminal: false }],
              }),
            ],
          ),
        ]),
      );
      r.src.set(
        TYPES.cds,
        'rh',
        cluster('rh', { kind: 'ring_hash', minRingSize: 1024, maxRingSize: 4096 }),
      );
      r.src.set(TYPES.eds, 'rh', cla('rh', [{ endpoints: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] }]));
      await r.mesh.whenReady('inventory', 5000);
      for (const user of ['alice', 'bob']) {
        const keys = new Set<string>();
        for (let i = 0; i < 50; i++) {
          const l = decide(r.mesh, input('/', { 'x-user': user })).pick();
          keys.add(l!.endpoint.key);
          l!.done('success');
        }
        assert.equal(keys.size, 1);
      }
      assert.ok(xxhash64('alice') !== xxhash64('bob'));
    });
  });

  describe('whenReady', () => {
    it('rejects with WEFT_TIMEOUT naming the resources still missing', async () => {
      const r = start();
      r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
      const ready = r.mesh.whenReady('inventory', 3000);
      await flush();
      const check = assert.rejects(
        ready,
        (err: unknown) =>
          err instanceof RoutingError &&
          err.code === 'WEFT_TIMEOUT' &&
          err.layer === 'listener' &&
          err.message.includes('rds rc'),
      );
      await r.fc.fake.tickAsync(3000);
      await check;
    });

    it('resolves at once when the listener is already in force', async () => {
      const r = start();
      serve(r.src, [{ clusters: 'v1' }], { v1: [{ endpoints: ['10.0.0.1'] }] });
      await r.mesh.whenReady('inventory', 5000);
      await r.mesh.whenReady('inventory', 0);
    });
  });

  it('lists endpoints and notifies onUpdate for each new configuration', async () => {
    const r = start();
    let updates = 0;
    const off = r.mesh.onUpdate('inventory', () => updates++);
    serve(r.src, [{ clusters: 'v1' }], { v1: [{ endpoints: ['10.0.0.1', '10.0.0.2'] }] });
    await r.mesh.whenReady('inventory', 5000);
    assert.equal(updates, 1);
    assert.deepEqual(
      r.mesh.endpointsOf('inventory').map((e) => e.key),
      ['10.0.0.1:8080', '10.0.0.2:8080'],
    );
    r.src.set(TYPES.eds, 'v1', cla('v1', [{ endpoints: ['10.0.0.3'] }]));
    assert.equal(updates, 2);
    assert.deepEqual(
      r.mesh.endpointsOf('inventory').map((e) => e.key),
      ['10.0.0.3:8080'],
    );
    off();
    r.src.set(TYPES.eds, 'v1', cla('v1', [{ endpoints: ['10.0.0.4'] }]));
    assert.equal(updates, 2);
  });

  it('describes listeners, route configurations and clusters as plain JSON', async () => {
    const r = start();
    serve(r.src, [{ clusters: 'v1' }], {
      v1: [{ region: 'us-east-1', zone: 'us-east-1a', endpoints: ['10.0.0.1'] }],
    });
    await r.mesh.whenReady('inventory', 5000);
    const held = decide(r.mesh).pick();
    const d = r.mesh.describe() as Record<string, unknown>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const round: any = JSON.parse(JSON.stringify(d));
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
    assert.equal(round.listeners[0].state, 'ready');
    assert.equal(round.routeConfigs[0].name, 'inventory:8080');
    const ep = round.clusters[0].priorities[0].localities[0];
    assert.equal(ep.local, true);
    assert.equal(ep.endpoints[0].inFlight, 1);
    held?.done('success');
  });

  it('after close, refuses routes with WEFT_CLOSED and rejects waiters', async () => {
    const r = start();
    const pending = r.mesh.whenReady('inventory', 5000);
    r.mesh.close();
    await assert.rejects(
      pending,
      (err: unknown) => err instanceof WeftError && err.code === 'WEFT_CLOSED',
    );
    const d = r.mesh.route(input());
    assert.ok(d instanceof WeftError && d.code === 'WEFT_CLOSED');
    await assert.rejects(
      r.mesh.whenReady('inventory', 10),
      (err: unknown) => err instanceof WeftError && err.code === 'WEFT_CLOSED',
    );
    for (const t of ['lds', 'rds', 'cds', 'eds']) assert.deepEqual(r.src.watched(t), []);
  });
});
