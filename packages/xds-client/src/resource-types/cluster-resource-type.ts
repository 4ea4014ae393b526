// CDS: decodes envoy.config.cluster.v3.Cluster (EDS clusters) into a ClusterUpdate.
// Spec: envoy/config/cluster/v3/cluster.proto, circuit_breaker.proto; gRFC A27 (CDS), A42 (ring
// hash), A48 (least request), A52 (custom LB policies), A50 (outlier detection), A29 (mTLS).
import { CLUSTER_TYPE_URL } from '../protos/type-urls.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  anyField,
  checkAdsConfigSource,
  decodeResource,
  deepEqual,
  deepFreeze,
  durationMs,
  effectiveTypeUrl,
  join,
  message,
  messages,
  percent,
  str,
  structToJson,
  tryDecodeAny,
  wrappedInt,
} from './decode-helpers.js';
import type { OutlierDetectionUpdate } from './outlier-detection.js';
import { decodeOutlierDetection } from './outlier-detection.js';
import type { UpstreamTlsUpdate } from './upstream-tls.js';
import { decodeUpstreamTls } from './upstream-tls.js';
import type { DecodeContext, DecodeResult, XdsResourceType } from './xds-resource-type.js';

/** The endpoint-picking policy inside a locality. */
export type LbPolicyUpdate =
  | { readonly kind: 'round_robin' }
  | { readonly kind: 'least_request'; readonly choiceCount: number }
  | { readonly kind: 'ring_hash'; readonly minRingSize: number; readonly maxRingSize: number }
  | { readonly kind: 'random' };

/** Circuit-breaker thresholds of the DEFAULT priority, Envoy's defaults filled in. */
export interface CircuitBreakersUpdate {
  /** Default 1024. */
  readonly maxConnections: number;
  /** Default 1024. */
  readonly maxPendingRequests: number;
  /** Default 1024. */
  readonly maxRequests: number;
  /** Default 3. */
  readonly maxRetries: number;
  /** When set, replaces `maxRetries` with a share of active requests (Envoy's retry budget). */
  readonly retryBudget:
    { readonly budgetPercent: number; readonly minRetryConcurrency: number } | undefined;
}

