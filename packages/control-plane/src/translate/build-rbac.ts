// AuthorizationPolicies → Envoy RBAC filter configs (envoy.extensions.filters.http.rbac.v3.RBAC
// with config.rbac.v3 policies), encoded the way istiod encodes them: one policy per rule named
// `ns[NS]-policy[NAME]-rule[I]`, SPIFFE principals, namespaces as a principal regex.
// Spec: https://istio.io/latest/docs/reference/config/security/authorization-policy/; gRFC A41.
import { RBAC_FILTER_TYPE_URL } from '@weft/xds-client';
import type {
  AuthzCondition,
  AuthzOperation,
  AuthzSource,
  MeshAuthorizationPolicy,
} from '../config/mesh-model.js';

type Proto = Record<string, unknown>;

/** HTTP filter names of the three RBAC filters, in the order they run. */
export const RBAC_FILTER_NAMES = {
  DENY: 'envoy.filters.http.rbac.deny',
  ALLOW: 'envoy.filters.http.rbac.allow',
  AUDIT: 'envoy.filters.http.rbac.audit',
} as const;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Istio's wildcard strings: `*` (present), `x*` (prefix), `*x` (suffix), else exact. */
function stringMatcher(value: string, prefix = ''): Proto {
  if (value === '*') return { safe_regex: { regex: '.+' } };
  if (value.endsWith('*')) return { prefix: prefix + value.slice(0, -1) };
  if (value.startsWith('*')) return { suffix: value.slice(1) };
  return { exact: prefix + value };
}

/** A single entry stands alone; several are combined under `key` (or_rules, and_ids...). */
function combine(list: Proto[], key: string, inner: string, empty: Proto | undefined): Proto {
  const [only] = list;
  if (list.length === 0 && empty !== undefined) return empty;
  if (list.length === 1 && only !== undefined) return only;
  return { [key]: { [inner]: list } };
}
const or = (rules: Proto[]): Proto => combine(rules, 'or_rules', 'rules', undefined);
const and = (rules: Proto[]): Proto => combine(rules, 'and_rules', 'rules', { any: true });
const orIds = (ids: Proto[]): Proto => combine(ids, 'or_ids', 'ids', undefined);
const andIds = (ids: Proto[]): Proto => combine(ids, 'and_ids', 'ids', { any: true });

const principal = (value: string): Proto => ({
  authenticated: { principal_name: stringMatcher(value, 'spiffe://') },
});
const namespace = (value: string): Proto => ({
  authenticated: {
    principal_name: {
      safe_regex: {
        regex:
          value === '*'
            ? '.*/ns/[^/]+/.*'
            : `.*/ns/${value.split('*').map(escapeRegex).join('[^/]*')}/.*`,
      },
    },
  },
});
const method = (value: string): Proto => ({
  header: { name: ':method', string_match: stringMatcher(value) },
});
const path = (value: string): Proto => ({ url_path: { path: stringMatcher(value) } });
const port = (value: number): Proto => ({ destination_port: value });

function listPart<T>(
  values: readonly T[],
  one: (v: T) => Proto,
  negated: boolean,
  combine = or,
): Proto[] {
  if (values.length === 0) return [];
  const rule = combine(values.map(one));
  return [negated ? { not_rule: rule } : rule];
}

function listIds<T>(values: readonly T[], one: (v: T) => Proto, negated: boolean): Proto[] {
  if (values.length === 0) return [];
  const id = orIds(values.map(one));
  return [negated ? { not_id: id } : id];
}

function operationPermission(o: AuthzOperation): Proto {
  return and([
    ...listPart(o.methods, method, false),
    ...listPart(o.notMethods, method, true),
    ...listPart(o.paths, path, false),
    ...listPart(o.notPaths, path, true),
    ...listPart(o.ports, port, false),
    ...listPart(o.notPorts, port, true),
  ]);
}

function sourcePrincipal(s: AuthzSource): Proto {
  return andIds([
    ...listIds(s.principals, principal, false),
    ...listIds(s.notPrincipals, principal, true),
    ...listIds(s.namespaces, namespace, false),
    ...listIds(s.notNamespaces, namespace, true),
  ]);
}

/** `request.headers[NAME]` → NAME (lower-cased), else undefined. */
function headerKey(key: string): string | undefined {
  const m = /^request\.headers\[(.+)\]$/.exec(key);
  return m?.[1]?.toLowerCase();
}

function header(name: string) {
  return (value: string): Proto => ({ header: { name, string_match: stringMatcher(value) } });
}

/** One rule → a config.rbac.v3.Policy. */
function rulePolicy(rule: MeshAuthorizationPolicy['rules'][number]): Proto {
  const permissions: Proto[] = [];
  const principals: Proto[] = [];
  if (rule.to.length > 0) permissions.push(or(rule.to.map(operationPermission)));
  if (rule.from.length > 0) principals.push(orIds(rule.from.map(sourcePrincipal)));
  for (const c of rule.when) conditionInto(c, permissions, principals);
  return { permissions: [and(permissions)], principals: [andIds(principals)] };
}

function conditionInto(c: AuthzCondition, permissions: Proto[], principals: Proto[]): void {
  const name = headerKey(c.key);
  if (name !== undefined) {
    permissions.push(...listPart(c.values, header(name), false));
    permissions.push(...listPart(c.notValues, header(name), true));
    return;
  }
  const one = c.key === 'source.principal' ? principal : namespace;
  principals.push(...listIds(c.values, one, false));
  principals.push(...listIds(c.notValues, one, true));
}

/** The RBAC policy name istiod uses for rule `index` of a policy. */
export function rbacPolicyName(p: MeshAuthorizationPolicy, index: number): string {
  return `ns[${p.namespace}]-policy[${p.name}]-rule[${index}]`;
}

/**
 * The RBAC http_filters for the policies that apply to one workload port: DENY, ALLOW, AUDIT
 * (LOG) in that order, each only when a policy of that action exists. An ALLOW policy without
 * rules contributes no RBAC policy, so the ALLOW filter denies everything (Istio's allow-nothing).
 */
export function buildRbacFilters(policies: readonly MeshAuthorizationPolicy[]): Proto[] {
  const filters: Proto[] = [];
  for (const action of ['DENY', 'ALLOW', 'AUDIT'] as const) {
    const of = policies.filter((p) => p.action === action);
    if (of.length === 0) continue;
    const rbacPolicies: Record<string, Proto> = {};
    for (const p of of)
      p.rules.forEach((r, i) => (rbacPolicies[rbacPolicyName(p, i)] = rulePolicy(r)));
    filters.push({
      name: RBAC_FILTER_NAMES[action],
      typed_config: {
        '@type': RBAC_FILTER_TYPE_URL,
        rules: { action: action === 'AUDIT' ? 'LOG' : action, policies: rbacPolicies },
      },
    });
  }
  return filters;
}
