// Builders for decoded xDS updates (what the XdsClient hands watchers), with Envoy's defaults.
import { DEFAULT_RESOURCE_TYPES } from '@weft/xds-client';
import type {
  ClusterLoadAssignmentUpdate,
  ClusterUpdate,
  EndpointHealthStatus,
  HashPolicyUpdate,
  HeaderMatcherUpdate,
  LbPolicyUpdate,
  ListenerUpdate,
  PathMatchUpdate,
  QueryParameterMatcherUpdate,
  RouteConfigurationUpdate,
  RouteUpdate,
  VirtualHostUpdate,
} from '@weft/xds-client';

const [CDS, EDS, LDS, RDS] = DEFAULT_RESOURCE_TYPES;
/** The default resource-type objects (what createMeshRuntime watches with by default). */
export const TYPES = { lds: LDS, rds: RDS, cds: CDS, eds: EDS } as const;

export function listener(name: string, rdsName: string): ListenerUpdate {
  return Object.freeze({
    name,
    routeSource: { kind: 'rds' as const, routeConfigName: rdsName },
    httpFilters: [],
    maxStreamDurationMs: undefined,
  });
}

export function inlineListener(
  name: string,
  routeConfig: RouteConfigurationUpdate,
): ListenerUpdate {
  return Object.freeze({
    name,
    routeSource: { kind: 'inline' as const, routeConfig },
    httpFilters: [],
    maxStreamDurationMs: undefined,
  });
}

export function routeConfig(
  name: string,
  virtualHosts: VirtualHostUpdate[],
): RouteConfigurationUpdate {
  return Object.freeze({ name, virtualHosts });
}

export function vhost(name: string, domains: string[], routes: RouteUpdate[]): VirtualHostUpdate {
  return { name, domains, routes, typedPerFilterConfig: {}, retryPolicy: undefined };
}

export interface RouteSpec {
  name?: string;
  path?: PathMatchUpdate;
  caseSensitive?: boolean;
  headers?: HeaderMatcherUpdate[];
  query?: QueryParameterMatcherUpdate[];
  /** One cluster, or [name, weight] pairs. */
  clusters: string | [string, number][];
  hashPolicies?: HashPolicyUpdate[];
  timeoutMs?: number;
  /** Clusters of request mirror policies (100 %). */
  mirrors?: string[];
}

export function route(spec: RouteSpec): RouteUpdate {
  const list: [string, number][] =
    typeof spec.clusters === 'string' ? [[spec.clusters, 1]] : spec.clusters;
  return {
    name: spec.name ?? '',
    match: {
      path: spec.path ?? { kind: 'prefix', prefix: '' },
      caseSensitive: spec.caseSensitive ?? true,
      headers: spec.headers ?? [],
      queryParameters: spec.query ?? [],
    },
    action: {
      clusterSpecifier: typeof spec.clusters === 'string' ? 'cluster' : 'weighted_clusters',
      clusters: list.map(([name, weight]) => ({ name, weight, typedPerFilterConfig: {} })),
      totalWeight: list.reduce((s, [, w]) => s + w, 0),
      timeoutMs: spec.timeoutMs,
      idleTimeoutMs: undefined,
      retryPolicy: undefined,
      hashPolicies: spec.hashPolicies ?? [],
      maxStreamDurationMs: undefined,
      grpcTimeoutHeaderMaxMs: undefined,
      requestMirrorPolicies: (spec.mirrors ?? []).map((c) => ({
        cluster: c,
        percentagePerMillion: 1_000_000,
      })),
    },
    typedPerFilterConfig: {},
  };
}

export function cluster(
  name: string,
  lbPolicy: LbPolicyUpdate = { kind: 'round_robin' },
  edsServiceName = name,
): ClusterUpdate {
  return Object.freeze({
    name,
    edsServiceName,
    lbPolicy,
    wrrLocality: false,
    connectTimeoutMs: 5000,
    circuitBreakers: {
      maxConnections: 1024,
      maxPendingRequests: 1024,
      maxRequests: 1024,
      maxRetries: 3,
      retryBudget: undefined,
    },
    maxRequestsPerConnection: undefined,
    outlierDetection: undefined,
    tls: undefined,
    filterMetadata: {},
  });
}

export interface EndpointSpec {
  address: string;
  port?: number;
  health?: EndpointHealthStatus;
  weight?: number;
}

export interface LocalitySpec {
  priority?: number;
  region?: string;
  zone?: string;
  subZone?: string;
  weight?: number;
  /** `10.0.0.1` (port 8080) or a full spec. */
  endpoints: (string | EndpointSpec)[];
}

export function cla(
  clusterName: string,
  localities: LocalitySpec[],
  overprovisioningFactor = 140,
): ClusterLoadAssignmentUpdate {
  return Object.freeze({
    clusterName,
    localities: localities.map((l) => ({
      locality: { region: l.region ?? '', zone: l.zone ?? '', subZone: l.subZone ?? '' },
      priority: l.priority ?? 0,
      loadBalancingWeight: l.weight ?? 1,
      weightDefaulted: false,
      endpoints: l.endpoints.map((e) => {
        const s = typeof e === 'string' ? { address: e } : e;
        return {
          address: s.address,
          port: s.port ?? 8080,
          healthStatus: s.health ?? 'HEALTHY',
          weight: s.weight ?? 1,
          hostname: '',
        };
      }),
    })),
    overprovisioningFactor,
    dropOverloads: [],
  });
}

/** A header lookup over a plain object (names lower-case). */
export function headersOf(h: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => h[name];
}
