// @weft/xds-client: the xDS transport (bootstrap, ADS SotW and Delta, resource types, watchers,
// ACK/NACK, cache, fallback). Knows nothing of routing, HTTP or gRPC calls.

export { XdsClient } from './xds-client.js';
export type { ResourceWatcher } from './ads/resource-watcher.js';
export type {
  XdsClientOptions,
  XdsTransport,
  XdsChannelHook,
  XdsChannelOverride,
} from './xds-client-options.js';
export type { BackoffOptions, ResolvedBackoffOptions } from './backoff.js';
export type {
  XdsClientEvents,
  XdsConnectedEvent,
  XdsDisconnectedEvent,
  XdsAckEvent,
  XdsNackEvent,
  XdsNackedResource,
  XdsServerChangedEvent,
} from './xds-client-events.js';
export type {
  XdsClientStatus,
  XdsTypeStatus,
  XdsResourceStatus,
  XdsResourceState,
  XdsResourceErrorStatus,
} from './xds-client-status.js';

// For libraries and tooling
export { WeftError, ConfigError } from './errors/weft-error.js';
export type { ConfigIssue } from './errors/weft-error.js';
export { WEFT_ERROR_CODES } from './errors/codes.js';
export type { WeftErrorCode } from './errors/codes.js';
export { preciseNow, systemClock } from './clock.js';
export { Backoff, DEFAULT_BACKOFF_OPTIONS } from './backoff.js';
export type { Clock, TimerHandle } from './clock.js';
export { silentLogger, createJsonLogger } from './logger.js';
export type { Logger, LogFields, LogLevel } from './logger.js';
export { XdsProtos, loadXdsProtos, PROTO_OBJECT_OPTIONS } from './protos/xds-protos.js';
export type { AnyMessage } from './protos/xds-protos.js';
export { jsonToStruct, structToJson } from './protos/struct.js';
export {
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  CLUSTER_TYPE_URL,
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  SECRET_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
  FAULT_FILTER_TYPE_URL,
  ADS_TYPE_URLS,
  messageNameOf,
} from './protos/type-urls.js';
export type { AdsTypeUrl } from './protos/type-urls.js';
export { formatIssues } from './resource-types/xds-resource-type.js';
export type {
  XdsResourceType,
  DecodeResult,
  DecodeContext,
  ResourceIssue,
} from './resource-types/xds-resource-type.js';

// Bootstrap (gRPC's GRPC_XDS_BOOTSTRAP format)
export { parseBootstrap } from './bootstrap/parse-bootstrap.js';
export { loadBootstrap } from './bootstrap/load-bootstrap.js';
export type { LoadBootstrapOptions, BootstrapOverrides } from './bootstrap/load-bootstrap.js';
export { formatBootstrap } from './bootstrap/format-bootstrap.js';
export { WEFT_XDS_CLIENT_VERSION, DEFAULT_USER_AGENT_NAME } from './bootstrap/version.js';
export type {
  ResolvedBootstrap,
  ResolvedXdsServer,
  ResolvedNode,
  ResolvedLocality,
} from './bootstrap/resolved-bootstrap.js';

// Resource types (LDS, RDS, CDS, EDS, SDS) and their decoded updates
export {
  createDefaultResourceTypes,
  DEFAULT_RESOURCE_TYPES,
} from './resource-types/default-resource-types.js';
export type { DefaultResourceTypes } from './resource-types/default-resource-types.js';
export { ListenerResourceType } from './resource-types/listener-resource-type.js';
export {
  SERVER_LISTENER_NAME_PREFIX,
  serverListenerName,
  parseServerListenerName,
} from './resource-types/server-listener-name.js';
export type { ListenerUpdate, RouteSourceUpdate } from './resource-types/listener-resource-type.js';
export {
  RBAC_FILTER_TYPE_URL,
  RBAC_PER_ROUTE_TYPE_URL,
  LOCAL_RATELIMIT_FILTER_TYPE_URL,
} from './resource-types/http-filters.js';
export type { HttpFilterUpdate, HttpFilterConfigUpdate } from './resource-types/http-filters.js';
export { MIN_FILL_INTERVAL_MS } from './resource-types/http-local-rate-limit.js';
export type {
  LocalRateLimitUpdate,
  TokenBucketUpdate,
} from './resource-types/http-local-rate-limit.js';
export type {
  FaultUpdate,
  FaultDelayUpdate,
  FaultAbortUpdate,
} from './resource-types/http-fault.js';
export { RouteConfigurationResourceType } from './resource-types/route-configuration-resource-type.js';
export type {
  RouteConfigurationUpdate,
  VirtualHostUpdate,
  RouteUpdate,
  RouteMatchUpdate,
  PathMatchUpdate,
  HeaderMatcherUpdate,
  QueryParameterMatcherUpdate,
} from './resource-types/route-configuration-resource-type.js';
export type {
  RouteActionUpdate,
  WeightedClusterUpdate,
  RetryPolicyUpdate,
  HashPolicyUpdate,
  RequestMirrorPolicyUpdate,
} from './resource-types/route-action.js';
export type { StringMatchUpdate } from './resource-types/string-matcher.js';
export { ClusterResourceType } from './resource-types/cluster-resource-type.js';
export type {
  ClusterUpdate,
  LbPolicyUpdate,
  CircuitBreakersUpdate,
} from './resource-types/cluster-resource-type.js';
export type { OutlierDetectionUpdate } from './resource-types/outlier-detection.js';
export { UPSTREAM_TLS_CONTEXT_TYPE_URL } from './resource-types/upstream-tls.js';
export { DOWNSTREAM_TLS_CONTEXT_TYPE_URL } from './resource-types/server-listener.js';
export type {
  ServerListenerUpdate,
  ServerFilterChainUpdate,
  DownstreamTlsUpdate,
} from './resource-types/server-listener.js';
export type {
  RbacUpdate,
  RbacPolicyUpdate,
  RbacPermissionUpdate,
  RbacPrincipalUpdate,
} from './resource-types/http-rbac.js';
export type {
  UpstreamTlsUpdate,
  CertificateProviderInstanceUpdate,
} from './resource-types/upstream-tls.js';
export { ClusterLoadAssignmentResourceType } from './resource-types/cluster-load-assignment-resource-type.js';
export type {
  ClusterLoadAssignmentUpdate,
  LocalityEndpointsUpdate,
  LocalityUpdate,
  EndpointUpdate,
  EndpointHealthStatus,
  DropOverloadUpdate,
} from './resource-types/cluster-load-assignment-resource-type.js';
export { SecretResourceType } from './resource-types/secret-resource-type.js';
export type {
  SecretUpdate,
  TlsCertificateSecretUpdate,
  ValidationContextSecretUpdate,
  CertificateInfoUpdate,
} from './resource-types/secret-resource-type.js';

// PKI helpers shared by the control plane's CA and the SDK's certificate agent (X.509 and CSR DER)
export {
  createCertificate,
  createCsr,
  parseCsr,
  toPem,
  pemBlocks,
  splitCertificates,
  certificateUris,
  subjectAltNameUris,
  formatName,
  keyIdentifier,
  randomSerial,
} from './pki/x509-der.js';
export type {
  NameParts,
  CertificateTemplate,
  CertificateSigner,
  ParsedCsr,
} from './pki/x509-der.js';
export { createWorkloadCsr } from './pki/workload-key.js';
