// Tests of the translator: resource names and shapes per DESIGN "xDS conventions", per-client-kind
// shaping (gRPC notes), locality priorities relative to the client, consistency, and that every
// resource encodes and decodes with zero issues through @weft/xds-client's resource types.
import assert from 'node:assert/strict';
import {
  checkConsistent,
  formatConfigIssues,
  loadConfigDir,
  translateMesh,
} from '@weft/control-plane';
import type {
  ClientKind,
  ClientLocality,
  ClientView,
  MeshModel,
  XdsResourceSet,
} from '@weft/control-plane';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  FAULT_FILTER_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
  createDefaultResourceTypes,
  formatIssues,
  loadXdsProtos,
} from '@weft/xds-client';
import type { AdsTypeUrl, XdsResourceType } from '@weft/xds-client';
import { MESH_EXAMPLE, writeConfigDir } from '../fixtures/mesh-example.js';

const EAST: ClientLocality = { region: 'us-east-1', zone: 'us-east-1a', subZone: 'rack1' };
const WEST: ClientLocality = { region: 'us-west-2', zone: 'us-west-2a', subZone: 'rack1' };
const NOWHERE: ClientLocality = { region: '', zone: '', subZone: '' };

// Emitted resources are plain proto objects; tests walk them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

async function loadModel(overrides: Record<string, string> = {}): Promise<MeshModel> {
  const result = await loadConfigDir(await writeConfigDir({ ...MESH_EXAMPLE, ...overrides }));
  assert.ok(result.ok, result.ok ? '' : formatConfigIssues(result.issues));
  return result.model;
}

function get(resources: XdsResourceSet, typeUrl: AdsTypeUrl, name: string): Obj {
  const r = resources.get(typeUrl)?.get(name);
  assert.ok(r !== undefined, `missing ${typeUrl} ${name}`);
  return r;
}

function names(resources: XdsResourceSet, typeUrl: AdsTypeUrl): string[] {
  return [...(resources.get(typeUrl)?.keys() ?? [])].sort();
}

/** locality `region/zone/subzone` → [priority, weight] of a ClusterLoadAssignment. */
function placements(cla: Obj): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const l of cla['endpoints'] as Obj[])
    out[`${l['locality'].region}/${l['locality'].zone}/${l['locality'].sub_zone}`] = [
      l['priority'],
      l['load_balancing_weight'].value,
    ];
  return out;
}

const view = (kind: ClientKind, locality: ClientLocality = EAST): ClientView => ({
  kind,
  locality,
});

