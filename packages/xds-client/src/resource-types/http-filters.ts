// Decodes HTTP filter configs: the HCM's http_filters list and the typed_per_filter_config
// overrides of virtual hosts and routes. Spec: gRFC A39 (xDS HTTP filters);
// envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto.
import type { AnyMessage } from '../protos/xds-protos.js';
import { FAULT_FILTER_TYPE_URL, ROUTER_FILTER_TYPE_URL } from '../protos/type-urls.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  anyField,
  bool,
  effectiveTypeUrl,
  isRecord,
  join,
  message,
  str,
  tryDecodeAny,
} from './decode-helpers.js';
import type { FaultUpdate } from './http-fault.js';
import { decodeHttpFault } from './http-fault.js';
import type { LocalRateLimitUpdate } from './http-local-rate-limit.js';
import { decodeLocalRateLimit } from './http-local-rate-limit.js';
import type { RbacUpdate } from './http-rbac.js';
import { decodeRbac } from './http-rbac.js';
import type { DecodeContext } from './xds-resource-type.js';

/** envoy.extensions.filters.http.rbac.v3.RBAC (listener level). */
export const RBAC_FILTER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' as const;
/** envoy.extensions.filters.http.rbac.v3.RBACPerRoute (typed_per_filter_config). */
export const RBAC_PER_ROUTE_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute' as const;
/** envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit (both levels). */
export const LOCAL_RATELIMIT_FILTER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit' as const;
const FILTER_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/**
 * A known filter's decoded config. Fault and local rate-limit configs are fully decoded and
 * validated, RBAC configs into a policy tree (RBACPerRoute: its `rbac`; none = enforce nothing).
 * `disabled` comes only from a per-route FilterConfig with `disabled: true`.
 */
export type HttpFilterConfigUpdate =
  | { readonly kind: 'router' }
  | { readonly kind: 'fault'; readonly fault: FaultUpdate }
  | { readonly kind: 'rbac'; readonly rbac: RbacUpdate }
  | { readonly kind: 'local_ratelimit'; readonly config: LocalRateLimitUpdate }
  | { readonly kind: 'disabled' };

/** One entry of the HCM's http_filters. */
export interface HttpFilterUpdate {
  /** The filter instance name (typed_per_filter_config keys refer to it). */
  readonly name: string;
  /** The config's type URL (the wrapped one for a TypedStruct). */
  readonly typeUrl: string;
  readonly isOptional: boolean;
  /** Undefined for an unknown filter marked `is_optional` (kept for visibility, then skipped). */
  readonly config: HttpFilterConfigUpdate | undefined;
}

/**
 * Decodes one known filter config; 'unknown' for a type Weft does not implement, 'invalid' when
 * an issue has been recorded.
 */
function decodeKnown(
  any: AnyMessage,
  typeUrl: string,
  perRoute: boolean,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): HttpFilterConfigUpdate | 'unknown' | 'invalid' {
  const known =
    typeUrl === FAULT_FILTER_TYPE_URL ||
    typeUrl === LOCAL_RATELIMIT_FILTER_TYPE_URL ||
    (typeUrl === ROUTER_FILTER_TYPE_URL && !perRoute) ||
    typeUrl === (perRoute ? RBAC_PER_ROUTE_TYPE_URL : RBAC_FILTER_TYPE_URL);
  if (!known) return 'unknown';
  if (any.type_url !== typeUrl) {
    // A TypedStruct around a known type: its JSON form is not decoded by Weft.
    issues.add(path, `TypedStruct config for ${typeUrl} is not supported`);
    return 'invalid';
  }
  const decoded = tryDecodeAny(any, ctx);
  if (decoded === undefined) {
    issues.add(path, `malformed ${typeUrl}`);
    return 'invalid';
  }
  if (typeUrl === ROUTER_FILTER_TYPE_URL) return { kind: 'router' };
  if (typeUrl === FAULT_FILTER_TYPE_URL) {
    return { kind: 'fault', fault: decodeHttpFault(decoded, path, issues) };
  }
  if (typeUrl === LOCAL_RATELIMIT_FILTER_TYPE_URL)
    return {
      kind: 'local_ratelimit',
      config: decodeLocalRateLimit(decoded, perRoute, path, issues, ctx),
    };
  if (perRoute) {
    const inner = message(decoded, 'rbac');
    return {
      kind: 'rbac',
      rbac:
        inner === undefined ? { rules: undefined } : decodeRbac(inner, join(path, 'rbac'), issues),
    };
  }
  return { kind: 'rbac', rbac: decodeRbac(decoded, path, issues) };
}

