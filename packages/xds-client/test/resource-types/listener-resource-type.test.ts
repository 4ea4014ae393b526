// Tests for ListenerResourceType (LDS): api_listener + HCM decoding and its validation table.
import assert from 'node:assert/strict';
import {
  FAULT_FILTER_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '../../src/protos/type-urls.js';
import { ListenerResourceType } from '../../src/resource-types/listener-resource-type.js';
import { ctx, encode, expectIssueAt, expectOk, withField } from './fixtures.js';

const lds = new ListenerResourceType();
const HCM = 'api_listener.api_listener';
const router = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': ROUTER_FILTER_TYPE_URL },
};

function hcm(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'inventory',
    api_listener: { api_listener: { '@type': HTTP_CONNECTION_MANAGER_TYPE_URL, ...fields } },
  };
}

const RDS_HCM = {
  rds: { config_source: { ads: {} }, route_config_name: 'inventory-routes' },
  http_filters: [router],
};
const VALID = hcm(RDS_HCM);

describe('ListenerResourceType', () => {
  describe('decode', () => {
    it('decodes an api_listener with RDS and the router filter', () => {
      const value = expectOk(lds.decode(encode(LISTENER_TYPE_URL, VALID), ctx));
      assert.deepEqual(value, {
        name: 'inventory',
        routeSource: { kind: 'rds', routeConfigName: 'inventory-routes' },
        httpFilters: [
          {
            name: 'envoy.filters.http.router',
            typeUrl: ROUTER_FILTER_TYPE_URL,
            isOptional: false,
            config: { kind: 'router' },
          },
        ],
        maxStreamDurationMs: undefined,
      });
      assert.ok(Object.isFrozen(value));
    });

    it('decodes the HCM tracing random_sampling (the control plane sampling percent)', () => {
      const raw = hcm({
        ...RDS_HCM,
        tracing: {
          client_sampling: { value: 100 },
          random_sampling: { value: 2.5 },
          overall_sampling: { value: 100 },
        },
      });
      const value = expectOk(lds.decode(encode(LISTENER_TYPE_URL, raw), ctx));
      assert.equal(value.tracingRandomSamplingPercent, 2.5);
      const none = expectOk(lds.decode(encode(LISTENER_TYPE_URL, VALID), ctx));
      assert.equal(none.tracingRandomSamplingPercent, undefined);
    });

    for (const [field, value, path] of [
      ['random_sampling', 101, `${HCM}.tracing.random_sampling.value`],
      ['client_sampling', 50, `${HCM}.tracing.client_sampling`],
      ['overall_sampling', 0, `${HCM}.tracing.overall_sampling`],
    ] as const) {
      it(`rejects HCM tracing ${field} ${value} (not applied by the SDK, or out of range)`, () => {
        const raw = hcm({ ...RDS_HCM, tracing: { [field]: { value } } });
        expectIssueAt(lds.decode(encode(LISTENER_TYPE_URL, raw), ctx), path);
      });
    }

    it('decodes an inline route_config, the fault filter and max_stream_duration', () => {
      const raw = hcm({
        route_config: {
          name: 'inline',
          virtual_hosts: [
            {
              name: 'vh',
              domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }],
            },
          ],
        },
        common_http_protocol_options: { max_stream_duration: { seconds: 2, nanos: 500_000_000 } },
        http_filters: [
          {
            name: 'fault',
            typed_config: {
              '@type': FAULT_FILTER_TYPE_URL,
              abort: { http_status: 503, percentage: { numerator: 50, denominator: 'HUNDRED' } },
            },
          },
          {
            name: 'x',
            is_optional: true,
            typed_config: { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' },
          },
          router,
        ],
      });
      const value = expectOk(lds.decode(encode(LISTENER_TYPE_URL, raw), ctx));
      assert.equal(value.maxStreamDurationMs, 2500);
      assert.equal(value.routeSource.kind, 'inline');
      assert.equal(
        value.routeSource.routeConfig.virtualHosts[0]?.routes[0]?.action.clusters[0]?.name,
        'c',
      );
      assert.deepEqual(value.httpFilters[0]?.config, {
        kind: 'fault',
        fault: {
          delay: undefined,
          abort: { kind: 'http', httpStatus: 503, percentagePerMillion: 500_000 },
          maxActiveFaults: undefined,
        },
      });
      assert.equal(value.httpFilters[1]?.config, undefined);
      assert.equal(value.httpFilters[1]?.isOptional, true);
    });

    const invalid: { name: string; raw: Record<string, unknown>; path: string }[] = [
      {
        name: 'a listener without api_listener or address',
        raw: { name: 'l' },
        path: 'api_listener',
      },
      {
        name: 'a server listener without filter chains',
        raw: { name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 80 } } },
        path: 'filter_chains',
      },
      {
        name: 'an api_listener that is not an HCM',
        raw: { name: 'l', api_listener: { api_listener: { '@type': ROUTER_FILTER_TYPE_URL } } },
        path: HCM,
      },
      { name: 'a listener without a name', raw: withField(VALID, 'name', undefined), path: 'name' },
      {
        name: 'an HCM with neither rds nor route_config',
        raw: hcm({ http_filters: [router] }),
        path: HCM,
      },
      {
        name: 'an RDS config_source that is not ads or self',
        raw: hcm({ ...RDS_HCM, rds: { config_source: { path: '/x' }, route_config_name: 'r' } }),
        path: `${HCM}.rds.config_source`,
      },
      {
        name: 'an RDS without config_source',
        raw: hcm({ ...RDS_HCM, rds: { route_config_name: 'r' } }),
        path: `${HCM}.rds.config_source`,
      },
      {
        name: 'an RDS without route_config_name',
        raw: hcm({ ...RDS_HCM, rds: { config_source: { self: {} } } }),
        path: `${HCM}.rds.route_config_name`,
      },
      {
        name: 'an empty http_filters list',
        raw: hcm({ ...RDS_HCM, http_filters: [] }),
        path: `${HCM}.http_filters`,
      },
      {
        name: 'a router that is not last',
        raw: hcm({
          ...RDS_HCM,
          http_filters: [router, { name: 'f', typed_config: { '@type': FAULT_FILTER_TYPE_URL } }],
        }),
        path: `${HCM}.http_filters[0]`,
      },
      {
        name: 'an unknown non-optional filter',
        raw: hcm({
          ...RDS_HCM,
          http_filters: [
            {
              name: 'mystery',
              typed_config: { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' },
            },
            router,
          ],
        }),
        path: `${HCM}.http_filters[0].typed_config`,
      },
      {
        name: 'duplicate filter names',
        raw: hcm({
          ...RDS_HCM,
          http_filters: [
            { ...router, name: 'r' },
            { ...router, name: 'r' },
          ],
        }),
        path: `${HCM}.http_filters[1].name`,
      },
      {
        name: 'a fault filter with an abort status out of range',
        raw: hcm({
          ...RDS_HCM,
          http_filters: [
            {
              name: 'f',
              typed_config: { '@type': FAULT_FILTER_TYPE_URL, abort: { http_status: 99 } },
            },
            router,
          ],
        }),
        path: `${HCM}.http_filters[0].typed_config.abort.http_status`,
      },
      {
        name: 'an inline route_config with an invalid domain',
        raw: hcm({
          http_filters: [router],
          route_config: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['a*b'] }] },
        }),
        path: `${HCM}.route_config.virtual_hosts[0].domains[0]`,
      },
    ];
    for (const { name, raw, path } of invalid) {
      it(`rejects ${name}`, () => {
        expectIssueAt(lds.decode(encode(LISTENER_TYPE_URL, raw), ctx), path);
      });
    }

    it('reports the name of an invalid listener so it can be NACKed by name', () => {
      const result = lds.decode(encode(LISTENER_TYPE_URL, hcm({ http_filters: [router] })), ctx);
      assert.equal(result.ok, false);
      assert.equal(result.name, 'inventory');
    });

    it('rejects an Any of another type without throwing', () => {
      const result = lds.decode(encode(ROUTER_FILTER_TYPE_URL, {}), ctx);
      expectIssueAt(result, '');
    });

    it('rejects malformed bytes without throwing', () => {
      const result = lds.decode(
        { type_url: LISTENER_TYPE_URL, value: Buffer.from([0xff, 0xff, 0xff]) },
        ctx,
      );
      expectIssueAt(result, '');
    });
  });

  describe('isEqual', () => {
    it('is true for two decodes of the same resource and false after a change', () => {
      const a = expectOk(lds.decode(encode(LISTENER_TYPE_URL, VALID), ctx));
      const b = expectOk(lds.decode(encode(LISTENER_TYPE_URL, VALID), ctx));
      const changed = hcm({
        ...RDS_HCM,
        rds: { config_source: { ads: {} }, route_config_name: 'other' },
      });
      const c = expectOk(lds.decode(encode(LISTENER_TYPE_URL, changed), ctx));
      assert.equal(lds.isEqual(a, b), true);
      assert.equal(lds.isEqual(a, c), false);
    });
  });

  it('round-trips: encode → decode → encode → decode gives an equal update', () => {
    const first = encode(LISTENER_TYPE_URL, VALID);
    const again = encode(LISTENER_TYPE_URL, ctx.protos.decodeAny(first));
    assert.ok(lds.isEqual(expectOk(lds.decode(first, ctx)), expectOk(lds.decode(again, ctx))));
  });
});
