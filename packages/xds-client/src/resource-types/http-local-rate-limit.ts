// Decodes the local rate-limit filter config (envoy.extensions.filters.http.local_ratelimit.v3.
// LocalRateLimit), used in HCM http_filters and in typed_per_filter_config: the token bucket, the
// enabled / enforced fractions, the status and the x-ratelimit-* header switch. Fields Weft does
// not implement (descriptors, per-connection buckets, header additions…) are issues, never ignored.
// Spec: envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto;
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  bool,
  durationMs,
  int,
  join,
  message,
  messages,
  runtimeFractionPerMillion,
  str,
  wrappedInt,
} from './decode-helpers.js';
import type { DecodeContext } from './xds-resource-type.js';

/** Smallest fill interval accepted, in ms (finer buckets are not meaningful on a JS timer clock). */
export const MIN_FILL_INTERVAL_MS = 1;

/** A token bucket: starts full, gains `tokensPerFill` every `fillIntervalMs`, never above `maxTokens`. */
export interface TokenBucketUpdate {
  /** ≥ 1; also the initial content. */
  readonly maxTokens: number;
  /** ≥ 1 (Envoy's default 1). */
  readonly tokensPerFill: number;
  /** ≥ {@link MIN_FILL_INTERVAL_MS}. */
  readonly fillIntervalMs: number;
}

/** A decoded LocalRateLimit. */
export interface LocalRateLimitUpdate {
  readonly statPrefix: string;
  /** Undefined: the filter limits nothing at this level (allowed at listener level only). */
  readonly tokenBucket: TokenBucketUpdate | undefined;
  /** Requests checked against the bucket, per million (unset: 0, Envoy's "off for safety"). */
  readonly filterEnabledPerMillion: number;
  /** Limited requests actually refused, per million (unset: 0 = shadow mode, counted only). */
  readonly filterEnforcedPerMillion: number;
  /** Status of a refused HTTP request (unset: 429). */
  readonly httpStatus: number;
  /** `enable_x_ratelimit_headers: DRAFT_VERSION_03`: x-ratelimit-limit / -remaining / -reset. */
  readonly xRateLimitHeaders: boolean;
  /** gRPC status of a refused call: RESOURCE_EXHAUSTED when true, else UNAVAILABLE (Envoy's 429 mapping). */
  readonly rateLimitedAsResourceExhausted: boolean;
}

const STATUS_CODE_ENUM = 'envoy.type.v3.StatusCode';

/** HttpStatus.code (an enum decoded as its name) as a number, or undefined when unknown. */
function statusCodeOf(value: unknown, ctx: DecodeContext): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  try {
    return ctx.protos.root.lookupEnum(STATUS_CODE_ENUM).values[value];
  } catch {
    return undefined;
  }
}

/**
 * Decodes a LocalRateLimit found at `path`. `perRoute`: a typed_per_filter_config override, which
 * must carry a token bucket (Envoy rejects one without).
 */
export function decodeLocalRateLimit(
  m: ProtoObject,
  perRoute: boolean,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): LocalRateLimitUpdate {
  const statPrefix = str(m, 'stat_prefix');
  if (statPrefix === '') issues.add(join(path, 'stat_prefix'), 'required');
  for (const repeated of [
    'descriptors',
    'request_headers_to_add_when_not_enforced',
    'response_headers_to_add',
  ]) {
    if (messages(m, repeated).length > 0) issues.add(join(path, repeated), 'not supported by Weft');
  }
  if (int(m, 'stage') !== 0)
    issues.add(join(path, 'stage'), 'not supported by Weft (no descriptors)');
  if (bool(m, 'local_rate_limit_per_downstream_connection'))
    issues.add(
      join(path, 'local_rate_limit_per_downstream_connection'),
      'not supported by Weft (a proxyless client has no downstream connection)',
    );
  if (message(m, 'local_cluster_rate_limit') !== undefined)
    issues.add(join(path, 'local_cluster_rate_limit'), 'not supported by Weft');
  const vh = m['vh_rate_limits'];
  if (vh !== undefined && vh !== 'OVERRIDE' && vh !== 0)
    issues.add(join(path, 'vh_rate_limits'), 'not supported by Weft (no rate_limits actions)');

  const headers = m['enable_x_ratelimit_headers'];
  let xRateLimitHeaders = false;
  if (headers === 'DRAFT_VERSION_03' || headers === 1) xRateLimitHeaders = true;
  else if (headers !== undefined && headers !== 'OFF' && headers !== 0)
    issues.add(
      join(path, 'enable_x_ratelimit_headers'),
      `unknown value ${JSON.stringify(headers)}`,
    );

  let httpStatus = 429;
  const status = message(m, 'status');
  if (status !== undefined) {
    const code = statusCodeOf(status['code'], ctx);
    if (code === undefined || code < 400 || code >= 600)
      issues.add(
        join(join(path, 'status'), 'code'),
        `must be an HTTP error status in [400, 600), got ${String(status['code'])}`,
      );
    else httpStatus = code;
  }

  return {
    statPrefix,
    tokenBucket: decodeTokenBucket(m, perRoute, path, issues),
    filterEnabledPerMillion: runtimeFractionPerMillion(m, 'filter_enabled', path, issues, 0),
    filterEnforcedPerMillion: runtimeFractionPerMillion(m, 'filter_enforced', path, issues, 0),
    httpStatus,
    xRateLimitHeaders,
    rateLimitedAsResourceExhausted: bool(m, 'rate_limited_as_resource_exhausted'),
  };
}

function decodeTokenBucket(
  m: ProtoObject,
  perRoute: boolean,
  parent: string,
  issues: IssueCollector,
): TokenBucketUpdate | undefined {
  const path = join(parent, 'token_bucket');
  const b = message(m, 'token_bucket');
  if (b === undefined) {
    if (perRoute) issues.add(path, 'required in a per-route config');
    return undefined;
  }
  const maxTokens = int(b, 'max_tokens');
  if (!(maxTokens > 0)) issues.add(join(path, 'max_tokens'), 'must be greater than 0');
  const tokensPerFill = wrappedInt(b, 'tokens_per_fill') ?? 1;
  if (!(tokensPerFill > 0)) issues.add(join(path, 'tokens_per_fill'), 'must be greater than 0');
  const fillIntervalMs = durationMs(b, 'fill_interval', path, issues);
  if (fillIntervalMs === undefined) {
    if (message(b, 'fill_interval') === undefined)
      issues.add(join(path, 'fill_interval'), 'required');
  } else if (fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    issues.add(join(path, 'fill_interval'), `must be at least ${MIN_FILL_INTERVAL_MS}ms`);
  }
  return { maxTokens, tokensPerFill, fillIntervalMs: fillIntervalMs ?? MIN_FILL_INTERVAL_MS };
}
