// Decodes envoy.config.cluster.v3.OutlierDetection with Envoy's defaults filled in.
// Spec: envoy/config/cluster/v3/outlier_detection.proto; gRFC A50 (outlier detection).
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import { durationMs, join, wrappedBool, wrappedInt } from './decode-helpers.js';

/**
 * A Cluster's outlier detection, every field resolved (Envoy's defaults in the comments).
 * Durations in ms; `*Percent` and `enforcing*` fields are integers 0-100.
 */
export interface OutlierDetectionUpdate {
  /** Default 5. */
  readonly consecutive5xx: number;
  /** Default 10000. */
  readonly intervalMs: number;
  /** Default 30000. */
  readonly baseEjectionTimeMs: number;
  /** Default max(300000, baseEjectionTimeMs). */
  readonly maxEjectionTimeMs: number;
  /** Default 0. */
  readonly maxEjectionTimeJitterMs: number;
  /** Default 10. */
  readonly maxEjectionPercent: number;
  /** Default 100. */
  readonly enforcingConsecutive5xx: number;
  /** Default 100. */
  readonly enforcingSuccessRate: number;
  /** Default 5. */
  readonly successRateMinimumHosts: number;
  /** Default 100. */
  readonly successRateRequestVolume: number;
  /** Default 1900 (the factor is this / 1000). */
  readonly successRateStdevFactor: number;
  /** Default 5. */
  readonly consecutiveGatewayFailure: number;
  /** Default 0. */
  readonly enforcingConsecutiveGatewayFailure: number;
  /** Default false. */
  readonly splitExternalLocalOriginErrors: boolean;
  /** Default 5. */
  readonly consecutiveLocalOriginFailure: number;
  /** Default 100. */
  readonly enforcingConsecutiveLocalOriginFailure: number;
  /** Default 100. */
  readonly enforcingLocalOriginSuccessRate: number;
  /** Default 85. */
  readonly failurePercentageThreshold: number;
  /** Default 0. */
  readonly enforcingFailurePercentage: number;
  /** Default 0. */
  readonly enforcingFailurePercentageLocalOrigin: number;
  /** Default 5. */
  readonly failurePercentageMinimumHosts: number;
  /** Default 50. */
  readonly failurePercentageRequestVolume: number;
  /** Default false. */
  readonly alwaysEjectOneHost: boolean;
}

type NumberKey = {
  [K in keyof OutlierDetectionUpdate]: OutlierDetectionUpdate[K] extends number ? K : never;
}[keyof OutlierDetectionUpdate];

// [field in the proto, field in the update, default, is a 0-100 percentage]
const INTEGER_FIELDS: readonly (readonly [string, NumberKey, number, boolean])[] = [
  ['consecutive_5xx', 'consecutive5xx', 5, false],
  ['max_ejection_percent', 'maxEjectionPercent', 10, true],
  ['enforcing_consecutive_5xx', 'enforcingConsecutive5xx', 100, true],
  ['enforcing_success_rate', 'enforcingSuccessRate', 100, true],
  ['success_rate_minimum_hosts', 'successRateMinimumHosts', 5, false],
  ['success_rate_request_volume', 'successRateRequestVolume', 100, false],
  ['success_rate_stdev_factor', 'successRateStdevFactor', 1900, false],
  ['consecutive_gateway_failure', 'consecutiveGatewayFailure', 5, false],
  ['enforcing_consecutive_gateway_failure', 'enforcingConsecutiveGatewayFailure', 0, true],
  ['consecutive_local_origin_failure', 'consecutiveLocalOriginFailure', 5, false],
  [
    'enforcing_consecutive_local_origin_failure',
    'enforcingConsecutiveLocalOriginFailure',
    100,
    true,
  ],
  ['enforcing_local_origin_success_rate', 'enforcingLocalOriginSuccessRate', 100, true],
  ['failure_percentage_threshold', 'failurePercentageThreshold', 85, true],
  ['enforcing_failure_percentage', 'enforcingFailurePercentage', 0, true],
  ['enforcing_failure_percentage_local_origin', 'enforcingFailurePercentageLocalOrigin', 0, true],
  ['failure_percentage_minimum_hosts', 'failurePercentageMinimumHosts', 5, false],
  ['failure_percentage_request_volume', 'failurePercentageRequestVolume', 50, false],
];

const DURATION_FIELDS: readonly (readonly [string, NumberKey, number])[] = [
  ['interval', 'intervalMs', 10_000],
  ['base_ejection_time', 'baseEjectionTimeMs', 30_000],
  ['max_ejection_time', 'maxEjectionTimeMs', 300_000],
  ['max_ejection_time_jitter', 'maxEjectionTimeJitterMs', 0],
];

/** Decodes an OutlierDetection message at `path`, validating percentages (0-100). */
export function decodeOutlierDetection(
  m: ProtoObject,
  path: string,
  issues: IssueCollector,
): OutlierDetectionUpdate {
  const out: Record<string, number | boolean> = {};
  for (const [field, key, fallback, isPercent] of INTEGER_FIELDS) {
    const v = wrappedInt(m, field) ?? fallback;
    if (isPercent && v > 100) issues.add(join(path, field), `must be a percentage 0-100, got ${v}`);
    out[key] = v;
  }
  for (const [field, key, fallback] of DURATION_FIELDS) {
    out[key] = durationMs(m, field, path, issues) ?? fallback;
  }
  out['splitExternalLocalOriginErrors'] = m['split_external_local_origin_errors'] === true;
  out['alwaysEjectOneHost'] = wrappedBool(m, 'always_eject_one_host') ?? false;
  const result = out as unknown as OutlierDetectionUpdate;
  if (m['max_ejection_time'] === undefined) {
    // Envoy: unset means max(300 s, base_ejection_time).
    return { ...result, maxEjectionTimeMs: Math.max(300_000, result.baseEjectionTimeMs) };
  }
  if (result.maxEjectionTimeMs < result.baseEjectionTimeMs) {
    issues.add(join(path, 'max_ejection_time'), 'must be >= base_ejection_time');
  }
  return result;
}
