// @weft/sdk: the in-process data plane. createMesh() composes @weft/xds-client into routing tables
// and balancers and plugs them into undici (HTTP) and grpc-js. DESIGN.md "The request path".
export { createMesh } from './create-mesh.js';
export type {
  Mesh,
  MeshServeOptions,
  MeshServer,
  MeshStats,
  MeshGrpcServerInterceptorOptions,
} from './mesh.js';
export type { MeshOptions, MeshLocality, ControlPlaneTlsOptions } from './mesh-options.js';
export type { TracingOptions } from './tracing/tracing-options.js';
export type { TracingStats } from './tracing/mesh-tracing.js';
export { REQUEST_ID_HEADER } from './tracing/mesh-tracing.js';
export type { MeshAdminAddress } from './admin/mesh-admin-server.js';
export { createMeshMetrics } from './admin/mesh-metrics.js';
export type { MeshMetricsSource } from './admin/mesh-metrics.js';
export type { XdsDump, XdsTypeDump } from './admin/xds-status-metrics.js';
export type { MeshTelemetryStats } from './telemetry/mesh-telemetry.js';
export type { AccessLogEntry, AccessLogStats, AccessLogTarget } from './telemetry/access-log.js';
export {
  ISTIO_DURATION_BUCKETS_MS,
  ISTIO_BYTES_BUCKETS,
  ISTIO_LABELS,
  IstioMetrics,
} from './telemetry/istio-metrics.js';
export type {
  IstioMetricsOptions,
  IstioMetricsStats,
  IstioPeer,
  IstioRequestRecord,
} from './telemetry/istio-metrics.js';
export type { ServiceBreakerOptions } from './breaker/service-breaker-options.js';
export type { MeshFetchInit, MeshFetchFallback } from './breaker/fetch-fallback.js';
export type { GrpcFallback } from './breaker/grpc-fallback.js';
export type {
  ServiceBreakerEvent,
  ServiceBreakerState,
  ServiceBreakerStats,
} from './breaker/cluster-breaker.js';
export { BREAKER_CHANNEL } from './breaker/service-breakers.js';
export { GRPC_BREAKER_KEY, GRPC_BREAKER_CLUSTER_KEY } from './breaker/grpc-fallback.js';
export { WeftError, ConfigError } from '@weft/xds-client';
export type { WeftErrorCode, ConfigIssue } from '@weft/xds-client';
export { HTTP_REQUEST_CHANNEL } from './http/http-request-event.js';
export type {
  HttpRequestEvent,
  HttpRequestOutcome,
  MeshHttpStats,
} from './http/http-request-event.js';
export { LOCAL_RATE_LIMITED_BODY } from './filters/local-rate-limit.js';
export type { LocalRateLimitStats, LocalRateLimitScopeStats } from './filters/local-rate-limit.js';
export type {
  InboundSecurityStatsSnapshot,
  InboundHandshakeFailureReason,
  RbacDecisionCount,
} from './security/inbound-security-stats.js';
export type {
  WorkloadCertificates,
  WorkloadTlsMaterial,
} from './security/workload-certificates.js';
export type { MeshSecurityStats } from './mesh.js';
export type { IdentityOptions } from './security/identity-options.js';
export type {
  WorkloadCertificateStats,
  WorkloadSecretsDump,
} from './security/certificate-agent-stats.js';
export type { CertificateFailureReason } from './security/certificate-request.js';
export { TLS_HANDSHAKE_CHANNEL, TLS_HANDSHAKE_FAILURE_REASONS } from './security/tls-handshakes.js';
export type {
  TlsHandshakeEvent,
  TlsHandshakeFailureReason,
  TlsHandshakeStats,
} from './security/tls-handshakes.js';

