// Builds a Cluster for one host, port and subset from its resolved traffic policy, shaped for the
// client kind (gRPC gets no policy it would NACK; each change is a TranslationNote).
// Spec: envoy/config/cluster/v3/cluster.proto; DESIGN.md "xDS conventions"; XDS-NOTES.md.
import { UPSTREAM_TLS_CONTEXT_TYPE_URL } from '@weft/xds-client';
import {
  CERTIFICATE_PROVIDER_METADATA_KEY,
  type ClientKind,
  type TranslationNote,
} from '../contracts.js';
import { msToDuration } from '../config/duration.js';
import type {
  MeshEndpoint,
  MeshSettings,
  OutlierDetection,
  TrafficPolicy,
} from '../config/mesh-model.js';

const ADS_CONFIG_SOURCE = Object.freeze({ ads: {}, resource_api_version: 'V3' });

/** SDS secret names a Weft client is sent its workload certificate and root CA under. */
export const SDS_CERTIFICATE_SECRET = 'default';

/** Istio's default for every connection-pool threshold the DestinationRule leaves unset: 2^32-1. */
export const ISTIO_UNLIMITED = 0xffff_ffff;
/** See {@link SDS_CERTIFICATE_SECRET}. */
export const SDS_ROOT_CA_SECRET = 'ROOTCA';

/** Options of {@link buildCluster}. */
export interface ClusterInput {
  readonly name: string;
  readonly policy: TrafficPolicy;
  /** Endpoints of the cluster (for the default subjectAltNames of ISTIO_MUTUAL). */
  readonly endpoints: readonly MeshEndpoint[];
  readonly settings: MeshSettings;
  readonly kind: ClientKind;
  /** gRPC clients that do xDS mTLS: their bootstrap certificate-provider instance (gRFC A29). */
  readonly certificateProvider?: string;
}

function u32(value: number): { value: number } {
  return { value };
}

function outlierDetection(od: OutlierDetection): Record<string, unknown> {
  const out: Record<string, unknown> = {
    interval: msToDuration(od.intervalMs),
    base_ejection_time: msToDuration(od.baseEjectionTimeMs),
    max_ejection_percent: u32(od.maxEjectionPercent),
    // Istio's outlier detection is consecutive-error based only.
    enforcing_success_rate: u32(0),
    enforcing_consecutive_5xx: u32(od.consecutive5xxErrors === null ? 0 : 100),
    enforcing_consecutive_gateway_failure: u32(od.consecutiveGatewayErrors === null ? 0 : 100),
  };
  if (od.consecutive5xxErrors !== null) out['consecutive_5xx'] = u32(od.consecutive5xxErrors);
  if (od.consecutiveGatewayErrors !== null)
    out['consecutive_gateway_failure'] = u32(od.consecutiveGatewayErrors);
  if (od.splitExternalLocalOriginErrors) {
    out['split_external_local_origin_errors'] = true;
    if (od.consecutiveLocalOriginFailures !== null) {
      out['consecutive_local_origin_failure'] = u32(od.consecutiveLocalOriginFailures);
      out['enforcing_consecutive_local_origin_failure'] = u32(100);
    }
  }
  return out;
}

function expectedSans(input: ClusterInput): readonly string[] {
  const tls = input.policy.tls;
  return tls.subjectAltNames.length > 0
    ? tls.subjectAltNames
    : [
        ...new Set(
          input.endpoints.map(
            (e) =>
              `spiffe://${input.settings.trustDomain}/ns/${e.namespace}/sa/${e.serviceAccount}`,
          ),
        ),
      ].sort();
}

/**
 * gRFC A29's shape for gRPC clients: certificate-provider instances instead of SDS, and SAN
 * matchers in `match_subject_alt_names` (grpc-js-xds reads only those; `exact` on a URI SAN).
 */
function providerTransportSocket(input: ClusterInput, instance: string): Record<string, unknown> {
  const tls = input.policy.tls;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
      ...(tls.sni === '' ? {} : { sni: tls.sni }),
      common_tls_context: {
        tls_certificate_provider_instance: { instance_name: instance, certificate_name: 'default' },
        combined_validation_context: {
          default_validation_context: {
            match_subject_alt_names: expectedSans(input).map((san) => ({ exact: san })),
            ca_certificate_provider_instance: {
              instance_name: instance,
              certificate_name: 'ROOTCA',
            },
          },
        },
      },
    },
  };
}

