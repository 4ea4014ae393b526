// Tests for the local rate-limit filter config (LocalRateLimit) as RDS typed_per_filter_config and
// as an HCM http_filters entry: the typed update, Envoy's defaults, and a table of invalid configs,
// each rejected at the field's path (a NACK naming the field).
import assert from 'node:assert/strict';
import {
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '../../src/protos/type-urls.js';
import { LOCAL_RATELIMIT_FILTER_TYPE_URL } from '../../src/resource-types/http-filters.js';
import { ListenerResourceType } from '../../src/resource-types/listener-resource-type.js';
import { RouteConfigurationResourceType } from '../../src/resource-types/route-configuration-resource-type.js';
import { ctx, encode, expectIssueAt, expectOk } from './fixtures.js';

const rds = new RouteConfigurationResourceType();
const lds = new ListenerResourceType();

const BUCKET = { max_tokens: 5, tokens_per_fill: { value: 2 }, fill_interval: { seconds: 1 } };
const FULL = {
  '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
  stat_prefix: 'inventory',
  status: { code: 'TooManyRequests' },
  token_bucket: BUCKET,
  filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
  filter_enforced: { default_value: { numerator: 50, denominator: 'HUNDRED' } },
  enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  rate_limited_as_resource_exhausted: true,
};

function routeConfig(rl: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'rc',
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['inventory'],
        routes: [
          {
            name: 'r',
            match: { prefix: '/' },
            route: { cluster: 'c' },
            typed_per_filter_config: { rl },
          },
        ],
      },
    ],
  };
}

function listener(typedConfig: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'inventory',
    api_listener: {
      api_listener: {
        '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
        stat_prefix: 'inventory',
        rds: { config_source: { ads: {} }, route_config_name: 'rc' },
        http_filters: [
          { name: 'rl', typed_config: typedConfig },
          { name: 'router', typed_config: { '@type': ROUTER_FILTER_TYPE_URL } },
        ],
      },
    },
  };
}

const R = 'virtual_hosts[0].routes[0].typed_per_filter_config["rl"]';

describe('LocalRateLimit filter config', () => {
  it('decodes a per-route config into a typed update', () => {
    const value = expectOk(
      rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, routeConfig(FULL)), ctx),
    );
    assert.deepEqual(value.virtualHosts[0]!.routes[0]!.typedPerFilterConfig['rl'], {
      kind: 'local_ratelimit',
      config: {
        statPrefix: 'inventory',
        tokenBucket: { maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 },
        filterEnabledPerMillion: 1_000_000,
        filterEnforcedPerMillion: 500_000,
        httpStatus: 429,
        xRateLimitHeaders: true,
        rateLimitedAsResourceExhausted: true,
      },
    });
  });

  it("applies Envoy's defaults: 429, one token per fill, enabled and enforced 0 %, no headers", () => {
    const value = expectOk(
      rds.decode(
        encode(
          ROUTE_CONFIGURATION_TYPE_URL,
          routeConfig({
            '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
            stat_prefix: 's',
            token_bucket: { max_tokens: 1, fill_interval: { nanos: 1_000_000 } },
          }),
        ),
        ctx,
      ),
    );
    assert.deepEqual(value.virtualHosts[0]!.routes[0]!.typedPerFilterConfig['rl'], {
      kind: 'local_ratelimit',
      config: {
        statPrefix: 's',
        tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1 },
        filterEnabledPerMillion: 0,
        filterEnforcedPerMillion: 0,
        httpStatus: 429,
        xRateLimitHeaders: false,
        rateLimitedAsResourceExhausted: false,
      },
    });
  });

  it('accepts a listener-level config without a token bucket (it limits nothing by itself)', () => {
    const value = expectOk(
      lds.decode(
        encode(
          LISTENER_TYPE_URL,
          listener({ '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL, stat_prefix: 'http_local' }),
        ),
        ctx,
      ),
    );
    const config = value.httpFilters[0]?.config;
    assert.ok(config?.kind === 'local_ratelimit');
    assert.equal(config.config.tokenBucket, undefined);
  });

  const invalid: { name: string; rl: Record<string, unknown>; path: string }[] = [
    {
      name: 'a per-route config without token_bucket',
      rl: { '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL, stat_prefix: 's' },
      path: `${R}.token_bucket`,
    },
    {
      name: 'max_tokens 0',
      rl: { ...FULL, token_bucket: { ...BUCKET, max_tokens: 0 } },
      path: `${R}.token_bucket.max_tokens`,
    },
    {
      name: 'tokens_per_fill 0',
      rl: { ...FULL, token_bucket: { ...BUCKET, tokens_per_fill: { value: 0 } } },
      path: `${R}.token_bucket.tokens_per_fill`,
    },
    {
      name: 'a missing fill_interval',
      rl: { ...FULL, token_bucket: { max_tokens: 5 } },
      path: `${R}.token_bucket.fill_interval`,
    },
    {
      name: 'a fill_interval under 1 ms',
      rl: { ...FULL, token_bucket: { ...BUCKET, fill_interval: { nanos: 500_000 } } },
      path: `${R}.token_bucket.fill_interval`,
    },
    {
      name: 'an empty stat_prefix',
      rl: { ...FULL, stat_prefix: '' },
      path: `${R}.stat_prefix`,
    },
    {
      name: 'a non-error status',
      rl: { ...FULL, status: { code: 'OK' } },
      path: `${R}.status.code`,
    },
    {
      name: 'descriptors (not supported)',
      rl: {
        ...FULL,
        descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: BUCKET }],
      },
      path: `${R}.descriptors`,
    },
    {
      name: 'per-connection buckets (not supported)',
      rl: { ...FULL, local_rate_limit_per_downstream_connection: true },
      path: `${R}.local_rate_limit_per_downstream_connection`,
    },
    {
      name: 'response_headers_to_add (not supported)',
      rl: { ...FULL, response_headers_to_add: [{ header: { key: 'a', value: 'b' } }] },
      path: `${R}.response_headers_to_add`,
    },
  ];
  for (const { name, rl, path } of invalid) {
    it(`rejects ${name}`, () => {
      expectIssueAt(rds.decode(encode(ROUTE_CONFIGURATION_TYPE_URL, routeConfig(rl)), ctx), path);
    });
  }

  it('rejects a bad listener-level config at its http_filters path', () => {
    expectIssueAt(
      lds.decode(
        encode(
          LISTENER_TYPE_URL,
          listener({
            '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
            stat_prefix: 's',
            token_bucket: { max_tokens: 0, fill_interval: { seconds: 1 } },
          }),
        ),
        ctx,
      ),
      'api_listener.api_listener.http_filters[0].typed_config.token_bucket.max_tokens',
    );
  });
});
