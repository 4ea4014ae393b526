// Resolves DestinationRules into per-host policies with every default filled in; a subset's policy
// is the host policy with the subset's own top-level fields laid over it (Istio's merge).
// Spec: https://istio.io/latest/docs/reference/config/networking/destination-rule/
import type { LocatedIssue } from '../contracts.js';
import type {
  ConnectionPool,
  LoadBalancerPolicy,
  LocalityLbSetting,
  MeshDestinationPolicy,
  MeshService,
  MeshSettings,
  OutlierDetection,
  TlsSettings,
  TrafficPolicy,
} from './mesh-model.js';
import type { ParsedResource } from './parse-resources.js';
import { resourceIssue } from './resource-issue.js';
import type { TrafficPolicySpec } from './schemas/destination-rule-schema.js';

type DestinationRuleResource = Extract<ParsedResource, { kind: 'DestinationRule' }>;
type LbSpec = NonNullable<TrafficPolicySpec['loadBalancer']>;

/** Envoy's default ring size (1024), used by Istio when none is given. */
const DEFAULT_MINIMUM_RING_SIZE = 1024;

function loadBalancerOf(lb: LbSpec | undefined): LoadBalancerPolicy {
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    const minimumRingSize =
      hash.ringHash?.minimumRingSize ?? hash.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
    if (hash.httpHeaderName !== undefined)
      return {
        kind: 'RING_HASH',
        hashKey: { kind: 'header', name: hash.httpHeaderName },
        minimumRingSize,
      };
    if (hash.httpQueryParameterName !== undefined)
      return {
        kind: 'RING_HASH',
        hashKey: { kind: 'queryParameter', name: hash.httpQueryParameterName },
        minimumRingSize,
      };
    return { kind: 'RING_HASH', hashKey: { kind: 'sourceIp' }, minimumRingSize };
  }
  switch (lb?.simple) {
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { kind: 'LEAST_REQUEST' };
    case 'RANDOM':
      return { kind: 'RANDOM' };
    case undefined:
    case 'UNSPECIFIED':
    case 'ROUND_ROBIN':
      return { kind: 'ROUND_ROBIN' };
  }
}

function localityOf(lb: LbSpec | undefined): LocalityLbSetting {
  const l = lb?.localityLbSetting;
  return {
    enabled: l?.enabled ?? true,
    distribute: (l?.distribute ?? []).map((d) => ({ from: d.from, to: { ...d.to } })),
    failover: (l?.failover ?? []).map((f) => ({ from: f.from, to: f.to })),
  };
}

function connectionPoolOf(
  spec: TrafficPolicySpec['connectionPool'],
  settings: MeshSettings,
): ConnectionPool {
  return {
    maxConnections: spec?.tcp?.maxConnections ?? null,
    connectTimeoutMs: spec?.tcp?.connectTimeout ?? settings.connectTimeoutMs,
    http1MaxPendingRequests: spec?.http?.http1MaxPendingRequests ?? null,
    http2MaxRequests: spec?.http?.http2MaxRequests ?? null,
    maxRequestsPerConnection: spec?.http?.maxRequestsPerConnection ?? null,
    maxRetries: spec?.http?.maxRetries ?? null,
    idleTimeoutMs: spec?.http?.idleTimeout ?? null,
  };
}

function outlierOf(spec: TrafficPolicySpec['outlierDetection']): OutlierDetection | null {
  if (spec === undefined) return null;
  return {
    // Istio: consecutive5xxErrors defaults to 5; an explicit 0 turns it off.
    consecutive5xxErrors: spec.consecutive5xxErrors === 0 ? null : (spec.consecutive5xxErrors ?? 5),
    consecutiveGatewayErrors:
      spec.consecutiveGatewayErrors === 0 ? null : (spec.consecutiveGatewayErrors ?? null),
    consecutiveLocalOriginFailures:
      spec.consecutiveLocalOriginFailures === 0
        ? null
        : (spec.consecutiveLocalOriginFailures ?? null),
    splitExternalLocalOriginErrors: spec.splitExternalLocalOriginErrors ?? false,
    intervalMs: spec.interval ?? 10_000,
    baseEjectionTimeMs: spec.baseEjectionTime ?? 30_000,
    maxEjectionPercent: spec.maxEjectionPercent ?? 10,
    minHealthPercent: spec.minHealthPercent ?? 0,
  };
}

