// Tests for ClusterResourceType (CDS): EDS clusters, LB policies (enum and typed), circuit
// breakers, outlier detection, upstream TLS and metadata, plus a table of invalid clusters.
import assert from 'node:assert/strict';
import { CLUSTER_TYPE_URL } from '../../src/protos/type-urls.js';
import { ClusterResourceType } from '../../src/resource-types/cluster-resource-type.js';
import { UPSTREAM_TLS_CONTEXT_TYPE_URL } from '../../src/resource-types/upstream-tls.js';
import { ctx, encode, expectIssueAt, expectOk, withField } from './fixtures.js';

const cds = new ClusterResourceType();
const LB = 'type.googleapis.com/envoy.extensions.load_balancing_policies.';
const VALID = {
  name: 'outbound|8080||inventory',
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
};

function typedLb(...policies: Record<string, unknown>[]): Record<string, unknown> {
  return {
    ...VALID,
    load_balancing_policy: {
      policies: policies.map((p, i) => ({
        typed_extension_config: { name: `p${i}`, typed_config: p },
      })),
    },
  };
}

const TLS = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
    sni: 'outbound_.8080_._.inventory',
    common_tls_context: {
      tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
      combined_validation_context: {
        default_validation_context: {
          match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/default/sa/inventory' }],
        },
        validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } },
      },
      alpn_protocols: ['h2'],
    },
  },
};

