// Builders of minimal, gRPC-compatible xDS resources (plain objects) for tests of any package.
// Shapes follow DESIGN.md "xDS conventions" and XDS-NOTES "Gotchas": https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
  SECRET_TYPE_URL,
  type AdsTypeUrl,
} from '@weft/xds-client';
import type { XdsResourceSet } from '../contracts.js';

/** A plain xDS message object (snake_case fields). */
export type PlainResource = Record<string, unknown>;

/**
 * An api_listener Listener whose HttpConnectionManager fetches `routeConfigName` over ADS
 * (`config_source.ads: {}`), with the router filter last.
 */
export function buildListener(name: string, routeConfigName: string): PlainResource {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
        stat_prefix: name,
        rds: {
          route_config_name: routeConfigName,
          config_source: { ads: {}, resource_api_version: 'V3' },
        },
        http_filters: [
          { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_FILTER_TYPE_URL } },
        ],
      },
    },
  };
}

/** One route of {@link buildRouteConfiguration}: a path prefix to a cluster. */
export interface RouteSpec {
  /** Path prefix; default `/`. */
  readonly prefix?: string;
  readonly cluster: string;
}

/**
 * A RouteConfiguration with one virtual host matching `domains` (default: `['*']`) whose
 * routes send each prefix to a cluster, first match wins.
 */
export function buildRouteConfiguration(
  name: string,
  routes: readonly RouteSpec[] | string,
  domains: readonly string[] = ['*'],
): PlainResource {
  const list: readonly RouteSpec[] = typeof routes === 'string' ? [{ cluster: routes }] : routes;
  return {
    name,
    virtual_hosts: [
      {
        name: `${name}-vh`,
        domains: [...domains],
        routes: list.map((r) => ({
          match: { prefix: r.prefix ?? '/' },
          route: { cluster: r.cluster },
        })),
      },
    ],
  };
}

/** An EDS Cluster fetching its endpoints over ADS, round robin, 1 s connect timeout. */
export function buildCluster(name: string, options: { lbPolicy?: string } = {}): PlainResource {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: { seconds: '1', nanos: 0 },
    lb_policy: options.lbPolicy ?? 'ROUND_ROBIN',
  };
}

/** One endpoint of {@link buildClusterLoadAssignment}. */
export interface EndpointSpec {
  /** IP literal (gRPC clients reject host names). */
  readonly address: string;
  readonly port: number;
  /** Locality; defaults to empty region/zone/sub_zone. */
  readonly locality?: { region?: string; zone?: string; subZone?: string };
  /** Priority; default 0. */
  readonly priority?: number;
}

/**
 * A ClusterLoadAssignment grouping endpoints by locality and priority; every locality carries
 * `load_balancing_weight` (gRPC clients silently drop localities without one).
 */
export function buildClusterLoadAssignment(
  clusterName: string,
  endpoints: readonly EndpointSpec[],
): PlainResource {
  const groups = new Map<
    string,
    { locality: Record<string, string>; priority: number; eps: EndpointSpec[] }
  >();
  for (const ep of endpoints) {
    const locality = {
      region: ep.locality?.region ?? '',
      zone: ep.locality?.zone ?? '',
      sub_zone: ep.locality?.subZone ?? '',
    };
    const priority = ep.priority ?? 0;
    const key = JSON.stringify([locality, priority]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { locality, priority, eps: [] };
      groups.set(key, group);
    }
    group.eps.push(ep);
  }
  return {
    cluster_name: clusterName,
    endpoints: [...groups.values()].map((g) => ({
      locality: g.locality,
      priority: g.priority,
      load_balancing_weight: { value: 1 },
      lb_endpoints: g.eps.map((ep) => ({
        endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
        health_status: 'HEALTHY',
      })),
    })),
  };
}

/** Resources per type for {@link buildResourceSet}; each list is keyed by the resource's name. */
export interface ResourceLists {
  readonly listeners?: readonly PlainResource[];
  readonly routes?: readonly PlainResource[];
  readonly clusters?: readonly PlainResource[];
  readonly endpoints?: readonly PlainResource[];
  readonly secrets?: readonly PlainResource[];
}

/** Assembles an XdsResourceSet from lists (names from `name`, or `cluster_name` for CLAs). */
export function buildResourceSet(lists: ResourceLists): XdsResourceSet {
  const set = new Map<AdsTypeUrl, Map<string, Readonly<Record<string, unknown>>>>();
  const add = (
    typeUrl: AdsTypeUrl,
    items: readonly PlainResource[] | undefined,
    key: string,
  ): void => {
    const byName = new Map<string, Readonly<Record<string, unknown>>>();
    for (const item of items ?? []) byName.set(String(item[key]), item);
    set.set(typeUrl, byName);
  };
  add(CLUSTER_TYPE_URL, lists.clusters, 'name');
  add(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, lists.endpoints, 'cluster_name');
  add(LISTENER_TYPE_URL, lists.listeners, 'name');
  add(ROUTE_CONFIGURATION_TYPE_URL, lists.routes, 'name');
  if (lists.secrets !== undefined) {
    add(SECRET_TYPE_URL, lists.secrets, 'name');
  }
  return set;
}

/**
 * A consistent mesh of one service per name: Listener `svc` → RouteConfiguration `svc` →
 * Cluster `outbound|port||svc` → ClusterLoadAssignment with one endpoint at 127.0.0.1:port.
 */
export function buildSimpleMesh(
  services: readonly { name: string; port: number }[],
): XdsResourceSet {
  const cluster = (s: { name: string; port: number }): string => `outbound|${s.port}||${s.name}`;
  return buildResourceSet({
    listeners: services.map((s) => buildListener(s.name, s.name)),
    routes: services.map((s) =>
      buildRouteConfiguration(s.name, cluster(s), [s.name, `${s.name}:${s.port}`]),
    ),
    clusters: services.map((s) => buildCluster(cluster(s))),
    endpoints: services.map((s) =>
      buildClusterLoadAssignment(cluster(s), [{ address: '127.0.0.1', port: s.port }]),
    ),
  });
}
