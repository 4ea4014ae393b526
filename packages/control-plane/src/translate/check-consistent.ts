// Checks a resource set for dangling names before it is served, like go-control-plane's
// Snapshot.Consistent: every RDS, cluster and EDS name referenced exists. Spec: STYLE.md rule 3.
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '@weft/xds-client';
import type { XdsResourceSet } from '../contracts.js';

type Obj = Readonly<Record<string, unknown>>;

function obj(value: unknown): Obj | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Obj)
    : undefined;
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.map(obj).filter((v): v is Obj => v !== undefined) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Clusters a route action may send to (cluster, weighted clusters, mirrors). */
function routeClusters(action: Obj): string[] {
  const names: string[] = [];
  const single = text(action['cluster']);
  if (single !== undefined) names.push(single);
  for (const c of list(obj(action['weighted_clusters'])?.['clusters'])) {
    const n = text(c['name']);
    if (n !== undefined) names.push(n);
  }
  for (const m of list(action['request_mirror_policies'])) {
    const n = text(m['cluster']);
    if (n !== undefined) names.push(n);
  }
  return names;
}

/**
 * Every problem of the set, one line each (empty when consistent): a listener naming a missing
 * RouteConfiguration, a route naming a missing Cluster, a cluster whose EDS name has no
 * ClusterLoadAssignment.
 */
export function checkConsistent(resources: XdsResourceSet): string[] {
  const problems: string[] = [];
  const names = (typeUrl: Parameters<XdsResourceSet['get']>[0]): ReadonlyMap<string, Obj> =>
    resources.get(typeUrl) ?? new Map<string, Obj>();
  const routeConfigs = names(ROUTE_CONFIGURATION_TYPE_URL);
  const clusters = names(CLUSTER_TYPE_URL);
  const assignments = names(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);

  for (const [name, listener] of names(LISTENER_TYPE_URL)) {
    const hcm = obj(obj(listener['api_listener'])?.['api_listener']);
    if (hcm === undefined || hcm['@type'] !== HTTP_CONNECTION_MANAGER_TYPE_URL) continue;
    const rds = text(obj(hcm['rds'])?.['route_config_name']);
    if (rds !== undefined && !routeConfigs.has(rds))
      problems.push(`Listener ${name}: RouteConfiguration ${rds} does not exist`);
  }
  for (const [name, rc] of routeConfigs) {
    for (const vh of list(rc['virtual_hosts'])) {
      for (const route of list(vh['routes'])) {
        const action = obj(route['route']);
        if (action === undefined) continue;
        for (const cluster of routeClusters(action)) {
          if (!clusters.has(cluster))
            problems.push(
              `RouteConfiguration ${name}: route ${text(route['name']) ?? ''} names Cluster ${cluster}, which does not exist`,
            );
        }
      }
    }
  }
  for (const [name, cluster] of clusters) {
    if (cluster['type'] !== 'EDS') continue;
    const eds = text(obj(cluster['eds_cluster_config'])?.['service_name']) || name;
    if (!assignments.has(eds))
      problems.push(`Cluster ${name}: ClusterLoadAssignment ${eds} does not exist`);
  }
  return problems;
}
