// Resolves LocalRateLimit resources against the services and VirtualServices that exist: the host
// must be a ServiceEntry host, every route name a named `http[]` route of its VirtualService, and
// no two resources may limit the same host or route. Spec: DESIGN.md "Configuration".
import type { LocatedIssue } from '../contracts.js';
import type {
  HostRateLimits,
  LocalRateLimitPolicy,
  MeshService,
  MeshVirtualService,
} from './mesh-model.js';
import type { ParsedResource } from './parse-resources.js';
import { resourceIssue } from './resource-issue.js';

type LocalRateLimitResource = Extract<ParsedResource, { kind: 'LocalRateLimit' }>;

interface MutableHostLimits {
  wholeHost: LocalRateLimitPolicy | null;
  readonly routes: Map<string, LocalRateLimitPolicy>;
}

/** Rate limits by host (sorted), with an issue for every dangling reference or conflict. */
export function resolveLocalRateLimits(
  resources: readonly LocalRateLimitResource[],
  services: ReadonlyMap<string, MeshService>,
  virtualServices: ReadonlyMap<string, MeshVirtualService>,
): { localRateLimits: Map<string, HostRateLimits>; issues: LocatedIssue[] } {
  const issues: LocatedIssue[] = [];
  const byHost = new Map<string, MutableHostLimits>();
  for (const r of resources) {
    const { spec } = r;
    if (!services.has(spec.host)) {
      issues.push(
        resourceIssue(
          r,
          ['spec', 'host'],
          `unknown host ${spec.host} (no ServiceEntry declares it)`,
        ),
      );
      continue;
    }
    const policy: LocalRateLimitPolicy = {
      maxTokens: spec.tokenBucket.maxTokens,
      tokensPerFill: spec.tokenBucket.tokensPerFill ?? 1,
      fillIntervalMs: spec.tokenBucket.fillInterval,
      responseHeaders: spec.responseHeaders ?? true,
      source: r.ref,
    };
    let limits = byHost.get(spec.host);
    if (limits === undefined) {
      limits = { wholeHost: null, routes: new Map() };
      byHost.set(spec.host, limits);
    }
    if (spec.routes === undefined) {
      if (limits.wholeHost !== null) {
        issues.push(
          resourceIssue(
            r,
            ['spec', 'host'],
            `host ${spec.host} already has a host-wide limit in ${limits.wholeHost.source}`,
          ),
        );
        continue;
      }
      limits.wholeHost = policy;
      continue;
    }
    const vs = virtualServices.get(spec.host);
    const known = new Set((vs?.http ?? []).map((h) => h.name).filter((n) => n !== ''));
    for (const [i, name] of spec.routes.entries()) {
      const at = ['spec', 'routes', i];
      if (!known.has(name)) {
        const where =
          vs === undefined
            ? `host ${spec.host} has no VirtualService`
            : `VirtualService ${vs.source} has routes ${[...known].join(', ') || '(none named)'}`;
        issues.push(resourceIssue(r, at, `unknown route name ${name} (${where})`));
        continue;
      }
      const earlier = limits.routes.get(name);
      if (earlier !== undefined) {
        issues.push(
          resourceIssue(
            r,
            at,
            earlier.source === r.ref
              ? `route ${name} is listed twice`
              : `route ${name} of host ${spec.host} already has a limit in ${earlier.source}`,
          ),
        );
        continue;
      }
      limits.routes.set(name, policy);
    }
  }
  const localRateLimits = new Map<string, HostRateLimits>();
  for (const host of [...byHost.keys()].sort()) {
    const l = byHost.get(host);
    if (l === undefined || (l.wholeHost === null && l.routes.size === 0)) continue;
    localRateLimits.set(host, { host, wholeHost: l.wholeHost, routes: l.routes });
  }
  return { localRateLimits, issues };
}