function tlsOf(spec: TrafficPolicySpec['tls']): TlsSettings {
  const mode = spec?.mode === 'ISTIO_MUTUAL' ? 'ISTIO_MUTUAL' : 'DISABLE';
  return { mode, sni: spec?.sni ?? '', subjectAltNames: [...(spec?.subjectAltNames ?? [])] };
}

/** The policy a host gets from its (host-level) spec, or Weft's defaults for `undefined`. */
export function resolveTrafficPolicy(
  spec: TrafficPolicySpec | undefined,
  settings: MeshSettings,
): TrafficPolicy {
  return {
    loadBalancer: loadBalancerOf(spec?.loadBalancer),
    localityLb: localityOf(spec?.loadBalancer),
    connectionPool: connectionPoolOf(spec?.connectionPool, settings),
    outlierDetection: outlierOf(spec?.outlierDetection),
    tls: tlsOf(spec?.tls),
  };
}

/** Istio merges subset over host policy per top-level field (loadBalancer, connectionPool, …). */
function mergeTrafficPolicy(
  host: TrafficPolicySpec | undefined,
  subset: TrafficPolicySpec | undefined,
): TrafficPolicySpec | undefined {
  if (subset === undefined) return host;
  if (host === undefined) return subset;
  return {
    loadBalancer: subset.loadBalancer ?? host.loadBalancer,
    connectionPool: subset.connectionPool ?? host.connectionPool,
    outlierDetection: subset.outlierDetection ?? host.outlierDetection,
    tls: subset.tls ?? host.tls,
  };
}

/** One policy per service host: from its DestinationRule, else defaults. Issues for unknown or repeated hosts and subsets. */
export function resolveDestinationPolicies(
  rules: readonly DestinationRuleResource[],
  services: ReadonlyMap<string, MeshService>,
  settings: MeshSettings,
): { policies: Map<string, MeshDestinationPolicy>; issues: LocatedIssue[] } {
  const issues: LocatedIssue[] = [];
  const policies = new Map<string, MeshDestinationPolicy>();
  const owners = new Map<string, DestinationRuleResource>();
  for (const dr of rules) {
    const host = dr.spec.host;
    if (!services.has(host)) {
      issues.push(
        resourceIssue(dr, ['spec', 'host'], `unknown host ${host} (no ServiceEntry declares it)`),
      );
      continue;
    }
    const earlier = owners.get(host);
    if (earlier !== undefined) {
      issues.push(
        resourceIssue(
          dr,
          ['spec', 'host'],
          `host ${host} already has DestinationRule ${earlier.ref}`,
        ),
      );
      continue;
    }
    owners.set(host, dr);
    const names = new Set<string>();
    const subsets = [];
    for (const [i, s] of (dr.spec.subsets ?? []).entries()) {
      if (names.has(s.name)) {
        issues.push(
          resourceIssue(dr, ['spec', 'subsets', i, 'name'], `duplicate subset ${s.name}`),
        );
        continue;
      }
      names.add(s.name);
      subsets.push({
        name: s.name,
        labels: { ...(s.labels ?? {}) },
        trafficPolicy: resolveTrafficPolicy(
          mergeTrafficPolicy(dr.spec.trafficPolicy, s.trafficPolicy),
          settings,
        ),
      });
    }
    policies.set(host, {
      host,
      trafficPolicy: resolveTrafficPolicy(dr.spec.trafficPolicy, settings),
      subsets,
      source: dr.ref,
    });
  }
  for (const host of services.keys()) {
    if (!policies.has(host))
      policies.set(host, {
        host,
        trafficPolicy: resolveTrafficPolicy(undefined, settings),
        subsets: [],
        source: '',
      });
  }
  return {
    policies: new Map([...policies.entries()].sort(([a], [b]) => a.localeCompare(b))),
    issues,
  };
}
