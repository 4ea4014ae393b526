// xDS resource names, in one place: Listener `host` / `host:port`, RouteConfiguration `host:port`,
// Cluster and ClusterLoadAssignment `outbound|port|subset|host`. Spec: DESIGN.md "xDS conventions".

/** The Listener for a host's default port. */
export function defaultListenerName(host: string): string {
  return host;
}

/** The Listener (and RouteConfiguration) for one port of a host. */
export function portListenerName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** The RouteConfiguration a host's port is served with. */
export function routeConfigName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Istio's cluster name: `outbound|8080|v1|inventory` (`''` for no subset). Also the EDS name. */
export function clusterName(host: string, port: number, subset: string): string {
  return `outbound|${port}|${subset}|${host}`;
}
