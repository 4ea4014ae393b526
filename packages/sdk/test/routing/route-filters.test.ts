import { strict as assert } from 'node:assert';
import type {
  FaultUpdate,
  HttpFilterUpdate,
  ListenerUpdate,
  RouteUpdate,
  WeightedClusterUpdate,
} from '@weft/xds-client';
import { resolveRouteFilters } from '../../src/routing/route-filters.js';
import { listener, route, vhost } from '../helpers/xds-builders.js';

const ABORT_503: FaultUpdate = {
  delay: undefined,
  abort: { kind: 'http', httpStatus: 503, percentPerMillion: 1_000_000 },
  maxActiveFaults: undefined,
} as unknown as FaultUpdate;
const EMPTY_FAULT: FaultUpdate = { delay: undefined, abort: undefined, maxActiveFaults: undefined };
const RATE = Object.freeze({
  statPrefix: 'rl',
  tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
  filterEnabledPerMillion: 1_000_000,
  filterEnforcedPerMillion: 1_000_000,
  httpStatus: 429,
  xRateLimitHeaders: true,
  rateLimitedAsResourceExhausted: true,
});

function withFilters(filters: HttpFilterUpdate[]): ListenerUpdate {
  return { ...listener('inventory', 'inventory'), httpFilters: filters };
}

const ROUTER: HttpFilterUpdate = {
  name: 'envoy.filters.http.router',
  typeUrl: 'router',
  isOptional: false,
  config: { kind: 'router' },
};

describe('resolveRouteFilters', () => {
  it('is empty for a router-only chain and skips an empty listener-level fault', () => {
    const vh = vhost('vh', ['*'], [route({ clusters: 'a' })]);
    const r = vh.routes[0];
    assert.ok(r);
    assert.deepEqual(
      resolveRouteFilters(withFilters([ROUTER]), vh, 'vh', r, 'vh/#0', undefined),
      [],
    );
    const chain = withFilters([
      {
        name: 'fault',
        typeUrl: 'f',
        isOptional: false,
        config: { kind: 'fault', fault: EMPTY_FAULT },
      },
      ROUTER,
    ]);
    assert.deepEqual(resolveRouteFilters(chain, vh, 'vh', r, 'vh/#0', undefined), []);
  });

  it('takes the most specific override: cluster > route > virtual host > listener', () => {
    const chain = withFilters([
      {
        name: 'fault',
        typeUrl: 'f',
        isOptional: false,
        config: { kind: 'fault', fault: EMPTY_FAULT },
      },
      {
        name: 'rl',
        typeUrl: 'r',
        isOptional: false,
        config: { kind: 'local_ratelimit', config: RATE },
      },
      ROUTER,
    ]);
    const base = route({
      clusters: [
        ['a', 1],
        ['b', 1],
      ],
    });
    const clusters: WeightedClusterUpdate[] = [
      { name: 'a', weight: 1, typedPerFilterConfig: {} },
      { name: 'b', weight: 1, typedPerFilterConfig: { fault: { kind: 'disabled' } } },
    ];
    const r: RouteUpdate = {
      ...base,
      typedPerFilterConfig: { fault: { kind: 'fault' as const, fault: ABORT_503 } },
      action: {
        ...base.action,
        clusters,
      },
    };
    const vh = { ...vhost('vh', ['*'], [r]), typedPerFilterConfig: {} };
    const toA = resolveRouteFilters(chain, vh, 'vh', r, 'vh/#0', clusters[0]);
    assert.deepEqual(
      toA.map((f) => [f.kind, f.kind === 'local_ratelimit' ? f.scope : f.fault]),
      [
        ['fault', ABORT_503],
        ['local_ratelimit', 'listener'],
      ],
    );
    const toB = resolveRouteFilters(chain, vh, 'vh', r, 'vh/#0', clusters[1]);
    assert.deepEqual(
      toB.map((f) => f.kind),
      ['local_ratelimit'],
      'a FilterConfig{disabled} on the cluster turns the fault off',
    );
    const vhRate = {
      ...vh,
      typedPerFilterConfig: { rl: { kind: 'local_ratelimit' as const, config: RATE } },
    };
    const scoped = resolveRouteFilters(chain, vhRate, 'vh', r, 'vh/#0', clusters[0]);
    assert.equal(scoped[1]?.kind === 'local_ratelimit' ? scoped[1].scope : '', 'vhost:vh');
  });
});
