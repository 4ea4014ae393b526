// Resolves PeerAuthentication and AuthorizationPolicy resources into the model: defaults filled
// in, and the combinations Istio refuses (or resolves by creation time, which a YAML directory
// does not have) reported as issues. Spec: https://istio.io/latest/docs/concepts/security/
import type { LocatedIssue } from '../contracts.js';
import type {
  AuthzRule,
  MeshAuthorizationPolicy,
  MeshPeerAuthentication,
  MtlsModeSetting,
} from './mesh-model.js';
import type { ParsedResource } from './parse-resources.js';
import { resourceIssue } from './resource-issue.js';
import type { AuthorizationPolicySpec } from './schemas/authorization-policy-schema.js';

type PeerAuthenticationResource = Extract<ParsedResource, { kind: 'PeerAuthentication' }>;
type AuthorizationPolicyResource = Extract<ParsedResource, { kind: 'AuthorizationPolicy' }>;

function byNamespaceThenName(
  a: { namespace: string; name: string },
  b: { namespace: string; name: string },
): number {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

function selectorOf(
  selector: { matchLabels?: Record<string, string> | undefined } | undefined,
): Readonly<Record<string, string>> | null {
  const labels = selector?.matchLabels;
  return labels === undefined || Object.keys(labels).length === 0 ? null : { ...labels };
}

/**
 * PeerAuthentications, sorted. Two selector-less policies in one namespace, and port-level
 * modes without a selector, are issues (Istio would pick the oldest, or ignore the ports).
 */
export function resolvePeerAuthentications(resources: readonly PeerAuthenticationResource[]): {
  peerAuthentications: MeshPeerAuthentication[];
  issues: LocatedIssue[];
} {
  const issues: LocatedIssue[] = [];
  const out: MeshPeerAuthentication[] = [];
  const wide = new Map<string, string>();
  for (const r of [...resources].sort(byNamespaceThenName)) {
    const selector = selectorOf(r.spec.selector);
    const portLevel = new Map<number, MtlsModeSetting>();
    let bad = false;
    for (const [port, setting] of Object.entries(r.spec.portLevelMtls ?? {})) {
      if (selector === null) {
        issues.push(
          resourceIssue(
            r,
            ['spec', 'portLevelMtls'],
            'portLevelMtls needs a selector (Istio applies port-level modes to selected workloads only)',
          ),
        );
        bad = true;
        break;
      }
      portLevel.set(Number(port), setting.mode ?? 'UNSET');
    }
    if (selector === null) {
      const earlier = wide.get(r.namespace);
      if (earlier !== undefined) {
        issues.push(
          resourceIssue(
            r,
            ['metadata', 'name'],
            `namespace ${r.namespace} already has a PeerAuthentication without selector (${earlier})`,
          ),
        );
        bad = true;
      } else wide.set(r.namespace, r.ref);
    }
    if (bad) continue;
    out.push({
      namespace: r.namespace,
      name: r.name,
      selector,
      mode: r.spec.mtls?.mode ?? 'UNSET',
      portLevel,
      source: r.ref,
    });
  }
  return { peerAuthentications: out, issues };
}

function rulesOf(spec: AuthorizationPolicySpec): AuthzRule[] {
  return (spec.rules ?? []).map((rule) => ({
    from: (rule.from ?? []).map(({ source: s }) => ({
      principals: s.principals ?? [],
      notPrincipals: s.notPrincipals ?? [],
      namespaces: s.namespaces ?? [],
      notNamespaces: s.notNamespaces ?? [],
    })),
    to: (rule.to ?? []).map(({ operation: o }) => ({
      methods: o.methods ?? [],
      notMethods: o.notMethods ?? [],
      paths: o.paths ?? [],
      notPaths: o.notPaths ?? [],
      ports: o.ports ?? [],
      notPorts: o.notPorts ?? [],
    })),
    when: (rule.when ?? []).map((c) => ({
      key: c.key,
      values: c.values ?? [],
      notValues: c.notValues ?? [],
    })),
  }));
}

/** AuthorizationPolicies, sorted (action default ALLOW; CUSTOM was refused by the schema). */
export function resolveAuthorizationPolicies(resources: readonly AuthorizationPolicyResource[]): {
  authorizationPolicies: MeshAuthorizationPolicy[];
  issues: LocatedIssue[];
} {
  const out: MeshAuthorizationPolicy[] = [];
  for (const r of [...resources].sort(byNamespaceThenName)) {
    const action = r.spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') continue; // the schema reported it
    out.push({
      namespace: r.namespace,
      name: r.name,
      selector: selectorOf(r.spec.selector),
      action,
      rules: rulesOf(r.spec),
      source: r.ref,
    });
  }
  return { authorizationPolicies: out, issues: [] };
}
