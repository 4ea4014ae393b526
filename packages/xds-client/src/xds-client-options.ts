// Options of XdsClient and their validation into a frozen ResolvedXdsClientOptions (STYLE rules 15-16).
import { DEFAULT_BACKOFF_OPTIONS } from './backoff.js';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { BackoffOptions, ResolvedBackoffOptions } from './backoff.js';
import type { ResolvedBootstrap, ResolvedXdsServer } from './bootstrap/resolved-bootstrap.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { ConfigError } from './errors/weft-error.js';
import type { ConfigIssue } from './errors/weft-error.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';
import type { XdsResourceType } from './resource-types/xds-resource-type.js';

/** Which ADS RPC to speak: StreamAggregatedResources (state of the world) or DeltaAggregatedResources. */
export type XdsTransport = 'sotw' | 'delta';

/** The server feature that selects Delta xDS when `transport` is not given. */
export const WEFT_DELTA_SERVER_FEATURE = 'weft_delta' as const;
/** gRFC A53: keep a resource the server stops sending instead of treating it as deleted. */
export const IGNORE_RESOURCE_DELETION_SERVER_FEATURE = 'ignore_resource_deletion' as const;

/** Where and how one ADS stream connects instead of the bootstrap's server entry. */
export interface XdsChannelOverride {
  /** `host:port` to dial. */
  readonly serverUri: string;
  readonly credentials: ChannelCredentials;
  /** Shown in logs and `status().channel`, e.g. `mtls`. */
  readonly label: string;
  /** More channel options, e.g. `grpc.ssl_target_name_override`. */
  readonly options?: ChannelOptions;
}

/**
 * Asked before every stream is opened (each stream has a fresh channel): an override, or
 * undefined for the bootstrap's `server_uri` and `channel_creds`.
 */
export type XdsChannelHook = (server: ResolvedXdsServer) => XdsChannelOverride | undefined;

/** What a caller passes to `new XdsClient()`. */
export interface XdsClientOptions {
  /** Validated bootstrap; `xdsServers` is the fallback order (gRFC A71). */
  readonly bootstrap: ResolvedBootstrap;
  /** Every resource type the client may watch; two types with one `typeUrl` is an error. */
  readonly resourceTypes: readonly XdsResourceType<unknown>[];
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: Logger;
  /**
   * Wire protocol. Default: per server, 'delta' when its `server_features` include
   * `weft_delta`, else 'sotw'.
   */
  readonly transport?: XdsTransport;
  /** How long a subscribed resource may stay unanswered before it is reported missing, in ms. Default 15000 (xDS protocol doc). */
  readonly resourceDoesNotExistTimeoutMs?: number;
  /** Reconnect backoff; see BackoffOptions for units and defaults. */
  readonly backoff?: BackoffOptions;
  /** How long a stream may take to reach the server before the server counts as unreachable, in ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Source of randomness in [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** Per-stream channel override (e.g. mTLS with a rotating workload certificate). Default none. */
  readonly channel?: XdsChannelHook;
}

/** Validated options with no optional fields. */
export interface ResolvedXdsClientOptions {
  readonly bootstrap: ResolvedBootstrap;
  readonly resourceTypes: readonly XdsResourceType<unknown>[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly transport: XdsTransport | undefined;
  readonly resourceDoesNotExistTimeoutMs: number;
  readonly backoff: ResolvedBackoffOptions;
  readonly connectTimeoutMs: number;
  readonly random: () => number;
  readonly channel: XdsChannelHook | undefined;
}

const DEFAULT_RESOURCE_DOES_NOT_EXIST_TIMEOUT_MS = 15_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function checkNumber(
  issues: ConfigIssue[],
  path: string,
  value: unknown,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push({ path, message: `expected a finite number, got ${typeof value}` });
    return fallback;
  }
  if (value < min) {
    issues.push({ path, message: `must be >= ${min}, got ${value}` });
    return fallback;
  }
  return value;
}

/** Validates every option once; throws one ConfigError listing every issue. */
export function resolveXdsClientOptions(options: XdsClientOptions): ResolvedXdsClientOptions {
  const issues: ConfigIssue[] = [];
  const bootstrap = options.bootstrap;
  if (bootstrap.xdsServers.length === 0) {
    issues.push({ path: 'bootstrap.xdsServers', message: 'must name at least one server' });
  }
  const seen = new Map<string, number>();
  options.resourceTypes.forEach((type, index) => {
    const previous = seen.get(type.typeUrl);
    if (previous !== undefined) {
      issues.push({
        path: `resourceTypes[${index}]`,
        message: `type URL ${type.typeUrl} is already registered by resourceTypes[${previous}]`,
      });
    } else seen.set(type.typeUrl, index);
  });
  // Checked for JavaScript callers, whom the type does not bind.
  const transport: unknown = options.transport;
  if (transport !== undefined && transport !== 'sotw' && transport !== 'delta') {
    issues.push({
      path: 'transport',
      message: `expected 'sotw' or 'delta', got ${JSON.stringify(transport)}`,
    });
  }
  const b = options.backoff ?? {};
  const backoff: ResolvedBackoffOptions = Object.freeze({
    initialMs: checkNumber(
      issues,
      'backoff.initialMs',
      b.initialMs,
      DEFAULT_BACKOFF_OPTIONS.initialMs,
      0,
    ),
    maxMs: checkNumber(issues, 'backoff.maxMs', b.maxMs, DEFAULT_BACKOFF_OPTIONS.maxMs, 0),
    multiplier: checkNumber(
      issues,
      'backoff.multiplier',
      b.multiplier,
      DEFAULT_BACKOFF_OPTIONS.multiplier,
      1,
    ),
    jitter: checkNumber(issues, 'backoff.jitter', b.jitter, DEFAULT_BACKOFF_OPTIONS.jitter, 0),
  });
  if (backoff.jitter > 1) issues.push({ path: 'backoff.jitter', message: 'must be <= 1' });
  if (backoff.maxMs < backoff.initialMs) {
    issues.push({ path: 'backoff.maxMs', message: 'must be >= backoff.initialMs' });
  }
  const resolved: ResolvedXdsClientOptions = Object.freeze({
    bootstrap,
    resourceTypes: Object.freeze([...options.resourceTypes]),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    transport: options.transport,
    resourceDoesNotExistTimeoutMs: checkNumber(
      issues,
      'resourceDoesNotExistTimeoutMs',
      options.resourceDoesNotExistTimeoutMs,
      DEFAULT_RESOURCE_DOES_NOT_EXIST_TIMEOUT_MS,
      1,
    ),
    backoff,
    connectTimeoutMs: checkNumber(
      issues,
      'connectTimeoutMs',
      options.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
      1,
    ),
    random: options.random ?? Math.random,
    channel: options.channel,
  });
  if (options.channel !== undefined && typeof options.channel !== 'function')
    issues.push({ path: 'channel', message: 'expected a function' });
  if (issues.length > 0) throw new ConfigError('XdsClient options', issues);
  return resolved;
}
