// Local rate limiting in the request path (HTTP and gRPC): a token bucket per LocalRateLimit config
// instance — Envoy keeps one per config instance, so a bucket is keyed by (filter name, scope,
// config object) — refilled lazily from the mesh clock (no timer per bucket), with Envoy's
// filter_enabled / filter_enforced fractions and its DRAFT_VERSION_03 x-ratelimit-* headers.
// Spec: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter
import type { Clock, LocalRateLimitUpdate, Logger, TokenBucketUpdate } from '@weft/xds-client';
import type { EffectiveHttpFilters } from '../routing/route-filters.js';

/** The body of a refused HTTP request, as Envoy sends it. */
export const LOCAL_RATE_LIMITED_BODY = 'local_rate_limited';

const PER_MILLION = 1_000_000;

/** Response headers a rate-limit filter adds, as `[name, value]` pairs (lower-case names). */
export type RateLimitHeaders = readonly (readonly [string, string])[];

/** A request refused by a local rate limit. */
export interface RateLimitRefusal {
  /** The filter instance (HCM http_filters[].name) that refused it. */
  readonly filterName: string;
  /** Where its config came from (`vhost:…`, `route:…`, `listener`…). */
  readonly scope: string;
  readonly config: LocalRateLimitUpdate;
  /** x-ratelimit-* headers when the filter enables them, else empty. */
  readonly headers: RateLimitHeaders;
}

/**
 * The verdict on one request: refused, or allowed with the headers to add to its response
 * (empty when no filter asks for them).
 */
export type RateLimitVerdict =
  | { readonly limited: true; readonly refusal: RateLimitRefusal }
  | { readonly limited: false; readonly headers: RateLimitHeaders };

/** Counters of one bucket scope (filter × scope); they survive config updates of that scope. */
export interface LocalRateLimitScopeStats {
  readonly filter: string;
  readonly scope: string;
  readonly statPrefix: string;
  /** Requests that got a token. */
  readonly allowed: number;
  /** Requests refused (429 / RESOURCE_EXHAUSTED). */
  readonly limited: number;
  /** Requests over the limit but let through because filter_enforced did not select them. */
  readonly shadowLimited: number;
  /** Tokens left at the last check (refilled lazily: may be stale). */
  readonly tokens: number;
}

/** Counters of the local rate limits since the mesh was created. A plain object. */
export interface LocalRateLimitStats {
  readonly allowed: number;
  readonly limited: number;
  readonly shadowLimited: number;
  /** One entry per (filter, scope) that saw a request, in first-seen order. */
  readonly scopes: readonly LocalRateLimitScopeStats[];
}

/** A token bucket refilled lazily: whole fill intervals elapsed since the last fill add tokens. */
export class TokenBucket {
  private tokensLeft: number;
  private lastFillMs: number;

  constructor(
    readonly spec: TokenBucketUpdate,
    nowMs: number,
  ) {
    this.tokensLeft = spec.maxTokens;
    this.lastFillMs = nowMs;
  }

  /** Tokens after refilling to `nowMs`. */
  tokens(nowMs: number): number {
    this.refill(nowMs);
    return this.tokensLeft;
  }

  /** Takes one token if there is one. */
  tryConsume(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokensLeft < 1) return false;
    this.tokensLeft -= 1;
    return true;
  }

  /** Milliseconds until the next fill. */
  msUntilFill(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, this.lastFillMs + this.spec.fillIntervalMs - nowMs);
  }

  private refill(nowMs: number): void {
    const { fillIntervalMs, tokensPerFill, maxTokens } = this.spec;
    const fills = Math.floor((nowMs - this.lastFillMs) / fillIntervalMs);
    if (fills <= 0) return; // also a clock that went backwards: wait for it
    this.tokensLeft = Math.min(maxTokens, this.tokensLeft + fills * tokensPerFill);
    this.lastFillMs += fills * fillIntervalMs;
  }
}

interface ScopeCounters {
  readonly filter: string;
  readonly scope: string;
  statPrefix: string;
  allowed: number;
  limited: number;
  shadowLimited: number;
  tokens: number;
}

interface BucketState {
  readonly bucket: TokenBucket;
  readonly counters: ScopeCounters;
  /** Whether "limiting started" was logged for this bucket. */
  warned: boolean;
}

/** Options of {@link LocalRateLimiter}. */
export interface LocalRateLimiterOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Uniform in [0, 1), for fractional filter_enabled / filter_enforced. Default: Math.random. */
  readonly random?: () => number;
}

/**
 * The local rate limits of one mesh, shared by its HTTP and gRPC paths (one bucket per config
 * instance whatever the transport, as one Envoy would).
 */
export class LocalRateLimiter {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  /** Config instance → `name\nscope` → bucket; a replaced config drops its buckets with it. */
  private readonly buckets = new WeakMap<LocalRateLimitUpdate, Map<string, BucketState>>();
  private readonly counters = new Map<string, ScopeCounters>();