function transportSocket(input: ClusterInput): Record<string, unknown> {
  const tls = input.policy.tls;
  const sans = expectedSans(input);
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
      ...(tls.sni === '' ? {} : { sni: tls.sni }),
      common_tls_context: {
        tls_certificate_sds_secret_configs: [
          { name: SDS_CERTIFICATE_SECRET, sds_config: ADS_CONFIG_SOURCE },
        ],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: sans.map((san) => ({
              san_type: 'URI',
              matcher: { exact: san },
            })),
          },
          validation_context_sds_secret_config: {
            name: SDS_ROOT_CA_SECRET,
            sds_config: ADS_CONFIG_SOURCE,
          },
        },
      },
    },
  };
}

/** The Cluster as a plain proto object, plus what was changed for the client kind. */
export function buildCluster(input: ClusterInput): {
  cluster: Record<string, unknown>;
  notes: TranslationNote[];
} {
  const { name, policy, kind } = input;
  const notes: TranslationNote[] = [];
  const note = (message: string): void => {
    notes.push({ clientKind: kind, resource: name, message });
  };
  const grpc = kind === 'grpc';
  const cluster: Record<string, unknown> = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: name },
    connect_timeout: msToDuration(policy.connectionPool.connectTimeoutMs),
  };

  const lb = policy.loadBalancer;
  if (lb.kind === 'RING_HASH') {
    cluster['lb_policy'] = 'RING_HASH';
    cluster['ring_hash_lb_config'] = { minimum_ring_size: { value: lb.minimumRingSize } };
  } else if (grpc && lb.kind !== 'ROUND_ROBIN') {
    // grpc-js-xds NACKs LEAST_REQUEST (and RANDOM) clusters.
    cluster['lb_policy'] = 'ROUND_ROBIN';
    note(`loadBalancer ${lb.kind} is not supported by gRPC clients; sent ROUND_ROBIN`);
  } else {
    cluster['lb_policy'] = lb.kind;
  }

  const pool = policy.connectionPool;
  // Istio's defaults for unset connection-pool limits are 2^32-1 (istiod sends them explicitly),
  // not Envoy's 1024 / 3: without them a busy client would overflow (UO) or stop retrying at 3
  // concurrent retries although the user configured no limit.
  const threshold: Record<string, unknown> = {
    priority: 'DEFAULT',
    max_connections: u32(pool.maxConnections ?? ISTIO_UNLIMITED),
    max_pending_requests: u32(pool.http1MaxPendingRequests ?? ISTIO_UNLIMITED),
    max_requests: u32(pool.http2MaxRequests ?? ISTIO_UNLIMITED),
    max_retries: u32(pool.maxRetries ?? ISTIO_UNLIMITED),
  };
  cluster['circuit_breakers'] = { thresholds: [threshold] };
  if (pool.maxRequestsPerConnection !== null && pool.maxRequestsPerConnection > 0)
    cluster['max_requests_per_connection'] = u32(pool.maxRequestsPerConnection);
  if (pool.idleTimeoutMs !== null)
    cluster['common_http_protocol_options'] = { idle_timeout: msToDuration(pool.idleTimeoutMs) };

  const od = policy.outlierDetection;
  if (od !== null) {
    if (grpc) {
      // gRPC implements success-rate and failure-percentage ejection only (A50); Istio's
      // outlierDetection is consecutive-error based, so nothing of it carries over.
      note('outlierDetection (consecutive errors) is not supported by gRPC clients; not sent');
    } else {
      cluster['outlier_detection'] = outlierDetection(od);
      if (od.minHealthPercent > 0)
        cluster['common_lb_config'] = { healthy_panic_threshold: { value: od.minHealthPercent } };
    }
  }

  if (policy.tls.mode === 'ISTIO_MUTUAL') {
    if (!grpc) cluster['transport_socket'] = transportSocket(input);
    else if (input.certificateProvider !== undefined)
      cluster['transport_socket'] = providerTransportSocket(input, input.certificateProvider);
    else
      note(
        `tls ISTIO_MUTUAL not sent: this gRPC client names no certificate provider (node metadata ${CERTIFICATE_PROVIDER_METADATA_KEY}, see weft bootstrap --cert-dir); plaintext`,
      );
  }
  return { cluster, notes };
}