/**
 * Decodes the HCM's http_filters. Rules (gRFC A39): non-empty, names unique, the router last
 * and only last; an unknown filter that is not `is_optional` is an issue naming it.
 */
export function decodeHttpFilters(
  filters: readonly ProtoObject[],
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): HttpFilterUpdate[] {
  if (filters.length === 0) {
    issues.add(path, 'must not be empty (the router filter is required)');
    return [];
  }
  const out: HttpFilterUpdate[] = [];
  const seen = new Set<string>();
  filters.forEach((f, i) => {
    const p = `${path}[${i}]`;
    const name = str(f, 'name');
    if (name === '') issues.add(join(p, 'name'), 'required');
    else if (seen.has(name)) issues.add(join(p, 'name'), `duplicate filter name ${name}`);
    seen.add(name);
    const isOptional = bool(f, 'is_optional');
    const any = anyField(f, 'typed_config');
    if (any === undefined) {
      if (!isOptional) issues.add(join(p, 'typed_config'), `required (filter ${name})`);
      return;
    }
    const typeUrl = effectiveTypeUrl(any, ctx);
    const config = decodeKnown(any, typeUrl, false, join(p, 'typed_config'), issues, ctx);
    if (config === 'invalid') return;
    if (config === 'unknown') {
      if (!isOptional) {
        issues.add(join(p, 'typed_config'), `unsupported filter ${name} (${typeUrl})`);
      }
      out.push({ name, typeUrl, isOptional, config: undefined });
      return;
    }
    const isLast = i === filters.length - 1;
    if (config.kind === 'router' && !isLast) {
      issues.add(p, `router filter ${name} must be the last filter`);
    }
    out.push({ name, typeUrl, isOptional, config });
  });
  const last = out.at(-1);
  if (last?.config?.kind !== 'router') {
    issues.add(`${path}[${filters.length - 1}]`, 'the last filter must be the router filter');
  }
  return out;
}

/**
 * Decodes a typed_per_filter_config map (filter instance name → Any, possibly wrapped in a
 * route.v3.FilterConfig). An unknown type is an issue unless the wrapper marks it optional.
 */
export function decodePerFilterConfig(
  obj: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): Readonly<Record<string, HttpFilterConfigUpdate>> {
  const out: Record<string, HttpFilterConfigUpdate> = {};
  const map = message(obj, 'typed_per_filter_config');
  if (map === undefined) return out;
  for (const [filterName, value] of Object.entries(map)) {
    const p = `${join(path, 'typed_per_filter_config')}[${JSON.stringify(filterName)}]`;
    if (!isRecord(value) || typeof value['type_url'] !== 'string') {
      issues.add(p, 'expected an Any');
      continue;
    }
    let any = anyField({ v: value }, 'v');
    let isOptional = false;
    if (any?.type_url === FILTER_CONFIG_TYPE_URL) {
      const wrapper = tryDecodeAny(any, ctx);
      if (wrapper === undefined) {
        issues.add(p, 'malformed FilterConfig');
        continue;
      }
      isOptional = bool(wrapper, 'is_optional');
      if (bool(wrapper, 'disabled')) {
        out[filterName] = { kind: 'disabled' };
        continue;
      }
      any = anyField(wrapper, 'config');
    }
    if (any === undefined) {
      issues.add(p, 'config required');
      continue;
    }
    const typeUrl = effectiveTypeUrl(any, ctx);
    const config = decodeKnown(any, typeUrl, true, p, issues, ctx);
    if (config === 'invalid') continue;
    if (config === 'unknown') {
      if (!isOptional) issues.add(p, `unsupported filter override ${typeUrl}`);
      continue;
    }
    out[filterName] = config;
  }
  return out;
}