  constructor(options: LocalRateLimiterOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.random = options.random ?? Math.random;
  }

  /**
   * Runs the route's local_ratelimit filters in chain order: each enabled one takes a token; the
   * first that has none and is enforced refuses the request. Undefined when the route has no
   * rate-limit filter (the common case, no allocation).
   */
  check(filters: EffectiveHttpFilters): RateLimitVerdict | undefined {
    let verdict: RateLimitVerdict | undefined;
    let headers: RateLimitHeaders | undefined;
    let headersRemaining = Infinity;
    for (const f of filters) {
      if (f.kind !== 'local_ratelimit') continue;
      verdict ??= { limited: false, headers: [] };
      const config = f.config;
      if (config.tokenBucket === undefined || !this.selected(config.filterEnabledPerMillion))
        continue;
      const state = this.stateOf(f.name, f.scope, config, config.tokenBucket);
      const now = this.clock.now();
      const c = state.counters;
      if (state.bucket.tryConsume(now)) {
        c.allowed += 1;
        c.tokens = state.bucket.tokens(now);
        // Several limits with headers: report the tightest one.
        if (config.xRateLimitHeaders && c.tokens < headersRemaining) {
          headersRemaining = c.tokens;
          headers = this.headersOf(state, now);
        }
        continue;
      }
      c.tokens = 0;
      if (!this.selected(config.filterEnforcedPerMillion)) {
        c.shadowLimited += 1;
        continue;
      }
      c.limited += 1;
      this.logLimited(state, f.name, f.scope, config);
      return {
        limited: true,
        refusal: {
          filterName: f.name,
          scope: f.scope,
          config,
          headers: config.xRateLimitHeaders ? this.headersOf(state, now) : [],
        },
      };
    }
    if (verdict !== undefined && headers !== undefined) return { limited: false, headers };
    return verdict;
  }

  /** Counters per scope, as plain data. */
  stats(): LocalRateLimitStats {
    let allowed = 0;
    let limited = 0;
    let shadowLimited = 0;
    const scopes: LocalRateLimitScopeStats[] = [];
    for (const c of this.counters.values()) {
      allowed += c.allowed;
      limited += c.limited;
      shadowLimited += c.shadowLimited;
      scopes.push({ ...c });
    }
    return { allowed, limited, shadowLimited, scopes };
  }

  private selected(perMillion: number): boolean {
    if (perMillion >= PER_MILLION) return true;
    if (perMillion <= 0) return false;
    return this.random() * PER_MILLION < perMillion;
  }

  private stateOf(
    name: string,
    scope: string,
    config: LocalRateLimitUpdate,
    spec: TokenBucketUpdate,
  ): BucketState {
    const key = `${name}\n${scope}`;
    let byScope = this.buckets.get(config);
    if (byScope === undefined) {
      byScope = new Map();
      this.buckets.set(config, byScope);
    }
    let state = byScope.get(key);
    if (state === undefined) {
      let counters = this.counters.get(key);
      if (counters === undefined) {
        counters = {
          filter: name,
          scope,
          statPrefix: config.statPrefix,
          allowed: 0,
          limited: 0,
          shadowLimited: 0,
          tokens: spec.maxTokens,
        };
        this.counters.set(key, counters);
      }
      counters.statPrefix = config.statPrefix;
      // A new config instance starts a full bucket, as Envoy does on a config update.
      state = { bucket: new TokenBucket(spec, this.clock.now()), counters, warned: false };
      byScope.set(key, state);
    }
    return state;
  }

  /** DRAFT_VERSION_03: limit = bucket size, remaining tokens, seconds to the next fill. */
  private headersOf(state: BucketState, nowMs: number): RateLimitHeaders {
    const bucket = state.bucket;
    return [
      ['x-ratelimit-limit', String(bucket.spec.maxTokens)],
      ['x-ratelimit-remaining', String(bucket.tokens(nowMs))],
      ['x-ratelimit-reset', String(Math.ceil(bucket.msUntilFill(nowMs) / 1000))],
    ];
  }

  private logLimited(
    state: BucketState,
    name: string,
    scope: string,
    config: LocalRateLimitUpdate,
  ): void {
    const fields = {
      filter: name,
      scope,
      statPrefix: config.statPrefix,
      maxTokens: state.bucket.spec.maxTokens,
      tokensPerFill: state.bucket.spec.tokensPerFill,
      fillIntervalMs: state.bucket.spec.fillIntervalMs,
    };
    if (!state.warned) {
      state.warned = true;
      this.logger.warn('local rate limit: bucket empty, refusing requests (RL)', fields);
    }
    this.logger.debug('local rate limit: request refused (RL)', {
      filter: name,
      scope,
      limited: state.counters.limited,
    });
  }
}
