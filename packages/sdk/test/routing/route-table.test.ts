import { strict as assert } from 'node:assert';
import type { PathMatchUpdate } from '@weft/xds-client';
import { RequestView } from '../../src/routing/request-view.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { seededRandom, sequenceRandom } from '../helpers/seeded-random.js';
import type { RouteSpec } from '../helpers/xds-builders.js';
import { headersOf, route, routeConfig, vhost } from '../helpers/xds-builders.js';

function request(path: string, headers: Record<string, string> = {}): RequestView {
  return new RequestView({ authority: 'inventory', path, header: headersOf(headers) });
}

function tableOf(...routes: RouteSpec[]): RouteTable {
  return new RouteTable(routeConfig('rc', [vhost('vh', ['*'], routes.map(route))]));
}

describe('RouteTable', () => {
  describe('path matching', () => {
    const table: {
      name: string;
      path: PathMatchUpdate;
      caseSensitive?: boolean;
      request: string;
      want: boolean;
    }[] = [
      {
        name: 'prefix matches a path that starts with it',
        path: { kind: 'prefix', prefix: '/items' },
        request: '/items/42',
        want: true,
      },
      {
        name: 'prefix ignores the query string',
        path: { kind: 'prefix', prefix: '/items' },
        request: '/items?x=/other',
        want: true,
      },
      {
        name: 'prefix misses another path',
        path: { kind: 'prefix', prefix: '/items' },
        request: '/orders',
        want: false,
      },
      {
        name: 'an empty prefix matches everything',
        path: { kind: 'prefix', prefix: '' },
        request: '/x',
        want: true,
      },
      {
        name: 'prefix is case-sensitive by default',
        path: { kind: 'prefix', prefix: '/Items' },
        request: '/items',
        want: false,
      },
      {
        name: 'prefix with case_sensitive false folds case',
        path: { kind: 'prefix', prefix: '/Items' },
        caseSensitive: false,
        request: '/ITEMS/1',
        want: true,
      },
      {
        name: 'path matches exactly',
        path: { kind: 'path', path: '/pkg.Svc/Get' },
        request: '/pkg.Svc/Get',
        want: true,
      },
      {
        name: 'path misses a longer path',
        path: { kind: 'path', path: '/pkg.Svc/Get' },
        request: '/pkg.Svc/GetAll',
        want: false,
      },
      {
        name: 'path ignores the query string',
        path: { kind: 'path', path: '/a' },
        request: '/a?b=1',
        want: true,
      },
      {
        name: 'path ignores a fragment',
        path: { kind: 'path', path: '/a' },
        request: '/a#top',
        want: true,
      },
      {
        name: 'path with case_sensitive false folds case',
        path: { kind: 'path', path: '/A' },
        caseSensitive: false,
        request: '/a',
        want: true,
      },
      {
        name: 'safe_regex must match the whole path',
        path: { kind: 'safe_regex', regex: '/items/\\d+' },
        request: '/items/42/x',
        want: false,
      },
      {
        name: 'safe_regex matches a whole path',
        path: { kind: 'safe_regex', regex: '/items/\\d+' },
        request: '/items/42',
        want: true,
      },
      {
        name: 'safe_regex accepts RE2 named groups',
        path: { kind: 'safe_regex', regex: '/(?P<id>\\d+)' },
        request: '/7',
        want: true,
      },
    ];
    for (const row of table) {
      it(row.name, () => {
        const t = tableOf({ path: row.path, caseSensitive: row.caseSensitive, clusters: 'c' });
        assert.equal(t.virtualHosts[0]!.match(request(row.request)) !== undefined, row.want);
      });
    }
  });

  it('lets the first matching route win', () => {
    const t = tableOf(
      {
        name: 'premium',
        headers: [
          {
            name: 'x-user-type',
            invertMatch: false,
            match: { kind: 'exact', value: 'premium', ignoreCase: false },
          },
        ],
        clusters: 'v2',
      },
      { name: 'items', path: { kind: 'prefix', prefix: '/items' }, clusters: 'v1' },
      { name: 'all', clusters: 'v0' },
    );
    const vh = t.virtualHosts[0]!;
    assert.equal(vh.match(request('/items/1', { 'x-user-type': 'premium' }))?.name, 'premium');
    assert.equal(vh.match(request('/items/1'))?.name, 'items');
    assert.equal(vh.match(request('/other'))?.name, 'all');
  });

  it('requires every header and query matcher of a route to match', () => {
    const t = tableOf({
      headers: [
        { name: 'a', invertMatch: false, match: { kind: 'present', present: true } },
        { name: 'b', invertMatch: true, match: { kind: 'present', present: true } },
      ],
      query: [{ name: 'v', match: { kind: 'exact', value: '2', ignoreCase: false } }],
      clusters: 'c',
    });
    const vh = t.virtualHosts[0]!;
    assert.ok(vh.match(request('/?v=2', { a: '1' })));
    assert.equal(vh.match(request('/?v=2', { a: '1', b: '1' })), undefined);
    assert.equal(vh.match(request('/?v=3', { a: '1' })), undefined);
  });

  it('names unnamed routes by index', () => {
    const t = tableOf({ path: { kind: 'path', path: '/x' }, clusters: 'a' }, { clusters: 'b' });
    assert.equal(t.virtualHosts[0]!.match(request('/y'))?.name, '#1');
  });

  it('lists every referenced cluster once, in config order', () => {
    const t = tableOf(
      {
        clusters: [
          ['a', 1],
          ['b', 1],
        ],
      },
      { clusters: 'b' },
      { clusters: 'c' },
    );
    assert.deepEqual(t.clusterNames, ['a', 'b', 'c']);
  });

  describe('pickCluster', () => {
    it('splits 90/10 within ±1% over 100k picks with a seeded random', () => {
      const r = tableOf({
        clusters: [
          ['v1', 90],
          ['v2', 10],
        ],
      }).virtualHosts[0]!.routes[0]!;
      const random = seededRandom(42);
      let v2 = 0;
      for (let i = 0; i < 100_000; i++) if (r.pickCluster(random) === 'v2') v2++;
      assert.ok(Math.abs(v2 / 100_000 - 0.1) < 0.01, `v2 share ${v2 / 100_000}`);
    });

    it('maps the random draw onto cumulative weights exactly', () => {
      const r = tableOf({
        clusters: [
          ['a', 1],
          ['b', 2],
          ['c', 1],
        ],
      }).virtualHosts[0]!.routes[0]!;
      // [0,1) → a, [1,3) → b, [3,4) → c over totalWeight 4.
      const draws = [0, 0.2499, 0.25, 0.7499, 0.75, 0.9999];
      assert.deepEqual(
        draws.map((d) => r.pickCluster(sequenceRandom(d))),
        ['a', 'a', 'b', 'b', 'c', 'c'],
      );
    });

    it('never draws for a single-cluster route', () => {
      const r = tableOf({ clusters: 'only' }).virtualHosts[0]!.routes[0]!;
      assert.equal(
        r.pickCluster(() => assert.fail('random called')),
        'only',
      );
    });

    it('never picks a zero-weight cluster', () => {
      const r = tableOf({
        clusters: [
          ['zero', 0],
          ['one', 1],
        ],
      }).virtualHosts[0]!.routes[0]!;
      assert.equal(r.pickCluster(sequenceRandom(0)), 'one');
    });
  });
});
