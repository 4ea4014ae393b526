// The resilience policies the resilience benchmark turns on, each as a patch of the xDS resources
// of one service (what a control plane would send for it). Adding a policy to the benchmark is one
// more entry in RESILIENCE_POLICIES. Every value is chosen so the policy is active on every request
// and never trips on the happy path (no failures, thresholds far above the load).
// Envoy API: https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto
// and https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto
import {
  FAULT_FILTER_TYPE_URL,
  LOCAL_RATELIMIT_FILTER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '@weft/xds-client';

/** Which client the resources are for: the same policy can differ (gRPC status codes for retries). */
export type BenchProtocol = 'http' | 'grpc';

/** A plain xDS message object (snake_case fields). */
export type XdsObject = Record<string, unknown>;

/**
 * One policy. Each patch is deep-merged (objects by key, arrays by index) into the resource, so two
 * policies can share e.g. `circuit_breakers.thresholds[0]`.
 */
export interface ResiliencePolicy {
  /** Short name, shown in the per-policy rows (`--each`). */
  readonly name: string;
  /** Merged into the route's `route` action (RouteAction). */
  readonly routeAction?: (protocol: BenchProtocol) => XdsObject;
  /** Merged into the Cluster. */
  readonly cluster?: (protocol: BenchProtocol) => XdsObject;
  /**
   * HTTP filters placed before the router in the listener's HttpConnectionManager, in order
   * (fault injection, local rate limit…), e.g.
   * `{ name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT_TYPE_URL, abort: … } }`.
   */
  readonly httpFilters?: (protocol: BenchProtocol) => XdsObject[];
}

const seconds = (s: number): XdsObject => ({ seconds: String(s), nanos: 0 });
const millis = (ms: number): XdsObject => ({
  seconds: String(Math.floor(ms / 1000)),
  nanos: (ms % 1000) * 1_000_000,
});
/** High enough never to trip at the benchmark's concurrency (32). */
const NEVER = 100_000;

/** What the benchmark's "all policies" variant turns on. */
export const RESILIENCE_POLICIES: readonly ResiliencePolicy[] = [
  {
    // VirtualService retries: attempts 3, retryOn, perTryTimeout (the control plane's translation).
    name: 'retries',
    routeAction: (protocol) => ({
      retry_policy: {
        retry_on:
          protocol === 'grpc'
            ? 'unavailable,cancelled,deadline-exceeded,resource-exhausted'
            : 'connect-failure,reset,5xx,gateway-error,refused-stream',
        num_retries: { value: 3 },
        per_try_timeout: seconds(2),
        retry_back_off: { base_interval: millis(25), max_interval: millis(250) },
      },
    }),
  },
  {
    // VirtualService timeout (for gRPC also max_stream_duration, as the control plane sends it).
    name: 'route timeout',
    routeAction: (protocol) => ({
      timeout: seconds(10),
      ...(protocol === 'grpc'
        ? {
            max_stream_duration: {
              max_stream_duration: seconds(10),
              grpc_timeout_header_max: seconds(10),
            },
          }
        : {}),
    }),
  },
  {
    // DestinationRule outlierDetection (consecutive 5xx / gateway errors, as Istio's).
    name: 'outlier detection',
    cluster: () => ({
      outlier_detection: {
        interval: seconds(1),
        base_ejection_time: seconds(30),
        max_ejection_percent: { value: 50 },
        enforcing_success_rate: { value: 0 },
        consecutive_5xx: { value: 5 },
        enforcing_consecutive_5xx: { value: 100 },
        consecutive_gateway_failure: { value: 5 },
        enforcing_consecutive_gateway_failure: { value: 100 },
      },
    }),
  },
  {
    // DestinationRule connectionPool: maxConnections, http1MaxPendingRequests, http2MaxRequests, maxRetries.
    name: 'connection pool',
    cluster: () => ({
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: { value: NEVER },
            max_pending_requests: { value: NEVER },
            max_requests: { value: NEVER },
            max_retries: { value: NEVER },
          },
        ],
      },
    }),
  },
  {
    // Envoy's retry budget (replaces max_retries with a share of the active requests).
    name: 'retry budget',
    cluster: () => ({
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            retry_budget: { budget_percent: { value: 20 }, min_retry_concurrency: { value: 100 } },
          },
        ],
      },
    }),
  },
  {
    // VirtualService fault: delay and abort configured at 0 % (both drawn on every request).
    name: 'fault injection',
    httpFilters: () => [
      {
        name: 'envoy.filters.http.fault',
        typed_config: {
          '@type': FAULT_FILTER_TYPE_URL,
          delay: {
            fixed_delay: seconds(1),
            percentage: { numerator: 0, denominator: 'HUNDRED' },
          },
          abort: { http_status: 503, percentage: { numerator: 0, denominator: 'HUNDRED' } },
        },
      },
    ],
  },
  {
    // Weft LocalRateLimit: a token bucket taken from on every request, never empty here.
    name: 'local rate limit',
    httpFilters: () => [
      {
        name: 'envoy.filters.http.local_ratelimit',
        typed_config: {
          '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
          stat_prefix: 'bench',
          token_bucket: {
            max_tokens: 1_000_000_000,
            tokens_per_fill: { value: 1_000_000_000 },
            fill_interval: seconds(1),
          },
          filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
          filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
        },
      },
    ],
  },
];

/** Deep-merges `patch` into `target` (objects by key, arrays by index); returns `target`. */
export function mergeXds(target: XdsObject, patch: XdsObject): XdsObject {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (Array.isArray(value) && Array.isArray(current)) {
      value.forEach((item: unknown, i) => {
        const existing: unknown = current[i];
        current[i] = isObject(item) && isObject(existing) ? mergeXds(existing, item) : item;
      });
    } else if (isObject(value) && isObject(current)) {
      mergeXds(current, value);
    } else {
      target[key] = structuredClone(value);
    }
  }
  return target;
}

function isObject(value: unknown): value is XdsObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The router filter entry every HttpConnectionManager ends with. */
export const ROUTER_FILTER: XdsObject = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': ROUTER_FILTER_TYPE_URL },
};
