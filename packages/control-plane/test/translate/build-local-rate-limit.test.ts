// Tests of the local rate-limit translation: the HCM filter before the router, the limit in the
// virtual host's or named routes' typed_per_filter_config, per-client-kind shaping (gRPC clients
// get neither, with a note for the admin API), and that the output decodes with zero issues.
import assert from 'node:assert/strict';
import { formatConfigIssues, loadConfigDir, translateMesh } from '@weft/control-plane';
import type { ClientKind, MeshModel, XdsResourceSet } from '@weft/control-plane';
import {
  LISTENER_TYPE_URL,
  LOCAL_RATELIMIT_FILTER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  createDefaultResourceTypes,
  formatIssues,
  loadXdsProtos,
} from '@weft/xds-client';
import type { AdsTypeUrl, XdsResourceType } from '@weft/xds-client';
import { writeConfigDir } from '../fixtures/mesh-example.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FILTER = 'envoy.filters.http.local_ratelimit';
const EAST = { region: 'us-east-1', zone: 'a', subZone: '' };

const BASE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: shop }
spec:
  hosts: [inventory]
  resolution: STATIC
  ports: [{ number: 8080, name: http }, { number: 9090, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payment, namespace: shop }
spec:
  hosts: [payment]
  resolution: STATIC
  ports: [{ number: 7070, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.2 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payment, namespace: shop }
spec:
  hosts: [payment]
  http:
    - name: charge
      match: [{ uri: { prefix: /pay.Payment/Charge } }]
      route: [{ destination: { host: payment } }]
    - name: rest
      route: [{ destination: { host: payment } }]
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  tokenBucket: { maxTokens: 100, tokensPerFill: 50, fillInterval: 1500ms }
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: charge, namespace: shop }
spec:
  host: payment
  routes: [charge]
  tokenBucket: { maxTokens: 5, fillInterval: 1s }
  responseHeaders: false
`;

function get(resources: XdsResourceSet, typeUrl: AdsTypeUrl, name: string): Obj {
  const r = resources.get(typeUrl)?.get(name);
  assert.ok(r !== undefined, `missing ${typeUrl} ${name}`);
  return r;
}

const filterNames = (resources: XdsResourceSet, listener: string): string[] =>
  (
    get(resources, LISTENER_TYPE_URL, listener)['api_listener'].api_listener.http_filters as Obj[]
  ).map((f) => f['name'] as string);

describe('local rate limit translation', () => {
  let model: MeshModel;
  before(async () => {
    const result = await loadConfigDir(await writeConfigDir({ 'mesh.yaml': BASE }));
    assert.ok(result.ok, result.ok ? '' : formatConfigIssues(result.issues));
    model = result.model;
  });

  it('adds the local_ratelimit filter before the router, with a stat_prefix and no bucket of its own', () => {
    const { resources } = translateMesh(model, { kind: 'weft', locality: EAST });
    for (const l of ['inventory', 'inventory:8080', 'inventory:9090', 'payment'])
      assert.deepEqual(filterNames(resources, l), [FILTER, 'envoy.filters.http.router']);
    const hcm = get(resources, LISTENER_TYPE_URL, 'inventory')['api_listener'].api_listener;
    assert.deepEqual(hcm.http_filters[0].typed_config, {
      '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
      stat_prefix: 'http_local_rate_limiter',
    });
  });

  it('puts a host-wide limit in the virtual host: bucket, 100 % enabled and enforced, 429, DRAFT_VERSION_03', () => {
    const { resources } = translateMesh(model, { kind: 'weft', locality: EAST });
    for (const rc of ['inventory:8080', 'inventory:9090']) {
      const vh = get(resources, ROUTE_CONFIGURATION_TYPE_URL, rc)['virtual_hosts'][0];
      assert.deepEqual(vh.typed_per_filter_config[FILTER], {
        '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
        stat_prefix: 'local_rate_limit.inventory',
        status: { code: 'TooManyRequests' },
        token_bucket: {
          max_tokens: 100,
          tokens_per_fill: { value: 50 },
          fill_interval: { seconds: 1, nanos: 500_000_000 },
        },
        filter_enabled: {
          runtime_key: 'local_rate_limit_enabled',
          default_value: { numerator: 100, denominator: 'HUNDRED' },
        },
        filter_enforced: {
          runtime_key: 'local_rate_limit_enforced',
          default_value: { numerator: 100, denominator: 'HUNDRED' },
        },
        enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
        rate_limited_as_resource_exhausted: true,
      });
    }
  });

  it('puts a route limit on the named route only, without headers when responseHeaders is false', () => {
    const { resources } = translateMesh(model, { kind: 'weft', locality: EAST });
    const vh = get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'payment:7070')['virtual_hosts'][0];
    assert.equal(vh.typed_per_filter_config, undefined);
    const [charge, rest] = vh.routes as Obj[];
    assert.ok(charge !== undefined);
    assert.equal(charge['name'], 'charge');
    const cfg: Obj = charge['typed_per_filter_config'][FILTER];
    assert.equal(cfg.stat_prefix, 'local_rate_limit.payment.charge');
    assert.deepEqual(cfg.token_bucket, {
      max_tokens: 5,
      tokens_per_fill: { value: 1 },
      fill_interval: { seconds: 1, nanos: 0 },
    });
    assert.equal(cfg.enable_x_ratelimit_headers, undefined);
    assert.equal(rest?.['typed_per_filter_config'], undefined);
  });

  it('sends gRPC clients neither the filter nor the limits, and notes it per RouteConfiguration', () => {
    const { resources, notes } = translateMesh(model, { kind: 'grpc', locality: EAST });
    assert.deepEqual(filterNames(resources, 'inventory:9090'), ['envoy.filters.http.router']);
    assert.deepEqual(filterNames(resources, 'payment'), ['envoy.filters.http.router']);
    const vh = get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'inventory:9090')['virtual_hosts'][0];
    assert.equal(vh.typed_per_filter_config, undefined);
    const payment = get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'payment:7070');
    assert.ok(
      (payment['virtual_hosts'][0].routes as Obj[]).every(
        (r) => r['typed_per_filter_config'] === undefined,
      ),
    );
    const rlNotes = notes.filter((n) => n.message.includes('local rate limit'));
    assert.deepEqual(rlNotes.map((n) => [n.clientKind, n.resource]).sort(), [
      ['grpc', 'inventory:8080'],
      ['grpc', 'inventory:9090'],
      ['grpc', 'payment:7070'],
    ]);
    assert.match(rlNotes[0]?.message ?? '', /not applied to gRPC clients/);
    assert.match(
      notes.find((n) => n.resource === 'payment:7070')?.message ?? '',
      /LocalRateLimit\/shop\/charge/,
    );
  });

  it('gives Envoy clients the same limits as Weft clients', () => {
    const weft = translateMesh(model, { kind: 'weft', locality: EAST }).resources;
    const envoy = translateMesh(model, { kind: 'envoy', locality: EAST }).resources;
    assert.deepEqual(
      get(envoy, ROUTE_CONFIGURATION_TYPE_URL, 'payment:7070'),
      get(weft, ROUTE_CONFIGURATION_TYPE_URL, 'payment:7070'),
    );
  });

  const protos = loadXdsProtos();
  const types = createDefaultResourceTypes();
  for (const kind of ['weft', 'grpc', 'envoy'] as const satisfies readonly ClientKind[]) {
    it(`emits listeners and routes that decode with zero issues, limits included (${kind})`, () => {
      const { resources } = translateMesh(model, { kind, locality: EAST });
      for (const typeUrl of [LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL] as const) {
        const type = types.find((t) => t.typeUrl === typeUrl) as
          XdsResourceType<unknown> | undefined;
        assert.ok(type !== undefined);
        for (const [name, resource] of resources.get(typeUrl) ?? []) {
          const decoded = type.decode(protos.encodeAny(typeUrl, resource), { protos });
          assert.ok(decoded.ok, `${name}: ${decoded.ok ? '' : formatIssues(decoded.issues)}`);
        }
      }
      const rds = types.find((t) => t.typeUrl === ROUTE_CONFIGURATION_TYPE_URL);
      const decoded = rds?.decode(
        protos.encodeAny(
          ROUTE_CONFIGURATION_TYPE_URL,
          get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'inventory:8080'),
        ),
        { protos },
      ) as { ok: true; value: Obj } | undefined;
      const override = decoded?.value['virtualHosts'][0].typedPerFilterConfig[FILTER];
      if (kind === 'grpc') assert.equal(override, undefined);
      else
        assert.deepEqual(override?.config, {
          statPrefix: 'local_rate_limit.inventory',
          tokenBucket: { maxTokens: 100, tokensPerFill: 50, fillIntervalMs: 1500 },
          filterEnabledPerMillion: 1_000_000,
          filterEnforcedPerMillion: 1_000_000,
          httpStatus: 429,
          xRateLimitHeaders: true,
          rateLimitedAsResourceExhausted: true,
        });
    });
  }
});
