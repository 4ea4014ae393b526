// Builds the RouteConfiguration `host:port`: one virtual host whose routes come from the host's
// VirtualService (first match wins) or a default route to the host's own cluster.
// Spec: envoy/config/route/v3/route.proto; DESIGN.md "xDS conventions"; XDS-NOTES.md.
import { FAULT_FILTER_TYPE_URL } from '@weft/xds-client';
import type { ClientKind, TranslationNote } from '../contracts.js';
import { msToDuration } from '../config/duration.js';
import type {
  HashKey,
  HeaderOperations,
  HttpMatch,
  HttpRoute,
  MeshModel,
  NamedStringMatch,
  RouteDestination,
  StringMatch,
  TrafficPolicy,
} from '../config/mesh-model.js';
import { GRPC_RETRY_CONDITIONS } from '../config/schemas/virtual-service-schema.js';
import {
  LOCAL_RATELIMIT_FILTER_NAME,
  grpcRateLimitNote,
  localRateLimitConfig,
  rateLimitsFor,
} from './build-local-rate-limit.js';
import {
  clusterName,
  defaultListenerName,
  portListenerName,
  routeConfigName,
} from './resource-names.js';

/** The fault filter's name, also the key of its per-route config. */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

/** Retry back-off when the VirtualService gives none (Envoy's defaults, stated). */
const RETRY_BASE_INTERVAL_MS = 25;
const RETRY_MAX_INTERVAL_MS = 250;

/** Options of {@link buildRouteConfiguration}. */
export interface RouteConfigurationInput {
  readonly model: MeshModel;
  readonly host: string;
  readonly port: number;
  readonly kind: ClientKind;
}

function stringMatcher(m: StringMatch, ignoreCase = false): Record<string, unknown> {
  const base = ignoreCase ? { ignore_case: true } : {};
  switch (m.kind) {
    case 'exact':
      return { ...base, exact: m.value };
    case 'prefix':
      return { ...base, prefix: m.value };
    case 'regex':
      return { safe_regex: { regex: m.value } };
  }
}

function headerMatcher(h: NamedStringMatch, invert: boolean): Record<string, unknown> {
  return {
    name: h.name,
    string_match: stringMatcher(h.match),
    ...(invert ? { invert_match: true } : {}),
  };
}

function routeMatch(m: HttpMatch | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const uri = m?.uri ?? null;
  if (uri === null) out['prefix'] = '/';
  else if (uri.kind === 'exact') out['path'] = uri.value;
  else if (uri.kind === 'prefix') out['prefix'] = uri.value;
  else out['safe_regex'] = { regex: uri.value };
  if (m === null) return out;
  if (m.ignoreUriCase) out['case_sensitive'] = { value: false };
  const headers = [
    ...m.headers.map((h) => headerMatcher(h, false)),
    ...m.withoutHeaders.map((h) => headerMatcher(h, true)),
  ];
  if (headers.length > 0) out['headers'] = headers;
  if (m.queryParams.length > 0)
    out['query_parameters'] = m.queryParams.map((q) => ({
      name: q.name,
      string_match: stringMatcher(q.match),
    }));
  return out;
}

function percent(value: number): { numerator: number; denominator: string } {
  return { numerator: Math.round(value * 10_000), denominator: 'MILLION' };
}

function headerOptions(ops: HeaderOperations): Record<string, unknown>[] {
  return [
    ...Object.entries(ops.set).map(([key, value]) => ({
      header: { key, value },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    })),
    ...Object.entries(ops.add).map(([key, value]) => ({
      header: { key, value },
      append_action: 'APPEND_IF_EXISTS_OR_ADD',
    })),
  ];
}

function hashPolicy(key: HashKey): Record<string, unknown> {
  switch (key.kind) {
    case 'header':
      return { header: { header_name: key.name } };
    case 'sourceIp':
      return { connection_properties: { source_ip: true } };
    case 'queryParameter':
      return { query_parameter: { name: key.name } };
  }
}

