// Decodes a Route's RouteAction (cluster choice, timeouts, retries, hashing, mirroring) and the
// RetryPolicy it shares with virtual hosts. Spec: envoy/config/route/v3/route_components.proto;
// gRFC A28 (routing), A31 (timeouts), A42 (ring hash), A44 (retries).
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  bool,
  durationMs,
  join,
  message,
  messages,
  oneof,
  runtimeFractionPerMillion,
  str,
  wrappedInt,
} from './decode-helpers.js';
import type { HttpFilterConfigUpdate } from './http-filters.js';
import { decodePerFilterConfig } from './http-filters.js';
import type { DecodeContext } from './xds-resource-type.js';

/** One target of a route: a cluster and its relative weight (1 for a single-cluster route). */
export interface WeightedClusterUpdate {
  readonly name: string;
  readonly weight: number;
  /** Overrides for this cluster only (filter instance name → config). */
  readonly typedPerFilterConfig: Readonly<Record<string, HttpFilterConfigUpdate>>;
}

/** A decoded RetryPolicy. Durations in ms; Envoy's defaults are filled in. */
export interface RetryPolicyUpdate {
  /** `retry_on` split on commas, e.g. ['5xx', 'reset', 'unavailable']. */
  readonly retryOn: readonly string[];
  /** Default 1 (Envoy). */
  readonly numRetries: number;
  /** Undefined = the route's timeout applies to each try. */
  readonly perTryTimeoutMs: number | undefined;
  /** Default 25 ms (Envoy). */
  readonly baseIntervalMs: number;
  /** Default 10 × base interval (Envoy). */
  readonly maxIntervalMs: number;
  readonly retriableStatusCodes: readonly number[];
}

/** One hash policy of a ring-hash route (gRFC A42). */
export type HashPolicyUpdate =
  | { readonly kind: 'header'; readonly headerName: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean };

/** A shadow copy of the traffic to another cluster. */
export interface RequestMirrorPolicyUpdate {
  readonly cluster: string;
  /** Share of requests mirrored, per million; 1,000,000 when unset (Envoy). */
  readonly percentagePerMillion: number;
}

/** A decoded RouteAction. Durations in ms; `undefined` means unset (the consumer's default applies). */
export interface RouteActionUpdate {
  /** `cluster` gives one entry of weight 1; `weighted_clusters` gives the list as configured. */
  readonly clusterSpecifier: 'cluster' | 'weighted_clusters';
  readonly clusters: readonly WeightedClusterUpdate[];
  /** Sum of `clusters[].weight`; always > 0. */
  readonly totalWeight: number;
  /** `timeout`; undefined = Envoy's default (15 s); 0 = disabled. */
  readonly timeoutMs: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  /** The route's policy, else the virtual host's, else undefined. */
  readonly retryPolicy: RetryPolicyUpdate | undefined;
  readonly hashPolicies: readonly HashPolicyUpdate[];
  readonly maxStreamDurationMs: number | undefined;
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  readonly requestMirrorPolicies: readonly RequestMirrorPolicyUpdate[];
}

/** Decodes a RetryPolicy message at `path`. */
export function decodeRetryPolicy(
  m: ProtoObject,
  path: string,
  issues: IssueCollector,
): RetryPolicyUpdate {
  const retryOn = str(m, 'retry_on')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const backOff = message(m, 'retry_back_off');
  let baseIntervalMs = 25;
  let maxIntervalMs: number | undefined;
  if (backOff !== undefined) {
    const bp = join(path, 'retry_back_off');
    const base = durationMs(backOff, 'base_interval', bp, issues);
    if (base === undefined) issues.add(join(bp, 'base_interval'), 'required');
    else if (base <= 0) issues.add(join(bp, 'base_interval'), 'must be > 0');
    else baseIntervalMs = base;
    maxIntervalMs = durationMs(backOff, 'max_interval', bp, issues);
    if (maxIntervalMs !== undefined && maxIntervalMs < baseIntervalMs) {
      issues.add(join(bp, 'max_interval'), 'must be >= base_interval');
    }
  }
  const codes = m['retriable_status_codes'];
  const retriableStatusCodes = Array.isArray(codes) ? codes.map(Number) : [];
  retriableStatusCodes.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 100 || c > 599) {
      issues.add(`${join(path, 'retriable_status_codes')}[${i}]`, 'must be an HTTP status');
    }
  });
  const numRetries = wrappedInt(m, 'num_retries') ?? 1;
  return {
    retryOn,
    numRetries,
    perTryTimeoutMs: durationMs(m, 'per_try_timeout', path, issues),
    baseIntervalMs,
    maxIntervalMs: maxIntervalMs ?? baseIntervalMs * 10,
    retriableStatusCodes,
  };
}