// For libraries and tooling
export { resolveMeshOptions, SDK_USER_AGENT_NAME, SDK_VERSION } from './mesh-options.js';
export type { ResolvedMeshOptions, ResolvedWorkload } from './mesh-options.js';
export type { ResolvedServiceBreakerOptions } from './breaker/service-breaker-options.js';
export { ServiceBreakers } from './breaker/service-breakers.js';
export type { ServiceBreakersOptions } from './breaker/service-breakers.js';
export { MeshDispatcher, DEFAULT_ROUTE_TIMEOUT_MS } from './http/mesh-dispatcher.js';
export { createWorkloadTlsMaterial, noCertificateError } from './security/workload-certificates.js';
export { WorkloadCertificateAgent } from './security/certificate-agent.js';
export type { CertificateAgentOptions } from './security/certificate-agent.js';
export type { ResolvedControlPlaneTls } from './security/certificate-request.js';
export {
  resolveIdentityOptions,
  WEFT_JOIN_TOKEN_ENV,
  WEFT_JOIN_TOKEN_FILE_ENV,
  MIN_IDENTITY_TTL_MS,
} from './security/identity-options.js';
export type { ResolvedIdentityOptions } from './security/identity-options.js';
export { TlsHandshakes } from './security/tls-handshakes.js';
export type { MeshDispatcherOptions } from './http/mesh-dispatcher.js';

// Registration
export { createRegistrar } from './registration/create-registrar.js';
export type {
  Registrar,
  RegistrarOptions,
  RegistrarNode,
  Registration,
  RegistrationEndpoint,
  RegistrationLocality,
} from './registration/registration-types.js';

// gRPC: grpc-js resolver + LB policy registration (installed by createMesh)
export { installGrpcIntegration, resolveGrpcIntegrationOptions } from './grpc/grpc-integration.js';
export type {
  GrpcIntegration,
  GrpcIntegrationOptions,
  GrpcIntegrationStats,
  ResolvedGrpcIntegrationOptions,
} from './grpc/grpc-integration.js';
export { GRPC_MESH_ID_OPTION } from './grpc/grpc-registry.js';
export { GRPC_CALL_DIAGNOSTICS_CHANNEL } from './grpc/grpc-mesh-context.js';
export type { GrpcCallEvent } from './grpc/grpc-mesh-channel.js';
export { LocalRateLimiter, TokenBucket } from './filters/local-rate-limit.js';
export type {
  LocalRateLimiterOptions,
  RateLimitVerdict,
  RateLimitRefusal,
  RateLimitHeaders,
} from './filters/local-rate-limit.js';
export { OUTLIER_CHANNEL } from './cluster/outlier-detector.js';
export type { OutlierEvent, OutlierEjectionReason } from './cluster/outlier-detector.js';

// Core: xDS dependency manager → routing → cluster/LB, behind the MeshRuntime contract
export {
  createMeshRuntime,
  resolveMeshRuntimeOptions,
  listenerNameOf,
  DEFAULT_RESOURCE_WAIT_MS,
} from './runtime/create-mesh-runtime.js';
export type {
  MeshRuntimeOptions,
  ResolvedMeshRuntimeOptions,
} from './runtime/create-mesh-runtime.js';
export type {
  MeshRuntime,
  RouteInput,
  RouteDecision,
  EndpointLease,
  UpstreamEndpoint,
  EndpointLocality,
  AttemptOutcome,
  AttemptDetail,
} from './runtime/mesh-runtime.js';
export { UNUSED_LEASE } from './runtime/mesh-runtime.js';
export { RoutingError } from './routing/routing-error.js';
export type { MeshLayer } from './routing/routing-error.js';
export { XdsDependencyManager, referencedClusters } from './xds/xds-dependency-manager.js';
export type {
  XdsConfigWatcher,
  XdsDependencyManagerOptions,
  XdsDependencyResourceTypes,
} from './xds/xds-dependency-manager.js';
export type { XdsConfig, XdsClusterConfig } from './xds/xds-config.js';
export type { XdsWatchSource } from './xds/xds-watch-source.js';
export { RouteTable } from './routing/route-table.js';
export { xxhash64 } from './routing/xxhash64.js';
export { ClusterBalancer } from './cluster/cluster-balancer.js';
export { OutlierDetector } from './cluster/outlier-detector.js';
export type { OutlierDetectorOptions, OutlierHost } from './cluster/outlier-detector.js';
export { OutlierDetectors } from './cluster/outlier-detectors.js';
export type { OutlierDetectorsOptions } from './cluster/outlier-detectors.js';
export {
  EndpointHealthStore,
  UNREACHABLE_BACKOFF_BASE_MS,
  UNREACHABLE_BACKOFF_MAX_MS,
} from './cluster/endpoint-health-store.js';
