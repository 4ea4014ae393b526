// Which PeerAuthentication mode and which AuthorizationPolicies apply to one workload (namespace +
// labels) on one port, with Istio's precedence: workload > namespace > mesh (root namespace),
// port-level over workload-wide; default PERMISSIVE.
// Spec: https://istio.io/latest/docs/concepts/security/#peer-authentication
import type {
  MeshAuthorizationPolicy,
  MeshModel,
  MeshPeerAuthentication,
  MtlsModeSetting,
} from '../config/mesh-model.js';
import { labelsMatch } from '../config/resolve-services.js';

/** The workload a server-side Listener is built for (from the requesting node's metadata). */
export interface InboundWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The effective inbound mTLS mode of a workload port. */
export type EffectiveMtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** The mode and the policy that decided it (`''` = Istio's default, PERMISSIVE). */
export interface ResolvedMtls {
  readonly mode: EffectiveMtlsMode;
  readonly source: string;
}

function selects(
  p: { selector: Readonly<Record<string, string>> | null },
  labels: Readonly<Record<string, string>>,
): boolean {
  return p.selector !== null && labelsMatch(p.selector, labels);
}

/** Istio's precedence; among several selecting policies, the first by name wins. */
export function resolveMtlsMode(
  model: MeshModel,
  workload: InboundWorkload,
  port: number,
): ResolvedMtls {
  const root = model.settings.rootNamespace;
  const all = model.peerAuthentications;
  const mesh = all.find((p) => p.namespace === root && p.selector === null);
  const ns = all.find((p) => p.namespace === workload.namespace && p.selector === null);
  const wl = all.find((p) => p.namespace === workload.namespace && selects(p, workload.labels));
  let resolved: ResolvedMtls = { mode: 'PERMISSIVE', source: '' };
  const apply = (
    p: MeshPeerAuthentication | undefined,
    mode: MtlsModeSetting | undefined,
  ): void => {
    if (p === undefined || mode === undefined || mode === 'UNSET') return;
    resolved = { mode, source: p.source };
  };
  apply(mesh, mesh?.mode);
  if (ns !== mesh) apply(ns, ns?.mode);
  apply(wl, wl?.mode);
  apply(wl, wl?.portLevel.get(port));
  return resolved;
}

/**
 * AuthorizationPolicies that apply to the workload: its namespace's and the root namespace's,
 * selector-less or selecting its labels. Sorted by namespace then name.
 */
export function authorizationPoliciesFor(
  model: MeshModel,
  workload: InboundWorkload,
): readonly MeshAuthorizationPolicy[] {
  const root = model.settings.rootNamespace;
  return model.authorizationPolicies.filter(
    (p) =>
      (p.namespace === workload.namespace || p.namespace === root) &&
      (p.selector === null || labelsMatch(p.selector, workload.labels)),
  );
}
