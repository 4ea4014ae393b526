// createMesh's `serviceBreaker` option: the service-level breaker (opossum) every upstream cluster
// gets, validated once into a frozen ResolvedServiceBreakerOptions (STYLE rules 15-17). Issue 4,
// "Service-level breaker with fallback".
import type { ConfigIssue } from '@weft/xds-client';

/** Default of ServiceBreakerOptions.errorThresholdPercentage (opossum's). */
export const DEFAULT_BREAKER_ERROR_THRESHOLD_PERCENTAGE = 50;
/** Default of ServiceBreakerOptions.resetTimeoutMs. */
export const DEFAULT_BREAKER_RESET_TIMEOUT_MS = 10_000;
/** Default of ServiceBreakerOptions.volumeThreshold. */
export const DEFAULT_BREAKER_VOLUME_THRESHOLD = 10;
/** Default of ServiceBreakerOptions.rollingWindowMs (opossum's). */
export const DEFAULT_BREAKER_ROLLING_WINDOW_MS = 10_000;
/** Default of ServiceBreakerOptions.rollingWindowBuckets (opossum's). */
export const DEFAULT_BREAKER_ROLLING_WINDOW_BUCKETS = 10;

/**
 * The breaker each upstream cluster gets (one per mesh and cluster, created when the cluster is
 * first used). Pass `serviceBreaker: false` to createMesh to turn it off.
 */
export interface ServiceBreakerOptions {
  /**
   * The breaker opens when more than this percentage of the requests in the rolling window
   * failed (and at least `volumeThreshold` requests were made). 1-100. Default 50.
   */
  readonly errorThresholdPercentage?: number;
  /** How long an open breaker fails fast before it lets one probe through (half-open), in ms. Default 10000. */
  readonly resetTimeoutMs?: number;
  /**
   * Requests the rolling window must hold before the breaker may open, so that one failure out
   * of one request does not open it. Integer >= 0. Default 10.
   */
  readonly volumeThreshold?: number;
  /** Length of the rolling window the error rate is computed over, in ms. Default 10000. */
  readonly rollingWindowMs?: number;
  /** Slices of the rolling window (its resolution); must divide into whole ms. Default 10. */
  readonly rollingWindowBuckets?: number;
}

/** Validated ServiceBreakerOptions: no optional fields, frozen. */
export interface ResolvedServiceBreakerOptions {
  readonly errorThresholdPercentage: number;
  readonly resetTimeoutMs: number;
  readonly volumeThreshold: number;
  readonly rollingWindowMs: number;
  readonly rollingWindowBuckets: number;
}

const KEYS = new Set([
  'errorThresholdPercentage',
  'resetTimeoutMs',
  'volumeThreshold',
  'rollingWindowMs',
  'rollingWindowBuckets',
]);

function shown(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Validates the `serviceBreaker` option at `path`: `false` (off), `undefined` (defaults) or an
 * object. Pushes each problem onto `issues` with its path; returns the resolved options (or
 * `false`), defaults standing in for bad fields.
 */
export function resolveServiceBreakerOptions(
  value: unknown,
  path: string,
  issues: ConfigIssue[],
): ResolvedServiceBreakerOptions | false {
  if (value === false) return false;
  const o: Readonly<Record<string, unknown>> =
    value === undefined
      ? {}
      : typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Readonly<Record<string, unknown>>)
        : {};
  if (value !== undefined && o !== value) {
    issues.push({ path, message: `expected false or an object, got ${shown(value)}` });
  }
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) issues.push({ path: `${path}.${key}`, message: 'unknown field' });
  }
  const num = (
    key: string,
    fallback: number,
    ok: (n: number) => boolean,
    expected: string,
  ): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      issues.push({ path: `${path}.${key}`, message: `expected ${expected}, got ${shown(v)}` });
      return fallback;
    }
    return v;
  };
  const rollingWindowMs = num(
    'rollingWindowMs',
    DEFAULT_BREAKER_ROLLING_WINDOW_MS,
    (n) => Number.isInteger(n) && n > 0,
    'a positive integer number of ms',
  );
  const rollingWindowBuckets = num(
    'rollingWindowBuckets',
    DEFAULT_BREAKER_ROLLING_WINDOW_BUCKETS,
    (n) => Number.isInteger(n) && n >= 1,
    'an integer >= 1',
  );
  if (rollingWindowMs % rollingWindowBuckets !== 0) {
    issues.push({
      path: `${path}.rollingWindowBuckets`,
      message: `rollingWindowMs (${rollingWindowMs}) must be a multiple of rollingWindowBuckets (${rollingWindowBuckets})`,
    });
  }
  return Object.freeze({
    errorThresholdPercentage: num(
      'errorThresholdPercentage',
      DEFAULT_BREAKER_ERROR_THRESHOLD_PERCENTAGE,
      (n) => n >= 1 && n <= 100,
      'a percentage 1-100',
    ),
    resetTimeoutMs: num(
      'resetTimeoutMs',
      DEFAULT_BREAKER_RESET_TIMEOUT_MS,
      (n) => n > 0,
      'a positive number of ms',
    ),
    volumeThreshold: num(
      'volumeThreshold',
      DEFAULT_BREAKER_VOLUME_THRESHOLD,
      (n) => Number.isInteger(n) && n >= 0,
      'an integer >= 0',
    ),
    rollingWindowMs,
    rollingWindowBuckets,
  });
}