/** A decoded Cluster. Only EDS clusters are supported. Deep-frozen. */
export interface ClusterUpdate {
  readonly name: string;
  /** The EDS resource to watch: `eds_cluster_config.service_name`, else the cluster name. */
  readonly edsServiceName: string;
  readonly lbPolicy: LbPolicyUpdate;
  /** True when the policy came from `load_balancing_policy` wrapped in wrr_locality. */
  readonly wrrLocality: boolean;
  /** Default 5000 (Envoy). */
  readonly connectTimeoutMs: number;
  readonly circuitBreakers: CircuitBreakersUpdate;
  /**
   * `max_requests_per_connection`: requests sent on one upstream connection before it is closed
   * and a new one opened. Undefined (unset or 0) = no limit, Envoy's default.
   */
  readonly maxRequestsPerConnection: number | undefined;
  /** Undefined when the cluster has no outlier detection. */
  readonly outlierDetection: OutlierDetectionUpdate | undefined;
  /** Undefined for plaintext. */
  readonly tls: UpstreamTlsUpdate | undefined;
  /** `metadata.filter_metadata` as plain JSON, keyed by filter name (e.g. `istio`). */
  readonly filterMetadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

const RING_HASH_MAX = 8_388_608; // gRPC's cap (A42) and Envoy's default maximum.
const POLICY_PREFIX = 'type.googleapis.com/envoy.extensions.load_balancing_policies.';
const RING_HASH_POLICY = `${POLICY_PREFIX}ring_hash.v3.RingHash`;
const ROUND_ROBIN_POLICY = `${POLICY_PREFIX}round_robin.v3.RoundRobin`;
const LEAST_REQUEST_POLICY = `${POLICY_PREFIX}least_request.v3.LeastRequest`;
const WRR_LOCALITY_POLICY = `${POLICY_PREFIX}wrr_locality.v3.WrrLocality`;

function ringHash(
  m: ProtoObject,
  path: string,
  issues: IssueCollector,
  hashFunction: string,
  allowedHash: readonly string[],
): LbPolicyUpdate {
  if (!allowedHash.includes(hashFunction)) {
    issues.add(join(path, 'hash_function'), `must be XX_HASH, got ${hashFunction}`);
  }
  const minRingSize = wrappedInt(m, 'minimum_ring_size') ?? 1024;
  const maxRingSize = wrappedInt(m, 'maximum_ring_size') ?? RING_HASH_MAX;
  if (minRingSize < 1 || minRingSize > RING_HASH_MAX) {
    issues.add(join(path, 'minimum_ring_size'), `must be in [1, ${RING_HASH_MAX}]`);
  }
  if (maxRingSize > RING_HASH_MAX) {
    issues.add(join(path, 'maximum_ring_size'), `must be <= ${RING_HASH_MAX}`);
  }
  if (minRingSize > maxRingSize) {
    issues.add(join(path, 'minimum_ring_size'), 'must be <= maximum_ring_size');
  }
  return { kind: 'ring_hash', minRingSize, maxRingSize };
}

function leastRequest(m: ProtoObject, path: string, issues: IssueCollector): LbPolicyUpdate {
  const choiceCount = wrappedInt(m, 'choice_count') ?? 2;
  if (choiceCount < 2) issues.add(join(path, 'choice_count'), 'must be >= 2');
  return { kind: 'least_request', choiceCount };
}

/**
 * `load_balancing_policy`: the first policy Weft supports wins, as in gRPC (A52); wrr_locality
 * wraps another policy list. Undefined (with an issue) when none is supported.
 */
function typedPolicy(
  policyList: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
  depth: number,
): { policy: LbPolicyUpdate; wrrLocality: boolean } | undefined {
  const policies = messages(policyList, 'policies');
  for (const [i, p] of policies.entries()) {
    const pp = `${join(path, 'policies')}[${i}].typed_extension_config.typed_config`;
    const any = anyField(message(p, 'typed_extension_config') ?? {}, 'typed_config');
    if (any === undefined) continue;
    const typeUrl = effectiveTypeUrl(any, ctx);
    if (
      ![RING_HASH_POLICY, ROUND_ROBIN_POLICY, LEAST_REQUEST_POLICY, WRR_LOCALITY_POLICY].includes(
        typeUrl,
      )
    ) {
      continue;
    }
    const cfg = any.type_url === typeUrl ? tryDecodeAny(any, ctx) : undefined;
    if (cfg === undefined) {
      issues.add(pp, `malformed ${typeUrl}`);
      return undefined;
    }
    switch (typeUrl) {
      case RING_HASH_POLICY:
        return {
          policy: ringHash(cfg, pp, issues, str(cfg, 'hash_function') || 'DEFAULT_HASH', [
            'DEFAULT_HASH',
            'XX_HASH',
          ]),
          wrrLocality: false,
        };
      case ROUND_ROBIN_POLICY:
        return { policy: { kind: 'round_robin' }, wrrLocality: false };
      case LEAST_REQUEST_POLICY:
        return { policy: leastRequest(cfg, pp, issues), wrrLocality: false };
      default: {
        if (depth > 4) {
          issues.add(pp, 'policies nested too deeply');
          return undefined;
        }
        const inner = message(cfg, 'endpoint_picking_policy') ?? {};
        const r = typedPolicy(inner, join(pp, 'endpoint_picking_policy'), issues, ctx, depth + 1);
        return r === undefined ? undefined : { policy: r.policy, wrrLocality: true };
      }
    }
  }
  issues.add(join(path, 'policies'), 'no supported load balancing policy');
  return undefined;
}

function lbPolicy(
  msg: ProtoObject,
  issues: IssueCollector,
  ctx: DecodeContext,
): { policy: LbPolicyUpdate; wrrLocality: boolean } {
  const fallback = { policy: { kind: 'round_robin' } as const, wrrLocality: false };
  const typed = message(msg, 'load_balancing_policy');
  if (typed !== undefined) {
    return typedPolicy(typed, 'load_balancing_policy', issues, ctx, 0) ?? fallback;
  }
  const lb = str(msg, 'lb_policy') || 'ROUND_ROBIN';
  switch (lb) {
    case 'ROUND_ROBIN':
      return fallback;
    case 'RANDOM':
      return { policy: { kind: 'random' }, wrrLocality: false };
    case 'LEAST_REQUEST':
      return {
        policy: leastRequest(
          message(msg, 'least_request_lb_config') ?? {},
          'least_request_lb_config',
          issues,
        ),
        wrrLocality: false,
      };
    case 'RING_HASH': {
      const cfg = message(msg, 'ring_hash_lb_config') ?? {};
      const hash = str(cfg, 'hash_function') || 'XX_HASH';
      return {
        policy: ringHash(cfg, 'ring_hash_lb_config', issues, hash, ['XX_HASH']),
        wrrLocality: false,
      };
    }
    default:
      issues.add('lb_policy', `unsupported ${lb}`);
      return fallback;
  }
}

function circuitBreakers(msg: ProtoObject, issues: IssueCollector): CircuitBreakersUpdate {
  const thresholds = messages(message(msg, 'circuit_breakers') ?? {}, 'thresholds');
  const index = thresholds.findIndex((t) => (str(t, 'priority') || 'DEFAULT') === 'DEFAULT');
  const t = thresholds[index] ?? {};
  const path = `circuit_breakers.thresholds[${index}]`;
  const budget = message(t, 'retry_budget');
  let retryBudget: CircuitBreakersUpdate['retryBudget'];
  if (budget !== undefined) {
    const budgetPercent =
      percent(budget, 'budget_percent', join(path, 'retry_budget.budget_percent'), issues) ?? 20;
    retryBudget = {
      budgetPercent,
      minRetryConcurrency: wrappedInt(budget, 'min_retry_concurrency') ?? 3,
    };
  }
  return {
    maxConnections: wrappedInt(t, 'max_connections') ?? 1024,
    maxPendingRequests: wrappedInt(t, 'max_pending_requests') ?? 1024,
    maxRequests: wrappedInt(t, 'max_requests') ?? 1024,
    maxRetries: wrappedInt(t, 'max_retries') ?? 3,
    retryBudget,
  };
}

const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/**
 * The cluster's `max_requests_per_connection` (0 = unlimited, as in Envoy). The newer
 * HttpProtocolOptions form is not decoded (its proto is not in Weft's bundle): a cluster that
 * sets it is rejected rather than served without the limit.
 */
function maxRequestsPerConnection(msg: ProtoObject, issues: IssueCollector): number | undefined {
  const options = message(msg, 'typed_extension_protocol_options');
  if (options?.[HTTP_PROTOCOL_OPTIONS_KEY] !== undefined) {
    issues.add(
      `typed_extension_protocol_options.${HTTP_PROTOCOL_OPTIONS_KEY}`,
      'not supported; use the cluster field max_requests_per_connection',
    );
  }
  const n = wrappedInt(msg, 'max_requests_per_connection');
  return n === undefined || n === 0 ? undefined : n;
}

function decodeCluster(
  msg: ProtoObject,
  name: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): ClusterUpdate {
  const type = str(msg, 'type') || 'STATIC';
  let edsServiceName = name;
  if (message(msg, 'cluster_type') !== undefined) {
    issues.add('cluster_type', 'custom cluster types (aggregate, …) are not supported');
  } else if (type !== 'EDS') {
    issues.add('type', `unsupported ${type}: only EDS clusters are supported`);
  } else {
    const eds = message(msg, 'eds_cluster_config') ?? {};
    checkAdsConfigSource(message(eds, 'eds_config'), 'eds_cluster_config.eds_config', issues);
    edsServiceName = str(eds, 'service_name') || name;
  }
  const { policy, wrrLocality } = lbPolicy(msg, issues, ctx);
  const od = message(msg, 'outlier_detection');
  const socket = message(msg, 'transport_socket');
  const filterMetadata: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(
    message(message(msg, 'metadata') ?? {}, 'filter_metadata') ?? {},
  )) {
    filterMetadata[k] = structToJson(typeof v === 'object' && v !== null ? v : undefined);
  }
  return {
    name,
    edsServiceName,
    lbPolicy: policy,
    wrrLocality,
    connectTimeoutMs: durationMs(msg, 'connect_timeout', '', issues) ?? 5000,
    circuitBreakers: circuitBreakers(msg, issues),
    maxRequestsPerConnection: maxRequestsPerConnection(msg, issues),
    outlierDetection:
      od === undefined ? undefined : decodeOutlierDetection(od, 'outlier_detection', issues),
    tls:
      socket === undefined ? undefined : decodeUpstreamTls(socket, 'transport_socket', issues, ctx),
    filterMetadata,
  };
}

/** The CDS resource type. In SotW every response carries the full set (a missing one is deleted). */
export class ClusterResourceType implements XdsResourceType<ClusterUpdate> {
  readonly typeUrl = CLUSTER_TYPE_URL;
  readonly shortName = 'cds';
  readonly allResourcesRequiredInSotW = true;

  /** Decodes and validates; never throws. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<ClusterUpdate> {
    return decodeResource(raw, ctx, this.typeUrl, 'name', (msg, name, issues) =>
      deepFreeze(decodeCluster(msg, name, issues, ctx)),
    );
  }

  /** Structural equality. */
  isEqual(a: ClusterUpdate, b: ClusterUpdate): boolean {
    return deepEqual(a, b);
  }
}
