// RDS: decodes and validates envoy.config.route.v3.RouteConfiguration into a RouteConfigurationUpdate.
// Spec: envoy/config/route/v3/route.proto, route_components.proto; gRFC A28 (xDS routing).
import { ROUTE_CONFIGURATION_TYPE_URL } from '../protos/type-urls.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { ProtoObject } from './decode-helpers.js';
import {
  IssueCollector,
  decodeResource,
  deepEqual,
  deepFreeze,
  int,
  join,
  message,
  messages,
  oneof,
  str,
  wrappedBool,
} from './decode-helpers.js';
import type { HttpFilterConfigUpdate } from './http-filters.js';
import { decodePerFilterConfig } from './http-filters.js';
import type { RetryPolicyUpdate, RouteActionUpdate } from './route-action.js';
import { decodeRetryPolicy, decodeRouteAction } from './route-action.js';
import type { StringMatchUpdate } from './string-matcher.js';
import { decodeRegexMatcher, decodeStringMatcher } from './string-matcher.js';
import type { DecodeContext, DecodeResult, XdsResourceType } from './xds-resource-type.js';

/** How a route matches the path. `safe_regex` must match the whole path (compile as `^(?:re)$`). */
export type PathMatchUpdate =
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'safe_regex'; readonly regex: string };

/** A header matcher; `name` is lower-cased. A `range` matches integers in [start, end). */
export interface HeaderMatcherUpdate {
  readonly name: string;
  readonly invertMatch: boolean;
  readonly match:
    | StringMatchUpdate
    | { readonly kind: 'present'; readonly present: boolean }
    | { readonly kind: 'range'; readonly start: number; readonly end: number };
}

/** A query-parameter matcher: a string match on the value, or presence. */
export interface QueryParameterMatcherUpdate {
  readonly name: string;
  readonly match: StringMatchUpdate | { readonly kind: 'present'; readonly present: boolean };
}

/** A decoded RouteMatch. */
export interface RouteMatchUpdate {
  readonly path: PathMatchUpdate;
  /** Default true (Envoy); applies to prefix and path. */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcherUpdate[];
  readonly queryParameters: readonly QueryParameterMatcherUpdate[];
}

/** One route: first match wins within its virtual host. */
export interface RouteUpdate {
  readonly name: string;
  readonly match: RouteMatchUpdate;
  readonly action: RouteActionUpdate;
  readonly typedPerFilterConfig: Readonly<Record<string, HttpFilterConfigUpdate>>;
}

/** A virtual host: chosen by the request's authority against `domains` (Envoy's rules). */
export interface VirtualHostUpdate {
  readonly name: string;
  /** Non-empty; each exact, `*.suffix`/`*suffix`, `prefix.*`/`prefix*`, or `*`. Lower-cased. */
  readonly domains: readonly string[];
  readonly routes: readonly RouteUpdate[];
  readonly typedPerFilterConfig: Readonly<Record<string, HttpFilterConfigUpdate>>;
  /** Also copied into each route without its own retry policy. */
  readonly retryPolicy: RetryPolicyUpdate | undefined;
}

/**
 * A decoded RouteConfiguration. Durations are milliseconds; percentages are integers per million
 * (FractionalPercent converted exactly). Deep-frozen.
 */
export interface RouteConfigurationUpdate {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostUpdate[];
}

/** Whether a virtual-host domain has a legal shape: at most one `*`, only at either end. */
function validDomain(domain: string): boolean {
  if (domain === '') return false;
  if (domain === '*') return true;
  const stars = domain.split('*').length - 1;
  if (stars === 0) return true;
  if (stars > 1) return false;
  return (domain.startsWith('*') || domain.endsWith('*')) && domain.length > 1;
}

function decodePathMatch(m: ProtoObject, path: string, issues: IssueCollector): PathMatchUpdate {
  const which = oneof(m, 'path_specifier');
  switch (which) {
    case 'prefix':
      return { kind: 'prefix', prefix: str(m, 'prefix') };
    case 'path':
      return { kind: 'path', path: str(m, 'path') };
    case 'safe_regex':
      return { kind: 'safe_regex', regex: decodeRegexMatcher(m, 'safe_regex', path, issues) ?? '' };
    case undefined:
    default:
      issues.add(path, `unsupported path specifier ${which ?? '(none)'}`);
      return { kind: 'prefix', prefix: '' };
  }
}

export function decodeHeaderMatcher(
  h: ProtoObject,
  path: string,
  issues: IssueCollector,
): HeaderMatcherUpdate | undefined {
  const name = str(h, 'name').toLowerCase();
  if (name === '') issues.add(join(path, 'name'), 'required');
  const invertMatch = h['invert_match'] === true;
  const which = oneof(h, 'header_match_specifier');
  let match: HeaderMatcherUpdate['match'] | undefined;
  switch (which) {
    case 'exact_match':
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match': {
      const kind = which.slice(0, -'_match'.length) as 'exact' | 'prefix' | 'suffix' | 'contains';
      match = { kind, value: str(h, which), ignoreCase: false };
      break;
    }
    case 'safe_regex_match': {
      const regex = decodeRegexMatcher(h, 'safe_regex_match', path, issues);
      if (regex !== undefined) match = { kind: 'safe_regex', regex };
      break;
    }
    case 'present_match':
      match = { kind: 'present', present: h['present_match'] === true };
      break;
    case 'range_match': {
      const r = message(h, 'range_match') ?? {};
      const start = int(r, 'start');
      const end = int(r, 'end');
      if (end <= start) issues.add(join(path, 'range_match'), 'end must be greater than start');
      match = { kind: 'range', start, end };
      break;
    }
    case 'string_match':
      match = decodeStringMatcher(
        message(h, 'string_match') ?? {},
        join(path, 'string_match'),
        issues,
      );
      break;
    case undefined:
    default:
      // Envoy: no specifier means "present".
      match = { kind: 'present', present: true };
  }
  return match === undefined ? undefined : { name, invertMatch, match };
}

