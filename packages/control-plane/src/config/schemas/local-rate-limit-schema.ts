// Schema of Weft's `weft.dev/v1alpha1` LocalRateLimit `spec`: a local token-bucket limit on a
// service host, or on named routes of its VirtualService (Istio needs an EnvoyFilter for this).
// Translated to envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit.
// Spec: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter
import { z } from 'zod';
import { durationMs, uint32 } from './schema-helpers.js';

/** LocalRateLimit `spec`. */
export const localRateLimitSpecSchema = z.strictObject({
  /** A ServiceEntry host. */
  host: z.string().min(1),
  /** Names of the host's VirtualService `http[]` routes; absent = every route of the host. */
  routes: z
    .array(z.string().min(1))
    .min(1, { message: 'list at least one route name, or leave routes out for the whole host' })
    .optional(),
  tokenBucket: z.strictObject({
    /** Bucket size, also its initial content. */
    maxTokens: uint32.min(1),
    /** Tokens added each fill interval (default 1, Envoy's). */
    tokensPerFill: uint32.min(1).optional(),
    fillInterval: durationMs(1),
  }),
  /** Whether responses carry x-ratelimit-limit / -remaining / -reset (default true). */
  responseHeaders: z.boolean().optional(),
});

/** A parsed LocalRateLimit `spec`. */
export type LocalRateLimitSpec = z.output<typeof localRateLimitSpecSchema>;
