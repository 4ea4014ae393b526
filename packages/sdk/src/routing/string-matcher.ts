// Compiles the decoded matchers of a route (path, headers, query parameters) into predicates, once
// per RDS update. Spec: envoy/config/route/v3/route_components.proto HeaderMatcher and
// QueryParameterMatcher, envoy/type/matcher/v3/string.proto; gRFC A28 (gRPC metadata as headers).
import type {
  HeaderMatcherUpdate,
  QueryParameterMatcherUpdate,
  StringMatchUpdate,
} from '@weft/xds-client';

/** A compiled string predicate. MUST be pure: it runs on the hot path. */
export type StringPredicate = (value: string) => boolean;

/**
 * Compiles an RE2 pattern (the validated subset the decoder accepts) to a full-match RegExp:
 * Envoy's safe_regex matches the whole value. RE2's `(?P<name>` becomes JS's `(?<name>`.
 */
export function compileFullMatchRegex(regex: string, ignoreCase = false): RegExp {
  return new RegExp(`^(?:${regex.replaceAll('(?P<', '(?<')})$`, ignoreCase ? 'i' : '');
}

/** Compiles a StringMatcher; `ignoreCase` values are lower-cased here, once. */
export function compileStringMatch(match: StringMatchUpdate): StringPredicate {
  if (match.kind === 'safe_regex') {
    const re = compileFullMatchRegex(match.regex);
    return (v) => re.test(v);
  }
  const ignoreCase = match.ignoreCase;
  const want = ignoreCase ? match.value.toLowerCase() : match.value;
  const fold = (v: string): string => (ignoreCase ? v.toLowerCase() : v);
  switch (match.kind) {
    case 'exact':
      return (v) => fold(v) === want;
    case 'prefix':
      return (v) => fold(v).startsWith(want);
    case 'suffix':
      return (v) => fold(v).endsWith(want);
    case 'contains':
      return (v) => fold(v).includes(want);
  }
}

/** A compiled header matcher: `test(header)` where `header` is the request's header lookup. */
export interface CompiledHeaderMatcher {
  readonly name: string;
  test(header: (lowerCaseName: string) => string | undefined): boolean;
}

const INTEGER = /^[+-]?\d+$/;

/**
 * Compiles one header matcher with Envoy's semantics:
 * - a present header is matched, then the result is inverted when `invertMatch`;
 * - an absent header matches only `present: false`, or any inverted non-present matcher;
 * - `range` matches an integer value in [start, end);
 * - gRPC binary metadata (`-bin` names) never matches a string or range matcher (gRFC A28),
 *   inverted or not; presence still works.
 */
export function compileHeaderMatcher(m: HeaderMatcherUpdate): CompiledHeaderMatcher {
  const name = m.name.toLowerCase();
  const invert = m.invertMatch;
  const match = m.match;
  if (match.kind === 'present') {
    const want = match.present;
    return { name, test: (header) => ((header(name) !== undefined) === want) !== invert };
  }
  if (name.endsWith('-bin')) return { name, test: () => false };
  let predicate: StringPredicate;
  if (match.kind === 'range') {
    const { start, end } = match;
    predicate = (v) => {
      if (!INTEGER.test(v)) return false;
      const n = Number(v);
      return n >= start && n < end;
    };
  } else {
    predicate = compileStringMatch(match);
  }
  return {
    name,
    test: (header) => {
      const value = header(name);
      if (value === undefined) return invert;
      return predicate(value) !== invert;
    },
  };
}

/** A compiled query-parameter matcher over the request's parsed query (raw, undecoded values). */
export interface CompiledQueryMatcher {
  test(query: ReadonlyMap<string, string>): boolean;
}

/** Compiles one query-parameter matcher (Envoy: values compared as sent, no URL-decoding). */
export function compileQueryMatcher(m: QueryParameterMatcherUpdate): CompiledQueryMatcher {
  const name = m.name;
  const match = m.match;
  if (match.kind === 'present') {
    const want = match.present;
    return { test: (q) => q.has(name) === want };
  }
  const predicate = compileStringMatch(match);
  return {
    test: (q) => {
      const v = q.get(name);
      return v !== undefined && predicate(v);
    },
  };
}

const EMPTY_QUERY: ReadonlyMap<string, string> = new Map();

/** Parses `a=1&b&c=2` into name → first value (Envoy keeps the first of repeated names). */
export function parseQuery(query: string): ReadonlyMap<string, string> {
  if (query === '') return EMPTY_QUERY;
  const out = new Map<string, string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    if (!out.has(key)) out.set(key, eq === -1 ? '' : part.slice(eq + 1));
  }
  return out;
}