function decodeHashPolicy(
  h: ProtoObject,
  path: string,
  issues: IssueCollector,
): HashPolicyUpdate | undefined {
  const terminal = bool(h, 'terminal');
  const which = oneof(h, 'policy_specifier');
  switch (which) {
    case 'header': {
      const headerName = str(message(h, 'header') ?? {}, 'header_name');
      if (headerName === '') issues.add(join(path, 'header.header_name'), 'required');
      return { kind: 'header', headerName: headerName.toLowerCase(), terminal };
    }
    case 'connection_properties':
      if (!bool(message(h, 'connection_properties') ?? {}, 'source_ip')) {
        issues.add(join(path, 'connection_properties.source_ip'), 'must be true');
      }
      return { kind: 'source_ip', terminal };
    case 'filter_state': {
      const key = str(message(h, 'filter_state') ?? {}, 'key');
      if (key === '') issues.add(join(path, 'filter_state.key'), 'required');
      return { kind: 'filter_state', key, terminal };
    }
    case 'query_parameter': {
      const name = str(message(h, 'query_parameter') ?? {}, 'name');
      if (name === '') issues.add(join(path, 'query_parameter.name'), 'required');
      return { kind: 'query_parameter', name, terminal };
    }
    case undefined:
    default:
      issues.add(path, `unsupported hash policy ${which ?? '(none)'}`);
      return undefined;
  }
}

function decodeClusters(
  action: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): Pick<RouteActionUpdate, 'clusterSpecifier' | 'clusters' | 'totalWeight'> {
  const which = oneof(action, 'cluster_specifier');
  if (which === 'cluster') {
    const name = str(action, 'cluster');
    if (name === '') issues.add(join(path, 'cluster'), 'must not be empty');
    return {
      clusterSpecifier: 'cluster',
      clusters: [{ name, weight: 1, typedPerFilterConfig: {} }],
      totalWeight: 1,
    };
  }
  if (which === 'weighted_clusters') {
    const wp = join(path, 'weighted_clusters');
    const list = messages(message(action, 'weighted_clusters') ?? {}, 'clusters');
    if (list.length === 0) issues.add(join(wp, 'clusters'), 'must not be empty');
    const clusters = list.map((c, i): WeightedClusterUpdate => {
      const cp = `${join(wp, 'clusters')}[${i}]`;
      const name = str(c, 'name');
      if (name === '') issues.add(join(cp, 'name'), 'required');
      const weight = wrappedInt(c, 'weight') ?? 0;
      return { name, weight, typedPerFilterConfig: decodePerFilterConfig(c, cp, issues, ctx) };
    });
    const totalWeight = clusters.reduce((sum, c) => sum + c.weight, 0);
    if (list.length > 0 && totalWeight <= 0)
      issues.add(join(wp, 'clusters'), 'total weight must be > 0');
    if (totalWeight > 0xffffffff) issues.add(join(wp, 'clusters'), 'total weight exceeds uint32');
    return { clusterSpecifier: 'weighted_clusters', clusters, totalWeight };
  }
  issues.add(path, `unsupported cluster specifier ${which ?? '(none)'}`);
  return { clusterSpecifier: 'cluster', clusters: [], totalWeight: 0 };
}

/** Decodes a RouteAction at `path`; `vhostRetry` is the virtual host's policy (the fallback). */
export function decodeRouteAction(
  action: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
  vhostRetry: RetryPolicyUpdate | undefined,
): RouteActionUpdate {
  const retry = message(action, 'retry_policy');
  const msd = message(action, 'max_stream_duration') ?? {};
  const msdPath = join(path, 'max_stream_duration');
  return {
    ...decodeClusters(action, path, issues, ctx),
    timeoutMs: durationMs(action, 'timeout', path, issues),
    idleTimeoutMs: durationMs(action, 'idle_timeout', path, issues),
    retryPolicy:
      retry === undefined
        ? vhostRetry
        : decodeRetryPolicy(retry, join(path, 'retry_policy'), issues),
    hashPolicies: messages(action, 'hash_policy').flatMap((h, i) => {
      const d = decodeHashPolicy(h, `${join(path, 'hash_policy')}[${i}]`, issues);
      return d === undefined ? [] : [d];
    }),
    maxStreamDurationMs: durationMs(msd, 'max_stream_duration', msdPath, issues),
    grpcTimeoutHeaderMaxMs: durationMs(msd, 'grpc_timeout_header_max', msdPath, issues),
    requestMirrorPolicies: messages(action, 'request_mirror_policies').map((m, i) => {
      const mp = `${join(path, 'request_mirror_policies')}[${i}]`;
      const cluster = str(m, 'cluster');
      if (cluster === '') issues.add(join(mp, 'cluster'), 'required');
      const percentagePerMillion = runtimeFractionPerMillion(
        m,
        'runtime_fraction',
        mp,
        issues,
        1_000_000,
      );
      return { cluster, percentagePerMillion };
    }),
  };
}