/** Whether any route of `host`'s VirtualService injects faults (the listener then needs the fault filter). */
export function hostHasFaults(model: MeshModel, host: string): boolean {
  return model.virtualServices.get(host)?.http.some((r) => r.fault !== null) === true;
}

/** The RouteConfiguration as a plain proto object, plus what was changed for the client kind. */
export function buildRouteConfiguration(input: RouteConfigurationInput): {
  routeConfiguration: Record<string, unknown>;
  notes: TranslationNote[];
} {
  const { model, host, port, kind } = input;
  const name = routeConfigName(host, port);
  const notes: TranslationNote[] = [];
  const note = (message: string): void => {
    notes.push({ clientKind: kind, resource: name, message });
  };
  const grpc = kind === 'grpc';

  const portOf = (d: { host: string; port: number | null }): number => {
    if (d.port !== null) return d.port;
    const service = model.services.get(d.host);
    if (d.host === host && service?.ports.some((p) => p.number === port) === true) return port;
    return service?.ports[0]?.number ?? port;
  };
  const policyOf = (d: RouteDestination): TrafficPolicy | undefined => {
    const dp = model.destinationPolicies.get(d.host);
    return d.subset === ''
      ? dp?.trafficPolicy
      : dp?.subsets.find((s) => s.name === d.subset)?.trafficPolicy;
  };
  // Istio's rule: a hash policy applies when every destination hashes on the same key.
  const hashPolicyOf = (
    policies: readonly (TrafficPolicy | undefined)[],
    routeName: string,
  ): Record<string, unknown>[] | undefined => {
    const keys = policies.map((p) => {
      const lb = p?.loadBalancer;
      return lb?.kind === 'RING_HASH' ? JSON.stringify(lb.hashKey) : '';
    });
    const key0 = keys[0] ?? '';
    if (key0 === '' || !keys.every((k) => k === key0)) return undefined;
    const hashKey = JSON.parse(key0) as HashKey;
    if (grpc && hashKey.kind !== 'header') {
      note(
        `route ${routeName}: consistentHash on ${hashKey.kind} is not supported by gRPC clients; not sent`,
      );
      return undefined;
    }
    return [hashPolicy(hashKey)];
  };
  const clusterOf = (d: { host: string; subset: string; port: number | null }): string =>
    clusterName(d.host, portOf(d), d.subset);

  const action = (r: HttpRoute, routeName: string): Record<string, unknown> => {
    const a: Record<string, unknown> = {};
    const [first] = r.destinations;
    if (r.destinations.length === 1 && first !== undefined) a['cluster'] = clusterOf(first);
    else
      a['weighted_clusters'] = {
        clusters: r.destinations.map((d) => ({ name: clusterOf(d), weight: { value: d.weight } })),
      };
    a['timeout'] = msToDuration(r.timeoutMs);
    if (grpc && r.timeoutMs > 0)
      a['max_stream_duration'] = {
        max_stream_duration: msToDuration(r.timeoutMs),
        grpc_timeout_header_max: msToDuration(r.timeoutMs),
      };
    if (r.retries !== null && r.retries.attempts > 0) {
      let retryOn = r.retries.retryOn;
      if (grpc) {
        const dropped = retryOn.filter((t) => !GRPC_RETRY_CONDITIONS.includes(t));
        retryOn = retryOn.filter((t) => GRPC_RETRY_CONDITIONS.includes(t));
        if (dropped.length > 0)
          note(
            `route ${routeName}: retryOn ${dropped.join(',')} not supported by gRPC clients; ${retryOn.length > 0 ? 'dropped' : 'no retry policy sent'}`,
          );
      }
      if (retryOn.length > 0) {
        a['retry_policy'] = {
          retry_on: retryOn.join(','),
          num_retries: { value: r.retries.attempts },
          ...(r.retries.perTryTimeoutMs > 0
            ? { per_try_timeout: msToDuration(r.retries.perTryTimeoutMs) }
            : {}),
          ...(r.retries.retriableStatusCodes.length > 0 && !grpc
            ? { retriable_status_codes: r.retries.retriableStatusCodes }
            : {}),
          retry_back_off: {
            base_interval: msToDuration(RETRY_BASE_INTERVAL_MS),
            max_interval: msToDuration(RETRY_MAX_INTERVAL_MS),
          },
        };
      }
    }
    if (r.mirror !== null)
      a['request_mirror_policies'] = [
        {
          cluster: clusterOf(r.mirror),
          runtime_fraction: { default_value: percent(r.mirror.percent) },
        },
      ];
    const hash = hashPolicyOf(r.destinations.map(policyOf), routeName);
    if (hash !== undefined) a['hash_policy'] = hash;
    return a;
  };

  const routes: Record<string, unknown>[] = [];
  const rateLimits = rateLimitsFor(model, host, kind);
  const rateLimitNote = grpc ? grpcRateLimitNote(model, host) : undefined;
  if (rateLimitNote !== undefined) note(rateLimitNote);
  const vs = model.virtualServices.get(host);
  if (vs === undefined || vs.http.length === 0) {
    const hash = hashPolicyOf([model.destinationPolicies.get(host)?.trafficPolicy], 'default');
    routes.push({
      name: 'default',
      match: { prefix: '/' },
      route: {
        cluster: clusterName(host, port, ''),
        timeout: msToDuration(0),
        ...(hash === undefined ? {} : { hash_policy: hash }),
      },
    });
  } else {
    for (const [i, r] of vs.http.entries()) {
      const routeName = r.name === '' ? `http[${i}]` : r.name;
      const routeAction = action(r, routeName);
      const extras: Record<string, unknown> = {};
      if (r.fault !== null) {
        const fault: Record<string, unknown> = { '@type': FAULT_FILTER_TYPE_URL };
        if (r.fault.delay !== null)
          fault['delay'] = {
            fixed_delay: msToDuration(r.fault.delay.fixedDelayMs),
            percentage: percent(r.fault.delay.percent),
          };
        if (r.fault.abort !== null)
          fault['abort'] = {
            ...(r.fault.abort.httpStatus !== null
              ? { http_status: r.fault.abort.httpStatus }
              : { grpc_status: r.fault.abort.grpcStatus }),
            percentage: percent(r.fault.abort.percent),
          };
        extras['typed_per_filter_config'] = { [FAULT_FILTER_NAME]: fault };
      }
      const routeLimit = rateLimits?.routes.get(r.name);
      if (routeLimit !== undefined)
        extras['typed_per_filter_config'] = {
          ...(extras['typed_per_filter_config'] as Record<string, unknown> | undefined),
          [LOCAL_RATELIMIT_FILTER_NAME]: localRateLimitConfig(
            routeLimit,
            `local_rate_limit.${host}.${r.name}`,
          ),
        };
      const reqAdd = headerOptions(r.requestHeaders);
      const resAdd = headerOptions(r.responseHeaders);
      if (reqAdd.length > 0) extras['request_headers_to_add'] = reqAdd;
      if (r.requestHeaders.remove.length > 0)
        extras['request_headers_to_remove'] = [...r.requestHeaders.remove];
      if (resAdd.length > 0) extras['response_headers_to_add'] = resAdd;
      if (r.responseHeaders.remove.length > 0)
        extras['response_headers_to_remove'] = [...r.responseHeaders.remove];
      // Envoy routes have one match each; Istio's match list becomes one route per entry.
      const matches = r.matches.length === 0 ? [null] : r.matches;
      for (const m of matches)
        routes.push({ name: routeName, match: routeMatch(m), route: routeAction, ...extras });
    }
  }
  const domains = [...new Set([defaultListenerName(host), portListenerName(host, port)])];
  const hostLimit = rateLimits?.wholeHost ?? null;
  const virtualHost: Record<string, unknown> = { name, domains, routes };
  if (hostLimit !== null)
    virtualHost['typed_per_filter_config'] = {
      [LOCAL_RATELIMIT_FILTER_NAME]: localRateLimitConfig(hostLimit, `local_rate_limit.${host}`),
    };
  return {
    routeConfiguration: { name, virtual_hosts: [virtualHost] },
    notes,
  };
}