describe('translateMesh', () => {
  let model: MeshModel;
  before(async () => {
    model = await loadModel();
  });

  describe('resource names (DESIGN "xDS conventions")', () => {
    it('serves each host as Listener host (default port) and host:port, RDS host:port, clusters outbound|port|subset|host', () => {
      const { resources } = translateMesh(model, view('weft'));
      assert.deepEqual(names(resources, LISTENER_TYPE_URL), [
        'checkout',
        'checkout:8080',
        'inventory',
        'inventory:8080',
        'inventory:9090',
        'payment',
        'payment:7070',
      ]);
      assert.deepEqual(names(resources, ROUTE_CONFIGURATION_TYPE_URL), [
        'checkout:8080',
        'inventory:8080',
        'inventory:9090',
        'payment:7070',
      ]);
      const clusters = [
        'outbound|7070||payment',
        'outbound|7070|v1|payment',
        'outbound|8080||checkout',
        'outbound|8080||inventory',
        'outbound|8080|v1|inventory',
        'outbound|8080|v2|inventory',
        'outbound|9090||inventory',
        'outbound|9090|v1|inventory',
        'outbound|9090|v2|inventory',
      ].sort();
      assert.deepEqual(names(resources, CLUSTER_TYPE_URL), clusters);
      assert.deepEqual(names(resources, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL), clusters);
    });

    it('points both listeners of the default port at the same RouteConfiguration over ADS, router filter last', () => {
      const { resources } = translateMesh(model, view('grpc'));
      for (const [listener, rds] of [
        ['inventory', 'inventory:8080'],
        ['inventory:8080', 'inventory:8080'],
        ['inventory:9090', 'inventory:9090'],
      ] as const) {
        const hcm = get(resources, LISTENER_TYPE_URL, listener)['api_listener'].api_listener;
        assert.equal(hcm['@type'], HTTP_CONNECTION_MANAGER_TYPE_URL);
        assert.deepEqual(hcm.rds, {
          config_source: { ads: {}, resource_api_version: 'V3' },
          route_config_name: rds,
        });
        assert.deepEqual(hcm.http_filters.at(-1), {
          name: 'envoy.filters.http.router',
          typed_config: { '@type': ROUTER_FILTER_TYPE_URL },
        });
      }
    });

    it('adds the fault filter only to hosts whose routes inject faults', () => {
      const { resources } = translateMesh(model, view('weft'));
      const filters = (l: string): string[] =>
        get(resources, LISTENER_TYPE_URL, l)['api_listener'].api_listener.http_filters.map(
          (f: Obj) => f['typed_config']['@type'],
        );
      assert.deepEqual(filters('inventory'), [FAULT_FILTER_TYPE_URL, ROUTER_FILTER_TYPE_URL]);
      assert.deepEqual(filters('payment'), [ROUTER_FILTER_TYPE_URL]);
    });

    it('lists the host and the listener name among the virtual host domains', () => {
      const { resources } = translateMesh(model, view('grpc'));
      assert.deepEqual(
        get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'inventory:8080')['virtual_hosts'][0].domains,
        ['inventory', 'inventory:8080'],
      );
      assert.deepEqual(
        get(resources, ROUTE_CONFIGURATION_TYPE_URL, 'inventory:9090')['virtual_hosts'][0].domains,
        ['inventory', 'inventory:9090'],
      );
    });
  });

  describe('routes', () => {
    const routes = (resources: XdsResourceSet, rds: string): Obj[] =>
      get(resources, ROUTE_CONFIGURATION_TYPE_URL, rds)['virtual_hosts'][0].routes;

    it('routes a host without a VirtualService to its own cluster with one catch-all route', () => {
      const { resources } = translateMesh(model, view('weft'));
      const [only, ...rest] = routes(resources, 'checkout:8080');
      assert.equal(rest.length, 0);
      assert.deepEqual(only!['match'], { prefix: '/' });
      assert.equal(only!['route'].cluster, 'outbound|8080||checkout');
    });

    it('translates a header match, first match first, to the subset cluster of the same port', () => {
      const { resources } = translateMesh(model, view('weft'));
      for (const port of [8080, 9090]) {
        const [canary] = routes(resources, `inventory:${port}`);
        assert.deepEqual(canary!['match'], {
          prefix: '/',
          headers: [{ name: 'x-canary', string_match: { exact: 'true' } }],
        });
        assert.equal(canary!['route'].cluster, `outbound|${port}|v2|inventory`);
      }
    });

    it('translates weights 80/20 into weighted clusters, catch-all last', () => {
      const { resources } = translateMesh(model, view('weft'));
      const all = routes(resources, 'inventory:8080');
      const split = all.at(-1)!;
      assert.deepEqual(split['match'], { prefix: '/' });
      assert.deepEqual(split['route'].weighted_clusters, {
        clusters: [
          { name: 'outbound|8080|v1|inventory', weight: { value: 80 } },
          { name: 'outbound|8080|v2|inventory', weight: { value: 20 } },
        ],
      });
    });

    it('translates timeout, retries, fault and mirror', () => {
      const { resources } = translateMesh(model, view('weft'));
      const split = routes(resources, 'inventory:8080').at(-1)!;
      assert.deepEqual(split['route'].timeout, { seconds: 2, nanos: 0 });
      assert.equal(
        split['route'].max_stream_duration,
        undefined,
        'only gRPC clients need max_stream_duration',
      );
      assert.deepEqual(split['route'].retry_policy, {
        retry_on: '5xx,connect-failure,unavailable',
        num_retries: { value: 3 },
        per_try_timeout: { seconds: 0, nanos: 500_000_000 },
        retry_back_off: {
          base_interval: { seconds: 0, nanos: 25_000_000 },
          max_interval: { seconds: 0, nanos: 250_000_000 },
        },
      });
      assert.deepEqual(split['typed_per_filter_config']['envoy.filters.http.fault'], {
        '@type': FAULT_FILTER_TYPE_URL,
        delay: {
          fixed_delay: { seconds: 0, nanos: 100_000_000 },
          percentage: { numerator: 5000, denominator: 'MILLION' },
        },
      });
      assert.deepEqual(split['route'].request_mirror_policies, [
        {
          cluster: 'outbound|7070||payment',
          runtime_fraction: { default_value: { numerator: 100_000, denominator: 'MILLION' } },
        },
      ]);
    });

    it('gives gRPC clients the timeout as max_stream_duration too and only gRPC retry conditions, with a note', () => {
      const { resources, notes } = translateMesh(model, view('grpc'));
      const split = routes(resources, 'inventory:8080').at(-1)!;
      assert.deepEqual(split['route'].max_stream_duration.max_stream_duration, {
        seconds: 2,
        nanos: 0,
      });
      assert.deepEqual(split['route'].timeout, { seconds: 2, nanos: 0 });
      assert.equal(split['route'].retry_policy.retry_on, 'unavailable');
      assert.ok(
        notes.some(
          (n) =>
            n.resource === 'inventory:8080' && n.clientKind === 'grpc' && n.message.includes('5xx'),
        ),
      );
    });

    it('adds a header hash policy for a consistent-hash destination', () => {
      const { resources } = translateMesh(model, view('grpc'));
      const canary = routes(resources, 'inventory:8080')[0]!;
      assert.deepEqual(canary['route'].hash_policy, [{ header: { header_name: 'x-user' } }]);
      // The 80/20 route mixes a hashing and a non-hashing subset: no hash policy.
      assert.equal(routes(resources, 'inventory:8080').at(-1)!['route'].hash_policy, undefined);
    });
  });

  describe('clusters', () => {
    it('makes EDS clusters over ADS whose EDS name is the cluster name', () => {
      const { resources } = translateMesh(model, view('weft'));
      const c = get(resources, CLUSTER_TYPE_URL, 'outbound|8080|v1|inventory');
      assert.equal(c['type'], 'EDS');
      assert.deepEqual(c['eds_cluster_config'], {
        eds_config: { ads: {}, resource_api_version: 'V3' },
        service_name: 'outbound|8080|v1|inventory',
      });
      assert.deepEqual(c['connect_timeout'], { seconds: 1, nanos: 0 });
      assert.deepEqual(c['circuit_breakers'], {
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: { value: 100 },
            max_pending_requests: { value: 10 },
            max_requests: { value: 200 },
            max_retries: { value: 3 },
          },
        ],
      });
      assert.equal(c['outlier_detection'].consecutive_5xx.value, 3);
      assert.deepEqual(
        get(resources, CLUSTER_TYPE_URL, 'outbound|8080||checkout')['connect_timeout'],
        { seconds: 2, nanos: 0 },
        'MeshConfig default',
      );
      // No DestinationRule connection pool: Istio's 2^32-1 for every threshold, not Envoy's 1024/3.
      const unlimited = { value: 0xffff_ffff };
      assert.deepEqual(
        get(resources, CLUSTER_TYPE_URL, 'outbound|8080||checkout')['circuit_breakers'],
        {
          thresholds: [
            {
              priority: 'DEFAULT',
              max_connections: unlimited,
              max_pending_requests: unlimited,
              max_requests: unlimited,
              max_retries: unlimited,
            },
          ],
        },
      );
    });

    it('keeps LEAST_REQUEST for Weft clients and downgrades it to ROUND_ROBIN for gRPC clients with a note', () => {
      assert.equal(
        get(
          translateMesh(model, view('weft')).resources,
          CLUSTER_TYPE_URL,
          'outbound|8080|v1|inventory',
        )['lb_policy'],
        'LEAST_REQUEST',
      );
      const { resources, notes } = translateMesh(model, view('grpc'));
      assert.equal(
        get(resources, CLUSTER_TYPE_URL, 'outbound|8080|v1|inventory')['lb_policy'],
        'ROUND_ROBIN',
      );
      assert.ok(
        notes.some(
          (n) =>
            n.resource === 'outbound|8080|v1|inventory' &&
            n.clientKind === 'grpc' &&
            n.message.includes('LEAST_REQUEST'),
        ),
      );
      assert.equal(
        translateMesh(model, view('weft')).notes.length,
        0,
        'Weft clients get everything',
      );
    });

    it('uses RING_HASH for a consistent-hash subset', () => {
      const c = get(
        translateMesh(model, view('grpc')).resources,
        CLUSTER_TYPE_URL,
        'outbound|8080|v2|inventory',
      );
      assert.equal(c['lb_policy'], 'RING_HASH');
      assert.deepEqual(c['ring_hash_lb_config'], { minimum_ring_size: { value: 1024 } });
    });

    it('sends ISTIO_MUTUAL as an SDS-backed UpstreamTlsContext to Weft clients only', () => {
      const weft = get(
        translateMesh(model, view('weft')).resources,
        CLUSTER_TYPE_URL,
        'outbound|8080|v1|inventory',
      );
      const ctx = weft['transport_socket'].typed_config.common_tls_context;
      assert.equal(ctx.tls_certificate_sds_secret_configs[0].name, 'default');
      assert.equal(
        ctx.combined_validation_context.validation_context_sds_secret_config.name,
        'ROOTCA',
      );
      assert.deepEqual(
        ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names,
        [{ san_type: 'URI', matcher: { exact: 'spiffe://example.org/ns/shop/sa/inventory' } }],
      );
      const { resources, notes } = translateMesh(model, view('grpc'));
      assert.equal(
        get(resources, CLUSTER_TYPE_URL, 'outbound|8080|v1|inventory')['transport_socket'],
        undefined,
      );
      assert.ok(
        notes.some(
          (n) => n.resource === 'outbound|8080|v1|inventory' && n.message.includes('ISTIO_MUTUAL'),
        ),
      );
    });

    it('sends ISTIO_MUTUAL to a gRPC client naming a certificate provider in gRFC A29 shape', () => {
      const { resources, notes } = translateMesh(model, {
        ...view('grpc'),
        certificateProvider: 'default',
      });
      const ctx = get(resources, CLUSTER_TYPE_URL, 'outbound|8080|v1|inventory')['transport_socket']
        .typed_config.common_tls_context;
      assert.equal(ctx.tls_certificate_provider_instance.instance_name, 'default');
      assert.equal(ctx.tls_certificate_sds_secret_configs, undefined);
      const validation = ctx.combined_validation_context.default_validation_context;
      assert.equal(validation.ca_certificate_provider_instance.instance_name, 'default');
      assert.deepEqual(validation.match_subject_alt_names, [
        { exact: 'spiffe://example.org/ns/shop/sa/inventory' },
      ]);
      assert.equal(ctx.combined_validation_context.validation_context_sds_secret_config, undefined);
      assert.ok(!notes.some((n) => n.message.includes('ISTIO_MUTUAL')));
    });

    it('sends no consecutive-error outlier detection to gRPC clients and says so', () => {
      const { resources, notes } = translateMesh(model, view('grpc'));
      assert.equal(
        get(resources, CLUSTER_TYPE_URL, 'outbound|8080|v1|inventory')['outlier_detection'],
        undefined,
      );
      assert.ok(
        notes.some(
          (n) =>
            n.resource === 'outbound|8080|v1|inventory' && n.message.includes('outlierDetection'),
        ),
      );
    });
  });

  describe('endpoints and locality priorities', () => {
    const cla = (
      m: MeshModel,
      locality: ClientLocality,
      name = 'outbound|8080|v1|inventory',
    ): Obj =>
      get(
        translateMesh(m, view('weft', locality)).resources,
        CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
        name,
      );

    const PRIORITY_CASES: readonly {
      name: string;
      client: ClientLocality;
      expected: Record<string, [number, number]>;
    }[] = [
      {
        name: 'orders a us-east-1 client: same subzone, same region, failover region us-west-2, then the rest',
        client: EAST,
        expected: {
          'us-east-1/us-east-1a/rack1': [0, 3],
          'us-east-1/us-east-1b/rack1': [1, 1],
          'us-west-2/us-west-2a/rack1': [2, 1],
          'eu-west-1/eu-west-1a/': [3, 1],
        },
      },
      {
        name: 'orders a us-west-2 client (no failover rule from us-west-2): own locality, then all others',
        client: WEST,
        expected: {
          'us-west-2/us-west-2a/rack1': [0, 1],
          'us-east-1/us-east-1a/rack1': [1, 3],
          'us-east-1/us-east-1b/rack1': [1, 1],
          'eu-west-1/eu-west-1a/': [1, 1],
        },
      },
      {
        name: 'puts everything at priority 0 for a client without locality',
        client: NOWHERE,
        expected: {
          'us-east-1/us-east-1a/rack1': [0, 3],
          'us-east-1/us-east-1b/rack1': [0, 1],
          'us-west-2/us-west-2a/rack1': [0, 1],
          'eu-west-1/eu-west-1a/': [0, 1],
        },
      },
    ];
    for (const c of PRIORITY_CASES) {
      it(c.name, () => {
        assert.deepEqual(placements(cla(model, c.client)), c.expected);
      });
    }

    it('filters endpoints by subset labels and maps the port by WorkloadEntry port name', () => {
      const v2 = cla(model, EAST, 'outbound|8080|v2|inventory');
      assert.deepEqual(
        v2['endpoints'].flatMap((l: Obj) =>
          l['lb_endpoints'].map((e: Obj) => e['endpoint'].address.socket_address.address),
        ),
        ['127.0.1.3'],
      );
      const grpcPort = cla(model, EAST, 'outbound|9090|v1|inventory');
      const eastA = grpcPort['endpoints'].find(
        (l: Obj) => l['locality'].sub_zone === 'rack1' && l['locality'].zone === 'us-east-1a',
      );
      assert.deepEqual(eastA['lb_endpoints'][0].endpoint.address.socket_address, {
        address: '127.0.1.1',
        port_value: 19090,
      });
      assert.deepEqual(eastA['lb_endpoints'][0].load_balancing_weight, { value: 3 });
      assert.deepEqual(grpcPort['policy'], { overprovisioning_factor: { value: 140 } });
    });

    it('puts the failover target region right after the same region', async () => {
      const m = await loadModel({
        'rules/inventory.yml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover: [{ from: us-east-1, to: eu-west-1 }]
  subsets: [{ name: v1, labels: { version: v1 } }]
`,
      });
      assert.deepEqual(placements(cla(m, EAST)), {
        'us-east-1/us-east-1a/rack1': [0, 3],
        'us-east-1/us-east-1b/rack1': [1, 1],
        'eu-west-1/eu-west-1a/': [2, 1],
        'us-west-2/us-west-2a/rack1': [3, 1],
      });
    });

    it('weights localities by the matching distribute rule at one priority, dropping unlisted localities', async () => {
      const m = await loadModel({
        'rules/inventory.yml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
          - from: us-east-1/*
            to: { "us-east-1/*": 80, "us-west-2/*": 20 }
  subsets: [{ name: v1, labels: { version: v1 } }]
`,
      });
      assert.deepEqual(placements(cla(m, EAST)), {
        'us-east-1/us-east-1a/rack1': [0, 40],
        'us-east-1/us-east-1b/rack1': [0, 40],
        'us-west-2/us-west-2a/rack1': [0, 20],
      });
      // No rule matches a us-west-2 client: one priority, default weights.
      assert.deepEqual(
        Object.values(placements(cla(m, WEST))).map(([p]) => p),
        [0, 0, 0, 0],
      );
    });

    it('puts everything at priority 0 when localityLbSetting is disabled', async () => {
      const m = await loadModel({
        'rules/inventory.yml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  trafficPolicy:
    loadBalancer:
      localityLbSetting: { enabled: false }
  subsets: [{ name: v1, labels: { version: v1 } }]
`,
      });
      assert.deepEqual(
        new Set(Object.values(placements(cla(m, EAST))).map(([p]) => p)),
        new Set([0]),
      );
    });
  });

  describe('output validity', () => {
    const protos = loadXdsProtos();
    const types = createDefaultResourceTypes();
    for (const kind of ['weft', 'grpc', 'envoy'] as const) {
      for (const locality of [EAST, WEST, NOWHERE]) {
        it(`emits only resources that encode and decode with zero issues (${kind}, ${locality.region || 'no locality'})`, () => {
          const { resources } = translateMesh(model, view(kind, locality));
          let count = 0;
          for (const [typeUrl, byName] of resources) {
            const type = types.find((t) => t.typeUrl === typeUrl) as
              XdsResourceType<unknown> | undefined;
            assert.ok(type !== undefined, `no resource type for ${typeUrl}`);
            for (const [name, resource] of byName) {
              const any = protos.encodeAny(typeUrl, resource);
              const decoded = type.decode(any, { protos });
              assert.ok(
                decoded.ok,
                `${typeUrl} ${name}: ${decoded.ok ? '' : formatIssues(decoded.issues)}`,
              );
              assert.equal(decoded.name, name);
              count++;
            }
          }
          assert.equal(count, 7 + 4 + 9 + 9);
        });
      }
    }

    it('is deterministic: the same model and view give equal output', () => {
      assert.deepEqual(
        translateMesh(model, view('grpc', WEST)),
        translateMesh(model, view('grpc', WEST)),
      );
    });
  });
});

describe('checkConsistent', () => {
  let model: MeshModel;
  before(async () => {
    model = await loadModel();
  });

  it('passes for translator output of every client kind', () => {
    for (const kind of ['weft', 'grpc', 'envoy'] as const)
      assert.deepEqual(checkConsistent(translateMesh(model, view(kind)).resources), []);
  });

  const DANGLING: readonly {
    name: string;
    typeUrl: AdsTypeUrl;
    remove: string;
    expected: RegExp;
  }[] = [
    {
      name: 'catches a listener naming a missing RouteConfiguration',
      typeUrl: ROUTE_CONFIGURATION_TYPE_URL,
      remove: 'payment:7070',
      expected: /^Listener payment(:7070)?: .*payment:7070/,
    },
    {
      name: 'catches a route naming a missing cluster',
      typeUrl: CLUSTER_TYPE_URL,
      remove: 'outbound|8080|v2|inventory',
      expected: /^RouteConfiguration inventory:8080: .*outbound\|8080\|v2\|inventory/,
    },
    {
      name: 'catches a mirror naming a missing cluster',
      typeUrl: CLUSTER_TYPE_URL,
      remove: 'outbound|7070||payment',
      expected: /^RouteConfiguration inventory:8080: .*outbound\|7070\|\|payment/,
    },
    {
      name: 'catches a cluster whose EDS name has no ClusterLoadAssignment',
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      remove: 'outbound|8080||checkout',
      expected: /^Cluster outbound\|8080\|\|checkout: /,
    },
  ];
  for (const c of DANGLING) {
    it(c.name, () => {
      const { resources } = translateMesh(model, view('weft'));
      const copy = new Map([...resources].map(([url, byName]) => [url, new Map(byName)]));
      assert.ok(copy.get(c.typeUrl)!.delete(c.remove));
      const problems = checkConsistent(copy);
      assert.ok(problems.length > 0);
      assert.ok(
        problems.some((p) => c.expected.test(p)),
        problems.join('\n'),
      );
    });
  }
});