function decodeQueryMatcher(
  q: ProtoObject,
  path: string,
  issues: IssueCollector,
): QueryParameterMatcherUpdate | undefined {
  const name = str(q, 'name');
  if (name === '') issues.add(join(path, 'name'), 'required');
  const which = oneof(q, 'query_parameter_match_specifier');
  if (which === 'present_match') {
    return { name, match: { kind: 'present', present: q['present_match'] === true } };
  }
  if (which === 'string_match') {
    const match = decodeStringMatcher(
      message(q, 'string_match') ?? {},
      join(path, 'string_match'),
      issues,
    );
    return match === undefined ? undefined : { name, match };
  }
  issues.add(path, 'one of string_match or present_match is required');
  return undefined;
}

function decodeRoute(
  r: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
  vhostRetry: RetryPolicyUpdate | undefined,
): RouteUpdate {
  const m = message(r, 'match');
  const mp = join(path, 'match');
  if (m === undefined) issues.add(mp, 'required');
  const matchMsg = m ?? {};
  const match: RouteMatchUpdate = {
    path: decodePathMatch(matchMsg, mp, issues),
    caseSensitive: wrappedBool(matchMsg, 'case_sensitive') ?? true,
    headers: messages(matchMsg, 'headers').flatMap((h, i) => {
      const d = decodeHeaderMatcher(h, `${join(mp, 'headers')}[${i}]`, issues);
      return d === undefined ? [] : [d];
    }),
    queryParameters: messages(matchMsg, 'query_parameters').flatMap((q, i) => {
      const d = decodeQueryMatcher(q, `${join(mp, 'query_parameters')}[${i}]`, issues);
      return d === undefined ? [] : [d];
    }),
  };
  const which = oneof(r, 'action');
  let action: RouteActionUpdate;
  if (which === 'route') {
    action = decodeRouteAction(
      message(r, 'route') ?? {},
      join(path, 'route'),
      issues,
      ctx,
      vhostRetry,
    );
  } else {
    issues.add(path, `unsupported route action ${which ?? '(none)'}`);
    action = decodeRouteAction({}, join(path, 'route'), new IssueCollector(), ctx, vhostRetry);
  }
  return {
    name: str(r, 'name'),
    match,
    action,
    typedPerFilterConfig: decodePerFilterConfig(r, path, issues, ctx),
  };
}

/** Decodes the body of a RouteConfiguration; shared with LDS for inline `route_config`. */
export function decodeRouteConfigurationMessage(
  msg: ProtoObject,
  name: string,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): RouteConfigurationUpdate {
  const seenDomains = new Map<string, string>();
  const virtualHosts = messages(msg, 'virtual_hosts').map((vh, i): VirtualHostUpdate => {
    const vp = `${join(path, 'virtual_hosts')}[${i}]`;
    const vhName = str(vh, 'name');
    if (vhName === '') issues.add(join(vp, 'name'), 'required');
    const rawDomains = Array.isArray(vh['domains']) ? (vh['domains'] as unknown[]) : [];
    if (rawDomains.length === 0) issues.add(join(vp, 'domains'), 'must not be empty');
    const domains = rawDomains.map((d, j) => {
      const domain = typeof d === 'string' ? d.toLowerCase() : '';
      const dp = `${join(vp, 'domains')}[${j}]`;
      if (!validDomain(domain)) {
        issues.add(dp, `invalid domain ${JSON.stringify(d)}: one * at either end at most`);
      } else if (seenDomains.has(domain)) {
        issues.add(dp, `duplicate domain ${domain} (also in ${seenDomains.get(domain) ?? ''})`);
      } else seenDomains.set(domain, vp);
      return domain;
    });
    const retryMsg = message(vh, 'retry_policy');
    const retryPolicy =
      retryMsg === undefined
        ? undefined
        : decodeRetryPolicy(retryMsg, join(vp, 'retry_policy'), issues);
    const routes = messages(vh, 'routes').map((r, j) =>
      decodeRoute(r, `${join(vp, 'routes')}[${j}]`, issues, ctx, retryPolicy),
    );
    return {
      name: vhName,
      domains,
      routes,
      typedPerFilterConfig: decodePerFilterConfig(vh, vp, issues, ctx),
      retryPolicy,
    };
  });
  return { name, virtualHosts };
}

/** The RDS resource type (`RouteConfiguration`; SotW responses may carry a subset). */
export class RouteConfigurationResourceType implements XdsResourceType<RouteConfigurationUpdate> {
  readonly typeUrl = ROUTE_CONFIGURATION_TYPE_URL;
  readonly shortName = 'rds';
  readonly allResourcesRequiredInSotW = false;

  /** Decodes and validates; never throws. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<RouteConfigurationUpdate> {
    return decodeResource(raw, ctx, this.typeUrl, 'name', (msg, name, issues) =>
      deepFreeze(decodeRouteConfigurationMessage(msg, name, '', issues, ctx)),
    );
  }

  /** Structural equality. */
  isEqual(a: RouteConfigurationUpdate, b: RouteConfigurationUpdate): boolean {
    return deepEqual(a, b);
  }
}
