// Tests for RouteConfigurationResourceType (RDS): full decode of every supported route feature
// and a table of invalid routes, each rejected at the field's path.
import assert from 'node:assert/strict';
import { FAULT_FILTER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL } from '../../src/protos/type-urls.js';
import { RouteConfigurationResourceType } from '../../src/resource-types/route-configuration-resource-type.js';
import { ctx, encode, expectIssueAt, expectOk } from './fixtures.js';

const rds = new RouteConfigurationResourceType();

function config(
  routes: unknown[],
  domains: unknown[] = ['inventory', 'inventory:8080'],
): Record<string, unknown> {
  return { name: 'inventory-routes', virtual_hosts: [{ name: 'vh', domains, routes }] };
}
const SIMPLE_ROUTE = {
  name: 'default',
  match: { prefix: '/' },
  route: { cluster: 'outbound|8080||inventory' },
};
const VALID = config([SIMPLE_ROUTE]);

const FULL_ROUTE = {
  name: 'full',
  match: {
    safe_regex: { google_re2: {}, regex: '/api/v[0-9]+/.*' },
    case_sensitive: { value: false },
    headers: [
      { name: 'X-Exact', exact_match: 'a' },
      { name: 'x-prefix', prefix_match: 'b', invert_match: true },
      { name: 'x-regex', safe_regex_match: { regex: 'c+' } },
      { name: 'x-present', present_match: true },
      { name: 'x-range', range_match: { start: 10, end: 20 } },
      { name: 'x-string', string_match: { suffix: 'z', ignore_case: true } },
    ],
    query_parameters: [
      { name: 'q', string_match: { contains: 'needle' } },
      { name: 'debug', present_match: true },
    ],
  },
  route: {
    weighted_clusters: {
      clusters: [
        { name: 'v1', weight: { value: 90 } },
        { name: 'v2', weight: { value: 10 } },
      ],
    },
    timeout: { seconds: 3 },
    idle_timeout: { nanos: 250_000_000 },
    retry_policy: {
      retry_on: '5xx, reset,unavailable',
      num_retries: { value: 4 },
      per_try_timeout: { seconds: 1 },
      retry_back_off: { base_interval: { nanos: 50_000_000 }, max_interval: { seconds: 1 } },
      retriable_status_codes: [503, 502],
    },
    hash_policy: [
      { header: { header_name: 'X-User' }, terminal: true },
      { connection_properties: { source_ip: true } },
      { filter_state: { key: 'io.istio.peer' } },
    ],
    max_stream_duration: {
      max_stream_duration: { seconds: 5 },
      grpc_timeout_header_max: { seconds: 4 },
    },
    request_mirror_policies: [
      {
        cluster: 'shadow',
        runtime_fraction: { default_value: { numerator: 25, denominator: 'TEN_THOUSAND' } },
      },
    ],
  },
  typed_per_filter_config: {
    fault: {
      '@type': FAULT_FILTER_TYPE_URL,
      delay: { fixed_delay: { seconds: 1 }, percentage: { numerator: 5, denominator: 'MILLION' } },
      max_active_faults: { value: 3 },
    },
  },
};

