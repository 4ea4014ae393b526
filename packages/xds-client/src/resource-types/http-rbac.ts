// Decodes envoy.extensions.filters.http.rbac.v3.RBAC (and RBACPerRoute) into a typed policy tree
// the SDK evaluates: config.rbac.v3 Policy / Permission / Principal. Matchers Weft does not
// evaluate are issues naming the field (the listener is NACKed), never skipped.
// Spec: gRFC A41 (xDS RBAC); envoy/config/rbac/v3/rbac.proto.
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import { int, join, message, messages, oneof, str } from './decode-helpers.js';
import type { HeaderMatcherUpdate } from './route-configuration-resource-type.js';
import { decodeHeaderMatcher } from './route-configuration-resource-type.js';
import type { StringMatchUpdate } from './string-matcher.js';
import { decodeStringMatcher } from './string-matcher.js';

/** A decoded config.rbac.v3.Permission (what the request does). */
export type RbacPermissionUpdate =
  | { readonly kind: 'any' }
  | { readonly kind: 'and' | 'or'; readonly rules: readonly RbacPermissionUpdate[] }
  | { readonly kind: 'not'; readonly rule: RbacPermissionUpdate }
  | { readonly kind: 'header'; readonly header: HeaderMatcherUpdate }
  | { readonly kind: 'urlPath'; readonly path: StringMatchUpdate }
  | { readonly kind: 'destinationPort'; readonly port: number };

/** A decoded config.rbac.v3.Principal (who sends it). */
export type RbacPrincipalUpdate =
  | { readonly kind: 'any' }
  | { readonly kind: 'and' | 'or'; readonly ids: readonly RbacPrincipalUpdate[] }
  | { readonly kind: 'not'; readonly id: RbacPrincipalUpdate }
  /** `principalName` undefined: any authenticated peer. */
  | { readonly kind: 'authenticated'; readonly principalName: StringMatchUpdate | undefined }
  | { readonly kind: 'header'; readonly header: HeaderMatcherUpdate };

/** One named policy: matches when any permission and any principal match. */
export interface RbacPolicyUpdate {
  readonly name: string;
  readonly permissions: readonly RbacPermissionUpdate[];
  readonly principals: readonly RbacPrincipalUpdate[];
}

/**
 * A decoded RBAC filter config. `undefined` rules (Envoy: no `rules`) means the filter enforces
 * nothing. ALLOW: a request matching no policy is denied; DENY: one matching any policy is
 * denied; LOG: never denies (Istio's AUDIT).
 */
export interface RbacUpdate {
  readonly rules:
    | { readonly action: 'ALLOW' | 'DENY' | 'LOG'; readonly policies: readonly RbacPolicyUpdate[] }
    | undefined;
}

const MAX_DEPTH = 16;

function decodePermission(
  p: ProtoObject,
  path: string,
  issues: IssueCollector,
  depth: number,
): RbacPermissionUpdate {
  const which = oneof(p, 'rule');
  if (depth > MAX_DEPTH) {
    issues.add(path, `nested deeper than ${MAX_DEPTH}`);
    return { kind: 'any' };
  }
  switch (which) {
    case 'any':
      return { kind: 'any' };
    case 'and_rules':
    case 'or_rules': {
      const set = message(p, which) ?? {};
      const rules = messages(set, 'rules').map((r, i) =>
        decodePermission(r, `${join(join(path, which), 'rules')}[${i}]`, issues, depth + 1),
      );
      return { kind: which === 'and_rules' ? 'and' : 'or', rules };
    }
    case 'not_rule':
      return {
        kind: 'not',
        rule: decodePermission(
          message(p, 'not_rule') ?? {},
          join(path, 'not_rule'),
          issues,
          depth + 1,
        ),
      };
    case 'header': {
      const header = decodeHeaderMatcher(message(p, 'header') ?? {}, join(path, 'header'), issues);
      return header === undefined ? { kind: 'any' } : { kind: 'header', header };
    }
    case 'url_path': {
      const up = message(p, 'url_path') ?? {};
      const up_path = join(path, 'url_path');
      if (oneof(up, 'rule') !== 'path') {
        issues.add(up_path, 'only path matchers are supported');
        return { kind: 'any' };
      }
      const m = decodeStringMatcher(message(up, 'path') ?? {}, join(up_path, 'path'), issues);
      return m === undefined ? { kind: 'any' } : { kind: 'urlPath', path: m };
    }
    case 'destination_port': {
      const port = int(p, 'destination_port');
      if (port < 1 || port > 65535)
        issues.add(join(path, 'destination_port'), `invalid port ${port}`);
      return { kind: 'destinationPort', port };
    }
    case undefined:
    default:
      issues.add(path, `unsupported permission ${which ?? '(none)'}`);
      return { kind: 'any' };
  }
}