describe('ClusterResourceType', () => {
  describe('decode', () => {
    it('decodes a minimal EDS cluster with Envoy defaults', () => {
      const value = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, VALID), ctx));
      assert.deepEqual(value, {
        name: 'outbound|8080||inventory',
        edsServiceName: 'outbound|8080||inventory',
        lbPolicy: { kind: 'round_robin' },
        wrrLocality: false,
        connectTimeoutMs: 5000,
        circuitBreakers: {
          maxConnections: 1024,
          maxPendingRequests: 1024,
          maxRequests: 1024,
          maxRetries: 3,
          retryBudget: undefined,
        },
        maxRequestsPerConnection: undefined,
        outlierDetection: undefined,
        tls: undefined,
        filterMetadata: {},
      });
    });

    it('decodes max_requests_per_connection, 0 meaning no limit', () => {
      const limited = { ...VALID, max_requests_per_connection: { value: 3 } };
      const unlimited = { ...VALID, max_requests_per_connection: { value: 0 } };
      assert.equal(
        expectOk(cds.decode(encode(CLUSTER_TYPE_URL, limited), ctx)).maxRequestsPerConnection,
        3,
      );
      assert.equal(
        expectOk(cds.decode(encode(CLUSTER_TYPE_URL, unlimited), ctx)).maxRequestsPerConnection,
        undefined,
      );
    });

    it('decodes service_name, timeouts, breakers, outlier detection, TLS and metadata', () => {
      const raw = {
        ...VALID,
        eds_cluster_config: { eds_config: { self: {} }, service_name: 'inventory.eds' },
        connect_timeout: { seconds: 1, nanos: 500_000_000 },
        lb_policy: 'LEAST_REQUEST',
        least_request_lb_config: { choice_count: { value: 3 } },
        circuit_breakers: {
          thresholds: [
            { priority: 'HIGH', max_connections: { value: 1 } },
            {
              max_connections: { value: 10 },
              max_pending_requests: { value: 0 },
              max_requests: { value: 30 },
              max_retries: { value: 2 },
              retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: { value: 5 } },
            },
          ],
        },
        outlier_detection: {
          consecutive_5xx: { value: 3 },
          interval: { seconds: 1 },
          base_ejection_time: { seconds: 5 },
          max_ejection_percent: { value: 50 },
          enforcing_success_rate: { value: 0 },
        },
        transport_socket: TLS,
        metadata: {
          filter_metadata: {
            istio: {
              fields: {
                services: { list_value: { values: [{ string_value: 'inventory' }] } },
                weight: { number_value: 2 },
              },
            },
          },
        },
      };
      const value = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
      assert.equal(value.edsServiceName, 'inventory.eds');
      assert.equal(value.connectTimeoutMs, 1500);
      assert.deepEqual(value.lbPolicy, { kind: 'least_request', choiceCount: 3 });
      assert.deepEqual(value.circuitBreakers, {
        maxConnections: 10,
        maxPendingRequests: 0,
        maxRequests: 30,
        maxRetries: 2,
        retryBudget: { budgetPercent: 25, minRetryConcurrency: 5 },
      });
      const od = value.outlierDetection!;
      assert.equal(od.consecutive5xx, 3);
      assert.equal(od.intervalMs, 1000);
      assert.equal(od.baseEjectionTimeMs, 5000);
      assert.equal(od.maxEjectionTimeMs, 300_000);
      assert.equal(od.maxEjectionPercent, 50);
      assert.equal(od.enforcingSuccessRate, 0);
      assert.equal(od.failurePercentageThreshold, 85);
      assert.deepEqual(value.tls, {
        sni: 'outbound_.8080_._.inventory',
        certificateSecretNames: ['default'],
        certificateProviderInstance: undefined,
        validationSecretName: 'ROOTCA',
        validationProviderInstance: undefined,
        matchSubjectAltNames: [
          {
            kind: 'exact',
            value: 'spiffe://cluster.local/ns/default/sa/inventory',
            ignoreCase: false,
          },
        ],
        alpnProtocols: ['h2'],
      });
      assert.deepEqual(value.filterMetadata, { istio: { services: ['inventory'], weight: 2 } });
    });

    const policies: {
      name: string;
      raw: Record<string, unknown>;
      lbPolicy: unknown;
      wrrLocality?: boolean;
    }[] = [
      { name: 'RANDOM', raw: { ...VALID, lb_policy: 'RANDOM' }, lbPolicy: { kind: 'random' } },
      {
        name: 'LEAST_REQUEST with the default choice count',
        raw: { ...VALID, lb_policy: 'LEAST_REQUEST' },
        lbPolicy: { kind: 'least_request', choiceCount: 2 },
      },
      {
        name: 'RING_HASH with ring sizes',
        raw: {
          ...VALID,
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: {
            minimum_ring_size: { value: 64 },
            maximum_ring_size: { value: 4096 },
          },
        },
        lbPolicy: { kind: 'ring_hash', minRingSize: 64, maxRingSize: 4096 },
      },
      {
        name: 'typed ring_hash',
        raw: typedLb({
          '@type': `${LB}ring_hash.v3.RingHash`,
          hash_function: 'XX_HASH',
          minimum_ring_size: { value: 10 },
        }),
        lbPolicy: { kind: 'ring_hash', minRingSize: 10, maxRingSize: 8_388_608 },
      },
      {
        name: 'typed least_request',
        raw: typedLb({ '@type': `${LB}least_request.v3.LeastRequest`, choice_count: { value: 4 } }),
        lbPolicy: { kind: 'least_request', choiceCount: 4 },
      },
      {
        name: 'wrr_locality wrapping round_robin',
        raw: typedLb({
          '@type': `${LB}wrr_locality.v3.WrrLocality`,
          endpoint_picking_policy: {
            policies: [
              {
                typed_extension_config: {
                  name: 'rr',
                  typed_config: { '@type': `${LB}round_robin.v3.RoundRobin` },
                },
              },
            ],
          },
        }),
        lbPolicy: { kind: 'round_robin' },
        wrrLocality: true,
      },
      {
        name: 'the first supported typed policy (skipping an unknown one)',
        raw: typedLb(
          { '@type': `${LB}pick_first.v3.PickFirst` },
          { '@type': `${LB}round_robin.v3.RoundRobin` },
        ),
        lbPolicy: { kind: 'round_robin' },
      },
    ];
    for (const { name, raw, lbPolicy, wrrLocality } of policies) {
      it(`accepts lb policy ${name}`, () => {
        const value = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
        assert.deepEqual(value.lbPolicy, lbPolicy);
        assert.equal(value.wrrLocality, wrrLocality ?? false);
      });
    }

    const tls = (common: Record<string, unknown>): Record<string, unknown> => ({
      ...VALID,
      transport_socket: {
        name: 'tls',
        typed_config: { '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL, common_tls_context: common },
      },
    });
    const CTC = 'transport_socket.typed_config.common_tls_context';
    const invalid: { name: string; raw: Record<string, unknown>; path: string }[] = [
      {
        name: 'a STATIC cluster (the proto default type)',
        raw: withField(VALID, 'type', undefined),
        path: 'type',
      },
      { name: 'a LOGICAL_DNS cluster', raw: { ...VALID, type: 'LOGICAL_DNS' }, path: 'type' },
      {
        name: 'an EDS cluster without eds_config',
        raw: { ...VALID, eds_cluster_config: {} },
        path: 'eds_cluster_config.eds_config',
      },
      {
        name: 'an EDS config source that is not ads or self',
        raw: { ...VALID, eds_cluster_config: { eds_config: { path: '/etc/eds' } } },
        path: 'eds_cluster_config.eds_config',
      },
      {
        name: 'a custom cluster_type',
        raw: { name: 'agg', cluster_type: { name: 'envoy.clusters.aggregate' } },
        path: 'cluster_type',
      },
      { name: 'a MAGLEV lb_policy', raw: { ...VALID, lb_policy: 'MAGLEV' }, path: 'lb_policy' },
      {
        name: 'a least-request choice_count below 2',
        raw: {
          ...VALID,
          lb_policy: 'LEAST_REQUEST',
          least_request_lb_config: { choice_count: { value: 1 } },
        },
        path: 'least_request_lb_config.choice_count',
      },
      {
        name: 'a ring hash with MURMUR_HASH_2',
        raw: {
          ...VALID,
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' },
        },
        path: 'ring_hash_lb_config.hash_function',
      },
      {
        name: 'a ring hash with min above max',
        raw: {
          ...VALID,
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: {
            minimum_ring_size: { value: 100 },
            maximum_ring_size: { value: 10 },
          },
        },
        path: 'ring_hash_lb_config.minimum_ring_size',
      },
      {
        name: 'a ring hash max above 8M',
        raw: {
          ...VALID,
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: { maximum_ring_size: { value: 10_000_000 } },
        },
        path: 'ring_hash_lb_config.maximum_ring_size',
      },
      {
        name: 'typed policies none of which is supported',
        raw: typedLb({ '@type': `${LB}pick_first.v3.PickFirst` }),
        path: 'load_balancing_policy.policies',
      },
      {
        name: 'a negative connect_timeout',
        raw: { ...VALID, connect_timeout: { seconds: -1 } },
        path: 'connect_timeout',
      },
      {
        name: 'an outlier max_ejection_percent above 100',
        raw: { ...VALID, outlier_detection: { max_ejection_percent: { value: 101 } } },
        path: 'outlier_detection.max_ejection_percent',
      },
      {
        name: 'an outlier enforcing_failure_percentage above 100',
        raw: { ...VALID, outlier_detection: { enforcing_failure_percentage: { value: 200 } } },
        path: 'outlier_detection.enforcing_failure_percentage',
      },
      {
        name: 'an outlier max_ejection_time below base_ejection_time',
        raw: {
          ...VALID,
          outlier_detection: {
            base_ejection_time: { seconds: 10 },
            max_ejection_time: { seconds: 1 },
          },
        },
        path: 'outlier_detection.max_ejection_time',
      },
      {
        name: 'a retry budget above 100%',
        raw: {
          ...VALID,
          circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 150 } } }] },
        },
        path: 'circuit_breakers.thresholds[0].retry_budget.budget_percent',
      },
      {
        name: 'max_requests_per_connection in HttpProtocolOptions (not decoded)',
        raw: {
          ...VALID,
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              type_url:
                'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              value: new Uint8Array([]),
            },
          },
        },
        path: 'typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      },
      {
        name: 'a transport socket that is not TLS',
        raw: {
          ...VALID,
          transport_socket: {
            name: 'raw',
            typed_config: { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' },
          },
        },
        path: 'transport_socket.typed_config',
      },
      {
        name: 'an SDS certificate without sds_config',
        raw: tls({ tls_certificate_sds_secret_configs: [{ name: 'default' }] }),
        path: `${CTC}.tls_certificate_sds_secret_configs[0].sds_config`,
      },
      {
        name: 'an SDS certificate without a name',
        raw: tls({ tls_certificate_sds_secret_configs: [{ sds_config: { ads: {} } }] }),
        path: `${CTC}.tls_certificate_sds_secret_configs[0].name`,
      },
      {
        name: 'inline TLS certificates',
        raw: tls({ tls_certificates: [{ certificate_chain: { inline_string: 'x' } }] }),
        path: `${CTC}.tls_certificates`,
      },
      {
        name: 'a SAN matcher with an invalid regex',
        raw: tls({
          validation_context: { match_subject_alt_names: [{ safe_regex: { regex: '(' } }] },
        }),
        path: `${CTC}.validation_context.match_subject_alt_names[0].safe_regex.regex`,
      },
      {
        name: 'a typed SAN matcher that is not URI (only SPIFFE IDs are verified)',
        raw: tls({
          validation_context: {
            match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'a.example' } }],
          },
        }),
        path: `${CTC}.validation_context.match_typed_subject_alt_names[0].san_type`,
      },
    ];
    for (const { name, raw, path } of invalid) {
      it(`rejects ${name}`, () => {
        expectIssueAt(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx), path);
      });
    }

    it("reads typed URI SAN matchers (Istio's match_typed_subject_alt_names) as SAN matchers", () => {
      const raw = tls({
        tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [
              { san_type: 'URI', matcher: { exact: 'spiffe://td/ns/shop/sa/inventory' } },
            ],
          },
          validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } },
        },
      });
      const value = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
      assert.ok(value.tls !== undefined);
      assert.deepEqual(value.tls.matchSubjectAltNames, [
        { kind: 'exact', value: 'spiffe://td/ns/shop/sa/inventory', ignoreCase: false },
      ]);
      assert.equal(value.tls.validationSecretName, 'ROOTCA');
    });

    it('records gRPC certificate-provider instances (A29)', () => {
      const raw = tls({
        tls_certificate_provider_instance: { instance_name: 'default', certificate_name: 'leaf' },
        validation_context: { ca_certificate_provider_instance: { instance_name: 'roots' } },
      });
      const value = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
      assert.ok(value.tls !== undefined);
      assert.deepEqual(value.tls.certificateProviderInstance, {
        instanceName: 'default',
        certificateName: 'leaf',
      });
      assert.deepEqual(value.tls.validationProviderInstance, {
        instanceName: 'roots',
        certificateName: '',
      });
    });
  });

  describe('isEqual', () => {
    it('is true for the same cluster and false when a threshold changes', () => {
      const raw = { ...VALID, circuit_breakers: { thresholds: [{ max_requests: { value: 5 } }] } };
      const a = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
      const b = expectOk(cds.decode(encode(CLUSTER_TYPE_URL, raw), ctx));
      const c = expectOk(
        cds.decode(
          encode(CLUSTER_TYPE_URL, {
            ...raw,
            circuit_breakers: { thresholds: [{ max_requests: { value: 6 } }] },
          }),
          ctx,
        ),
      );
      assert.equal(cds.isEqual(a, b), true);
      assert.equal(cds.isEqual(a, c), false);
    });
  });

  it('round-trips through decodeAny and encodeAny to an equal update', () => {
    const first = encode(CLUSTER_TYPE_URL, {
      ...VALID,
      transport_socket: TLS,
      lb_policy: 'RING_HASH',
    });
    const again = encode(CLUSTER_TYPE_URL, ctx.protos.decodeAny(first));
    assert.ok(cds.isEqual(expectOk(cds.decode(first, ctx)), expectOk(cds.decode(again, ctx))));
  });
});