describe('RouteConfigurationResourceType', () => {
  describe('decode', () => {
    it('decodes a simple route to one cluster of weight 1', () => {
      const value = expectOk(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, VALID), ctx));
      assert.equal(value.name, 'inventory-routes');
      const vh = value.virtualHosts[0]!;
      assert.deepEqual(vh.domains, ['inventory', 'inventory:8080']);
      assert.deepEqual(vh.routes[0]!.match, {
        path: { kind: 'prefix', prefix: '/' },
        caseSensitive: true,
        headers: [],
        queryParameters: [],
      });
      assert.deepEqual(vh.routes[0]!.action.clusters, [
        { name: 'outbound|8080||inventory', weight: 1, typedPerFilterConfig: {} },
      ]);
      assert.equal(vh.routes[0]!.action.timeoutMs, undefined);
      assert.equal(vh.routes[0]!.action.retryPolicy, undefined);
    });

    it('decodes matchers, weighted clusters, timeouts, retries, hashing, mirroring and faults', () => {
      const value = expectOk(
        rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, config([FULL_ROUTE])), ctx),
      );
      const route = value.virtualHosts[0]!.routes[0]!;
      assert.deepEqual(route.match, {
        path: { kind: 'safe_regex', regex: '/api/v[0-9]+/.*' },
        caseSensitive: false,
        headers: [
          {
            name: 'x-exact',
            invertMatch: false,
            match: { kind: 'exact', value: 'a', ignoreCase: false },
          },
          {
            name: 'x-prefix',
            invertMatch: true,
            match: { kind: 'prefix', value: 'b', ignoreCase: false },
          },
          { name: 'x-regex', invertMatch: false, match: { kind: 'safe_regex', regex: 'c+' } },
          { name: 'x-present', invertMatch: false, match: { kind: 'present', present: true } },
          { name: 'x-range', invertMatch: false, match: { kind: 'range', start: 10, end: 20 } },
          {
            name: 'x-string',
            invertMatch: false,
            match: { kind: 'suffix', value: 'z', ignoreCase: true },
          },
        ],
        queryParameters: [
          { name: 'q', match: { kind: 'contains', value: 'needle', ignoreCase: false } },
          { name: 'debug', match: { kind: 'present', present: true } },
        ],
      });
      assert.deepEqual(route.action, {
        clusterSpecifier: 'weighted_clusters',
        clusters: [
          { name: 'v1', weight: 90, typedPerFilterConfig: {} },
          { name: 'v2', weight: 10, typedPerFilterConfig: {} },
        ],
        totalWeight: 100,
        timeoutMs: 3000,
        idleTimeoutMs: 250,
        retryPolicy: {
          retryOn: ['5xx', 'reset', 'unavailable'],
          numRetries: 4,
          perTryTimeoutMs: 1000,
          baseIntervalMs: 50,
          maxIntervalMs: 1000,
          retriableStatusCodes: [503, 502],
        },
        hashPolicies: [
          { kind: 'header', headerName: 'x-user', terminal: true },
          { kind: 'source_ip', terminal: false },
          { kind: 'filter_state', key: 'io.istio.peer', terminal: false },
        ],
        maxStreamDurationMs: 5000,
        grpcTimeoutHeaderMaxMs: 4000,
        requestMirrorPolicies: [{ cluster: 'shadow', percentagePerMillion: 2500 }],
      });
      assert.deepEqual(route.typedPerFilterConfig, {
        fault: {
          kind: 'fault',
          fault: {
            delay: { kind: 'fixed', delayMs: 1000, percentagePerMillion: 5 },
            abort: undefined,
            maxActiveFaults: 3,
          },
        },
      });
    });

    it('gives routes the virtual host retry policy when they have none, with Envoy defaults', () => {
      const raw = {
        name: 'r',
        virtual_hosts: [
          {
            name: 'vh',
            domains: ['*'],
            retry_policy: { retry_on: 'connect-failure' },
            routes: [SIMPLE_ROUTE],
          },
        ],
      };
      const value = expectOk(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, raw), ctx));
      assert.deepEqual(value.virtualHosts[0]!.routes[0]!.action.retryPolicy, {
        retryOn: ['connect-failure'],
        numRetries: 1,
        perTryTimeoutMs: undefined,
        baseIntervalMs: 25,
        maxIntervalMs: 250,
        retriableStatusCodes: [],
      });
    });

    it('accepts every legal domain shape', () => {
      const domains = [
        '*',
        '*.example.com',
        '*-suffix',
        'prefix.*',
        'prefix*',
        'exact.example.com',
        'host:8080',
      ];
      expectOk(
        rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, config([SIMPLE_ROUTE], domains)), ctx),
      );
    });

    const R = 'virtual_hosts[0].routes[0]';
    const route = (patch: Record<string, unknown>): Record<string, unknown> =>
      config([{ ...SIMPLE_ROUTE, ...patch }]);
    const action = (patch: Record<string, unknown>): Record<string, unknown> =>
      route({ route: { cluster: 'c', ...patch } });
    const invalid: { name: string; raw: Record<string, unknown>; path: string }[] = [
      { name: 'a configuration without a name', raw: { virtual_hosts: [] }, path: 'name' },
      {
        name: 'a virtual host without domains',
        raw: config([SIMPLE_ROUTE], []),
        path: 'virtual_hosts[0].domains',
      },
      {
        name: 'a domain with a star in the middle',
        raw: config([SIMPLE_ROUTE], ['a.*.com']),
        path: 'virtual_hosts[0].domains[0]',
      },
      {
        name: 'a domain with two stars',
        raw: config([SIMPLE_ROUTE], ['*.a.*']),
        path: 'virtual_hosts[0].domains[0]',
      },
      {
        name: 'an empty domain',
        raw: config([SIMPLE_ROUTE], ['']),
        path: 'virtual_hosts[0].domains[0]',
      },
      {
        name: 'a domain repeated across virtual hosts',
        raw: {
          name: 'r',
          virtual_hosts: [
            { name: 'a', domains: ['x'] },
            { name: 'b', domains: ['X'] },
          ],
        },
        path: 'virtual_hosts[1].domains[0]',
      },
      {
        name: 'a route without a match',
        raw: config([{ route: { cluster: 'c' } }]),
        path: `${R}.match`,
      },
      {
        name: 'a safe_regex that does not compile',
        raw: route({ match: { safe_regex: { regex: '(' } } }),
        path: `${R}.match.safe_regex.regex`,
      },
      {
        name: 'a safe_regex with lookahead (not RE2)',
        raw: route({ match: { safe_regex: { regex: 'a(?=b)' } } }),
        path: `${R}.match.safe_regex.regex`,
      },
      {
        name: 'a safe_regex with a backreference (not RE2)',
        raw: route({ match: { safe_regex: { regex: '(a)\\1' } } }),
        path: `${R}.match.safe_regex.regex`,
      },
      {
        name: 'a connect_matcher path specifier',
        raw: route({ match: { connect_matcher: {} } }),
        path: `${R}.match`,
      },
      {
        name: 'a header matcher without a name',
        raw: route({ match: { prefix: '/', headers: [{ exact_match: 'a' }] } }),
        path: `${R}.match.headers[0].name`,
      },
      {
        name: 'a header range with end <= start',
        raw: route({
          match: { prefix: '/', headers: [{ name: 'h', range_match: { start: 5, end: 5 } }] },
        }),
        path: `${R}.match.headers[0].range_match`,
      },
      {
        name: 'a header string_match with a bad regex',
        raw: route({
          match: {
            prefix: '/',
            headers: [{ name: 'h', string_match: { safe_regex: { regex: '[' } } }],
          },
        }),
        path: `${R}.match.headers[0].string_match.safe_regex.regex`,
      },
      {
        name: 'a query parameter matcher with no specifier',
        raw: route({ match: { prefix: '/', query_parameters: [{ name: 'q' }] } }),
        path: `${R}.match.query_parameters[0]`,
      },
      {
        name: 'a redirect action',
        raw: route({ route: undefined, redirect: { host_redirect: 'x' } }),
        path: R,
      },
      {
        name: 'a direct_response action',
        raw: route({ route: undefined, direct_response: { status: 200 } }),
        path: R,
      },
      {
        name: 'a cluster_header specifier',
        raw: route({ route: { cluster_header: 'x-cluster' } }),
        path: `${R}.route`,
      },
      { name: 'an empty cluster name', raw: action({ cluster: '' }), path: `${R}.route.cluster` },
      {
        name: 'weighted clusters with total weight 0',
        raw: route({
          route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 0 } }] } },
        }),
        path: `${R}.route.weighted_clusters.clusters`,
      },
      {
        name: 'empty weighted clusters',
        raw: route({ route: { weighted_clusters: { clusters: [] } } }),
        path: `${R}.route.weighted_clusters.clusters`,
      },
      {
        name: 'a weighted cluster without a name',
        raw: route({ route: { weighted_clusters: { clusters: [{ weight: { value: 1 } }] } } }),
        path: `${R}.route.weighted_clusters.clusters[0].name`,
      },
      {
        name: 'a negative timeout',
        raw: action({ timeout: { seconds: -1 } }),
        path: `${R}.route.timeout`,
      },
      {
        name: 'a retry back-off with base interval 0',
        raw: action({ retry_policy: { retry_back_off: { base_interval: {} } } }),
        path: `${R}.route.retry_policy.retry_back_off.base_interval`,
      },
      {
        name: 'a retry back-off whose max is below its base',
        raw: action({
          retry_policy: {
            retry_back_off: { base_interval: { seconds: 2 }, max_interval: { seconds: 1 } },
          },
        }),
        path: `${R}.route.retry_policy.retry_back_off.max_interval`,
      },
      {
        name: 'a retriable status code that is not an HTTP status',
        raw: action({ retry_policy: { retriable_status_codes: [42] } }),
        path: `${R}.route.retry_policy.retriable_status_codes[0]`,
      },
      {
        name: 'a cookie hash policy',
        raw: action({ hash_policy: [{ cookie: { name: 'sid' } }] }),
        path: `${R}.route.hash_policy[0]`,
      },
      {
        name: 'a header hash policy without a header name',
        raw: action({ hash_policy: [{ header: {} }] }),
        path: `${R}.route.hash_policy[0].header.header_name`,
      },
      {
        name: 'a mirror policy without a cluster',
        raw: action({ request_mirror_policies: [{}] }),
        path: `${R}.route.request_mirror_policies[0].cluster`,
      },
      {
        name: 'a fault override with an abort status out of range',
        raw: route({
          typed_per_filter_config: {
            f: { '@type': FAULT_FILTER_TYPE_URL, abort: { http_status: 700 } },
          },
        }),
        path: `${R}.typed_per_filter_config["f"].abort.http_status`,
      },
      {
        name: 'an unknown filter override',
        raw: route({
          typed_per_filter_config: {
            f: { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' },
          },
        }),
        path: `${R}.typed_per_filter_config["f"]`,
      },
    ];
    for (const { name, raw, path } of invalid) {
      it(`rejects ${name}`, () => {
        expectIssueAt(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, raw), ctx), path);
      });
    }

    it('accepts an unknown filter override marked optional in a FilterConfig', () => {
      const raw = route({
        typed_per_filter_config: {
          f: {
            '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
            is_optional: true,
            config: { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' },
          },
        },
      });
      const value = expectOk(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, raw), ctx));
      assert.deepEqual(value.virtualHosts[0]!.routes[0]!.typedPerFilterConfig, {});
    });

    it('collects every issue of a resource at once', () => {
      const raw = config(
        [{ match: { safe_regex: { regex: '(' } }, route: { cluster: '' } }],
        ['a*b'],
      );
      const result = rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, raw), ctx);
      assert.equal(result.ok, false);
      assert.ok(result.issues.length >= 3, JSON.stringify(result.issues));
    });
  });

  describe('isEqual', () => {
    it('is true for the same resource and false when a weight changes', () => {
      const a = expectOk(
        rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, config([FULL_ROUTE])), ctx),
      );
      const b = expectOk(
        rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, config([FULL_ROUTE])), ctx),
      );
      const changed = structuredClone(FULL_ROUTE);
      changed.route.weighted_clusters.clusters[1]!.weight.value = 11;
      const c = expectOk(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, config([changed])), ctx));
      assert.equal(rds.isEqual(a, b), true);
      assert.equal(rds.isEqual(a, c), false);
    });
  });

  it('round-trips through decodeAny and encodeAny to an equal update', () => {
    const first = encode(ROUTE_CONFIGURATION_TYPE_URL, config([FULL_ROUTE]));
    const again = encode(ROUTE_CONFIGURATION_TYPE_URL, ctx.protos.decodeAny(first));
    assert.ok(rds.isEqual(expectOk(rds.decode(first, ctx)), expectOk(rds.decode(again, ctx))));
  });
});
