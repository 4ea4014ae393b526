// Which failures a route's retry policy retries, and how long to back off: Envoy's `retry_on`
// semantics (x-envoy-retry-on / x-envoy-retry-grpc-on) and its jittered exponential back-off.
// Spec: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
import type { RetryPolicyUpdate } from '@weft/xds-client';

/** How an attempt failed before a response the caller could see arrived. */
export type RetriableFailure =
  /** The connection could not be established (refused, unreachable, connect timeout). */
  | 'connect-failure'
  /** The connection or stream died before response headers. */
  | 'reset'
  /** The per-try timeout fired before response headers. */
  | 'per-try-timeout';

/**
 * True when `policy` retries a failure of this kind. Envoy: `5xx`, `gateway-error` and `reset`
 * retry every reset (connect failures and per-try timeouts included); `connect-failure` retries
 * connect failures only.
 */
export function retriesFailure(policy: RetryPolicyUpdate, failure: RetriableFailure): boolean {
  for (const on of policy.retryOn) {
    if (on === '5xx' || on === 'gateway-error' || on === 'reset') return true;
    if (on === 'connect-failure' && failure === 'connect-failure') return true;
  }
  return false;
}

/**
 * True when `policy` retries an HTTP response with `statusCode`: `5xx` (any 5xx),
 * `gateway-error` (502, 503, 504), `retriable-4xx` (409), `retriable-status-codes` (the list).
 */
export function retriesStatus(policy: RetryPolicyUpdate, statusCode: number): boolean {
  for (const on of policy.retryOn) {
    switch (on) {
      case '5xx':
        if (statusCode >= 500 && statusCode <= 599) return true;
        break;
      case 'gateway-error':
        if (statusCode === 502 || statusCode === 503 || statusCode === 504) return true;
        break;
      case 'retriable-4xx':
        if (statusCode === 409) return true;
        break;
      case 'retriable-status-codes':
        if (policy.retriableStatusCodes.includes(statusCode)) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

/** gRPC status codes by Envoy's `retry_on` gRPC condition name (x-envoy-retry-grpc-on). */
export const GRPC_RETRY_CONDITIONS = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
} as const satisfies Record<string, number>;

/** The gRPC status codes `policy` retries (its gRPC conditions), ascending. */
export function retriableGrpcCodes(policy: RetryPolicyUpdate): number[] {
  const codes = new Set<number>();
  for (const on of policy.retryOn) {
    if (Object.hasOwn(GRPC_RETRY_CONDITIONS, on)) {
      codes.add(GRPC_RETRY_CONDITIONS[on as keyof typeof GRPC_RETRY_CONDITIONS]);
    }
  }
  return [...codes].sort((a, b) => a - b);
}

/**
 * Envoy's jittered exponential back-off before retry number `retryIndex` (0 = the first retry):
 * uniform in [0, min(base × 2^retryIndex, max)), in ms.
 */
export function retryBackoffMs(
  policy: RetryPolicyUpdate,
  retryIndex: number,
  random: () => number,
): number {
  const ceiling = Math.min(
    policy.baseIntervalMs * 2 ** Math.min(retryIndex, 30),
    policy.maxIntervalMs,
  );
  return Math.floor(random() * ceiling);
}
