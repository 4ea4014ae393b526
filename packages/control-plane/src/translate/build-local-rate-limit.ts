// Builds the local rate-limit filter config: the HCM's listener-level entry (no bucket: limits
// nothing by itself) and the typed_per_filter_config a virtual host or route carries for a
// LocalRateLimit. gRPC clients get neither (grpc-js-xds does not implement the filter; an unknown
// non-optional filter would make them NACK the listener, gRFC A39), and the admin API says so.
// Spec: envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto.
import { LOCAL_RATELIMIT_FILTER_TYPE_URL } from '@weft/xds-client';
import type { ClientKind } from '../contracts.js';
import { msToDuration } from '../config/duration.js';
import type { HostRateLimits, LocalRateLimitPolicy, MeshModel } from '../config/mesh-model.js';

/** The filter's name in http_filters, also the key of its per-route config. */
export const LOCAL_RATELIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';

/** stat_prefix of the listener-level entry (per-route configs carry their own). */
const LISTENER_STAT_PREFIX = 'http_local_rate_limiter';

const ALL = { numerator: 100, denominator: 'HUNDRED' } as const;

/** The host's rate limits when `kind` is sent them; undefined for hosts without, or gRPC. */
export function rateLimitsFor(
  model: MeshModel,
  host: string,
  kind: ClientKind,
): HostRateLimits | undefined {
  if (kind === 'grpc') return undefined;
  return model.localRateLimits.get(host);
}

/** Why a gRPC client is not sent `host`'s limits (a translation note), or undefined. */
export function grpcRateLimitNote(model: MeshModel, host: string): string | undefined {
  const limits = model.localRateLimits.get(host);
  if (limits === undefined) return undefined;
  const sources = [
    ...new Set([
      ...(limits.wholeHost === null ? [] : [limits.wholeHost.source]),
      ...[...limits.routes.values()].map((p) => p.source),
    ]),
  ];
  return `local rate limit (${sources.join(', ')}) not applied to gRPC clients: grpc-js-xds does not implement ${LOCAL_RATELIMIT_FILTER_NAME}; filter not sent`;
}

/** The HCM http_filters entry (before the router). */
export function localRateLimitHttpFilter(): Record<string, unknown> {
  return {
    name: LOCAL_RATELIMIT_FILTER_NAME,
    typed_config: { '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL, stat_prefix: LISTENER_STAT_PREFIX },
  };
}

/**
 * The LocalRateLimit a virtual host or route carries: the bucket, enabled and enforced for every
 * request, 429 (RESOURCE_EXHAUSTED for gRPC), DRAFT_VERSION_03 headers when asked for.
 */
export function localRateLimitConfig(
  policy: LocalRateLimitPolicy,
  statPrefix: string,
): Record<string, unknown> {
  return {
    '@type': LOCAL_RATELIMIT_FILTER_TYPE_URL,
    stat_prefix: statPrefix,
    status: { code: 'TooManyRequests' },
    token_bucket: {
      max_tokens: policy.maxTokens,
      tokens_per_fill: { value: policy.tokensPerFill },
      fill_interval: msToDuration(policy.fillIntervalMs),
    },
    filter_enabled: { runtime_key: 'local_rate_limit_enabled', default_value: ALL },
    filter_enforced: { runtime_key: 'local_rate_limit_enforced', default_value: ALL },
    ...(policy.responseHeaders ? { enable_x_ratelimit_headers: 'DRAFT_VERSION_03' } : {}),
    rate_limited_as_resource_exhausted: true,
  };
}
