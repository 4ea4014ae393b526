// xDS type URLs, each written once; the literal types derive from the values. (STYLE rule 9.)

export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener' as const;
export const ROUTE_CONFIGURATION_TYPE_URL =
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration' as const;
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster' as const;
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL =
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment' as const;
export const SECRET_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret' as const;
export const HTTP_CONNECTION_MANAGER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager' as const;
export const ROUTER_FILTER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' as const;
export const FAULT_FILTER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' as const;

export type ListenerTypeUrl = typeof LISTENER_TYPE_URL;
export type RouteConfigurationTypeUrl = typeof ROUTE_CONFIGURATION_TYPE_URL;
export type ClusterTypeUrl = typeof CLUSTER_TYPE_URL;
export type ClusterLoadAssignmentTypeUrl = typeof CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
export type SecretTypeUrl = typeof SECRET_TYPE_URL;

/** The resource types served over ADS, in make-before-break push order (CDS → EDS → LDS → RDS), then SDS. */
export const ADS_TYPE_URLS = [
  CLUSTER_TYPE_URL,
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  SECRET_TYPE_URL,
] as const;
export type AdsTypeUrl = (typeof ADS_TYPE_URLS)[number];

/** `type.googleapis.com/a.b.C` → `a.b.C`. */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash === -1 ? typeUrl : typeUrl.slice(slash + 1);
}
