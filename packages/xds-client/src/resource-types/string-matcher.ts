// Decodes envoy.type.matcher.v3.StringMatcher and RegexMatcher (route headers, query parameters,
// subject-alt-name matchers). Spec: envoy/type/matcher/v3/string.proto, regex.proto.
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import { bool, join, message, oneof, str } from './decode-helpers.js';

/**
 * A decoded StringMatcher. `safe_regex` holds the RE2 pattern source; it matches the WHOLE value
 * (Envoy's semantics), so consumers compile it as `^(?:regex)$`.
 */
export type StringMatchUpdate =
  | {
      readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains';
      readonly value: string;
      readonly ignoreCase: boolean;
    }
  | { readonly kind: 'safe_regex'; readonly regex: string };

// Constructs JavaScript accepts but RE2 rejects; Envoy would refuse the config, so we do too.
const NON_RE2_SYNTAX: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /\(\?<?[=!]/, what: 'lookaround' },
  { pattern: /\\[1-9]/, what: 'backreference' },
  { pattern: /\\k</, what: 'named backreference' },
];

/**
 * Validates an RE2 pattern as far as JavaScript can: it must compile as a RegExp and use no
 * construct RE2 lacks (lookaround, backreferences). RE2's `(?P<name>…)` is rewritten to JS's
 * `(?<name>…)` for the compile check. Returns the pattern, or undefined after recording an issue.
 */
export function validateRegex(
  regex: string,
  path: string,
  issues: IssueCollector,
): string | undefined {
  if (regex === '') {
    issues.add(path, 'regex must not be empty');
    return undefined;
  }
  for (const { pattern, what } of NON_RE2_SYNTAX) {
    if (pattern.test(regex)) {
      issues.add(path, `${what} is not supported by RE2`);
      return undefined;
    }
  }
  try {
    new RegExp(`^(?:${regex.replaceAll('(?P<', '(?<')})$`);
  } catch (err) {
    issues.add(path, `invalid regex: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  return regex;
}

/** Reads a RegexMatcher (`{google_re2?, regex}`) at `key`. */
export function decodeRegexMatcher(
  obj: ProtoObject,
  key: string,
  path: string,
  issues: IssueCollector,
): string | undefined {
  const m = message(obj, key);
  if (m === undefined) {
    issues.add(join(path, key), 'required');
    return undefined;
  }
  return validateRegex(str(m, 'regex'), join(join(path, key), 'regex'), issues);
}

/** Decodes a StringMatcher message at `path`; undefined (with an issue) when invalid. */
export function decodeStringMatcher(
  m: ProtoObject,
  path: string,
  issues: IssueCollector,
): StringMatchUpdate | undefined {
  const which = oneof(m, 'match_pattern');
  const ignoreCase = bool(m, 'ignore_case');
  switch (which) {
    case 'exact':
    case 'prefix':
    case 'suffix':
    case 'contains': {
      const value = str(m, which);
      if (value === '' && which !== 'exact') {
        issues.add(join(path, which), 'must not be empty');
        return undefined;
      }
      return { kind: which, value, ignoreCase };
    }
    case 'safe_regex': {
      const regex = decodeRegexMatcher(m, 'safe_regex', path, issues);
      return regex === undefined ? undefined : { kind: 'safe_regex', regex };
    }
    case undefined:
    default:
      issues.add(path, `unsupported match_pattern ${which ?? '(none)'}`);
      return undefined;
  }
}