function decodePrincipal(
  p: ProtoObject,
  path: string,
  issues: IssueCollector,
  depth: number,
): RbacPrincipalUpdate {
  const which = oneof(p, 'identifier');
  if (depth > MAX_DEPTH) {
    issues.add(path, `nested deeper than ${MAX_DEPTH}`);
    return { kind: 'any' };
  }
  switch (which) {
    case 'any':
      return { kind: 'any' };
    case 'and_ids':
    case 'or_ids': {
      const set = message(p, which) ?? {};
      const ids = messages(set, 'ids').map((r, i) =>
        decodePrincipal(r, `${join(join(path, which), 'ids')}[${i}]`, issues, depth + 1),
      );
      return { kind: which === 'and_ids' ? 'and' : 'or', ids };
    }
    case 'not_id':
      return {
        kind: 'not',
        id: decodePrincipal(message(p, 'not_id') ?? {}, join(path, 'not_id'), issues, depth + 1),
      };
    case 'authenticated': {
      const a = message(p, 'authenticated') ?? {};
      const pn = message(a, 'principal_name');
      if (pn === undefined) return { kind: 'authenticated', principalName: undefined };
      const m = decodeStringMatcher(
        pn,
        join(join(path, 'authenticated'), 'principal_name'),
        issues,
      );
      return { kind: 'authenticated', principalName: m };
    }
    case 'header': {
      const header = decodeHeaderMatcher(message(p, 'header') ?? {}, join(path, 'header'), issues);
      return header === undefined ? { kind: 'any' } : { kind: 'header', header };
    }
    case undefined:
    default:
      issues.add(path, `unsupported principal ${which ?? '(none)'}`);
      return { kind: 'any' };
  }
}

/** Decodes an RBAC filter config (the `rules` of envoy.extensions.filters.http.rbac.v3.RBAC). */
export function decodeRbac(rbac: ProtoObject, path: string, issues: IssueCollector): RbacUpdate {
  for (const field of ['shadow_rules', 'matcher', 'shadow_matcher'] as const) {
    if (rbac[field] !== undefined && rbac[field] !== null)
      issues.add(join(path, field), 'not supported by Weft');
  }
  if (str(rbac, 'rules_stat_prefix') !== '' || str(rbac, 'shadow_rules_stat_prefix') !== '') {
    // Stat prefixes only rename Envoy stats; harmless.
  }
  const rules = message(rbac, 'rules');
  if (rules === undefined) return { rules: undefined };
  const rp = join(path, 'rules');
  const action = str(rules, 'action') || 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') {
    issues.add(join(rp, 'action'), `unsupported action ${action}`);
  }
  if (rules['audit_logging_options'] !== undefined && rules['audit_logging_options'] !== null)
    issues.add(join(rp, 'audit_logging_options'), 'not supported by Weft');
  const map = message(rules, 'policies') ?? {};
  const policies: RbacPolicyUpdate[] = [];
  for (const name of Object.keys(map).sort()) {
    const pp = `${join(rp, 'policies')}[${JSON.stringify(name)}]`;
    const pol = message(map, name) ?? {};
    if (pol['condition'] !== undefined && pol['condition'] !== null)
      issues.add(join(pp, 'condition'), 'CEL conditions are not supported by Weft');
    if (pol['checked_condition'] !== undefined && pol['checked_condition'] !== null)
      issues.add(join(pp, 'checked_condition'), 'CEL conditions are not supported by Weft');
    const permissions = messages(pol, 'permissions').map((p, i) =>
      decodePermission(p, `${join(pp, 'permissions')}[${i}]`, issues, 0),
    );
    const principals = messages(pol, 'principals').map((p, i) =>
      decodePrincipal(p, `${join(pp, 'principals')}[${i}]`, issues, 0),
    );
    if (permissions.length === 0) issues.add(join(pp, 'permissions'), 'must not be empty');
    if (principals.length === 0) issues.add(join(pp, 'principals'), 'must not be empty');
    policies.push({ name, permissions, principals });
  }
  return { rules: { action: action as 'ALLOW' | 'DENY' | 'LOG', policies } };
}
