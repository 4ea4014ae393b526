// @weft/control-plane: config (YAML → model), translation (model → xDS), snapshots, ADS server, admin API.

export { startControlPlane, ControlPlane } from './control-plane.js';
export type { ControlPlaneEvents } from './control-plane-events.js';
export type { ControlPlaneOptions } from './control-plane-options.js';
export { CONTROL_PLANE_CHANNELS } from './control-plane-channels.js';
export { DEFAULT_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from './registry/workload-registry.js';
export type {
  RegistryDocument,
  RegistrationStatus,
  RegistrationPlacement,
  RegisteredEndpoint,
  RegistrationProtocol,
  RegistryEntry,
  DeregistrationReason,
  EndpointRegisteredEvent,
  EndpointDeregisteredEvent,
} from './registry/registered-endpoint.js';
export {
  MeshCa,
  spiffeIdFor,
  MIN_CERTIFICATE_TTL_MS,
  DEFAULT_CERTIFICATE_TTL_MS,
  NOT_BEFORE_BACKDATE_MS,
  CERTIFICATE_REFUSAL_REASONS,
} from './ca/mesh-ca.js';
export type {
  MeshCaOptions,
  MeshCaEvents,
  CertificateRequest,
  CertificateResult,
  IssuedCertificate,
  CertificateRefusalReason,
  CertificateIssuedEvent,
  CertificateRefusedEvent,
  PeerRefusalReason,
  PeerVerdict,
  VerifiedPeer,
  CaDocument,
  CaRootSummary,
  WorkloadCertificateRecord,
  WorkloadCertificateSummary,
} from './ca/mesh-ca.js';
export type { JoinTokenClaims } from './ca/join-token.js';
export { CA_SERVICE_NAME } from './ca/ca-service.js';
export {
  ControlPlaneCertificate,
  CONTROL_PLANE_NAMESPACE,
  CONTROL_PLANE_SERVICE_ACCOUNT,
} from './ca/control-plane-certificate.js';
export type { ServingCertificateStatus } from './ca/control-plane-certificate.js';
export { CERTIFICATE_FILE_NAMES } from './ca/certificate-files.js';
export type { CertificateFilesTarget, CertificateFilesStatus } from './ca/certificate-files.js';
export { CA_FILES, rotateCaRoot } from './ca/ca-dir.js';
export { createWorkloadCsr } from '@weft/xds-client';
export { inspectCertificates } from './ca/inspect-certificates.js';
export type { CertificateInspection, InspectedCertificate } from './ca/inspect-certificates.js';
export type { ControlPlaneChannelEvent } from './control-plane-channels.js';
export type {
  ReloadResult,
  ConfigRejection,
  ConfigAppliedEvent,
  SnapshotBuildEvent,
  ConfigDocument,
  ModelSummary,
  SnapshotSummary,
} from './control-plane-status.js';
export {
  loadConfigDir,
  validateConfigDir,
  DEFAULT_MESH_SETTINGS,
} from './config/load-config-dir.js';
export type { ConfigLoadResult, LoadConfigDirOptions } from './config/load-config-dir.js';
export { formatConfigIssues } from './config/format-config-issues.js';
export { parseDurationMs } from './config/duration.js';
export { translateMesh } from './translate/translate-mesh.js';
export { buildInboundListener } from './translate/build-inbound-listener.js';
export type { InboundListenerInput } from './translate/build-inbound-listener.js';
export { resolveMtlsMode, authorizationPoliciesFor } from './translate/inbound-policies.js';
export type {
  InboundWorkload,
  EffectiveMtlsMode,
  ResolvedMtls,
} from './translate/inbound-policies.js';
export type { TranslationResult } from './translate/translate-mesh.js';
export { checkConsistent } from './translate/check-consistent.js';
export { clusterName, routeConfigName, portListenerName } from './translate/resource-names.js';
export type {
  MeshModel,
  MeshSettings,
  MeshService,
  ServicePort,
  ServiceProtocol,
  MeshEndpoint,
  MeshLocality,
  MeshVirtualService,
  HttpRoute,
  HttpMatch,
  StringMatch,
  NamedStringMatch,
  RouteDestination,
  RouteMirror,
  RetryPolicy,
  FaultPolicy,
  HeaderOperations,
  MeshDestinationPolicy,
  MeshSubset,
  TrafficPolicy,
  LoadBalancerPolicy,
  HashKey,
  LocalityLbSetting,
  LocalityDistribute,
  LocalityFailover,
  ConnectionPool,
  OutlierDetection,
  TlsSettings,
  ResourceRef,
} from './config/mesh-model.js';

// For libraries and tooling
export { CERTIFICATE_PROVIDER_METADATA_KEY, formatLocatedIssue } from './contracts.js';
export type {
  ClientKind,
  ClientLocality,
  ClientView,
  XdsResourceSet,
  LocatedIssue,
  TranslationNote,
} from './contracts.js';
export { AdsServer, ADS_SERVICE_NAME } from './server/ads-server.js';
export type {
  AdsServerOptions,
  AdditionalGrpcService,
  AdsMtlsOptions,
  MtlsRefusedEvent,
  PeerCheck,
  PeerIdentity,
} from './server/ads-server.js';
export { WorkloadRegistry } from './registry/workload-registry.js';
export type {
  WorkloadRegistryOptions,
  WorkloadRegistryEvents,
} from './registry/workload-registry.js';
export { RegistryService, REGISTRY_SERVICE_NAME } from './registry/registry-service.js';
export type { RegistryServiceOptions } from './registry/registry-service.js';
export { validateRegistration, MAX_REGISTRATION_WEIGHT } from './registry/validate-registration.js';
export type {
  RegistrationIssue,
  RegistrationValidation,
} from './registry/validate-registration.js';
export { mergeRegisteredEndpoints } from './registry/merge-registered-endpoints.js';
export type { RegistryMergeResult } from './registry/merge-registered-endpoints.js';
export { TYPE_SHORT_NAMES } from './server/client-status.js';
export type {
  ClientStatus,
  TypeStatus,
  NackRecord,
  AckEvent,
  NackEvent,
  PushEvent,
  AdsServerEvents,
} from './server/client-status.js';
export { classifyClientKind, WEFT_USER_AGENT_NAME } from './server/client-identity.js';
export type { NodeMessage } from './server/client-identity.js';
export { CsdsService, CSDS_SERVICE_NAME, compileNodeMatchers } from './server/csds-service.js';
export type {
  CsdsServiceOptions,
  ClientStatusRequestMessage,
  ClientStatusResponseMessage,
  GenericXdsConfigMessage,
} from './server/csds-service.js';
export { createConfigDumpDocument, decodeAnyDeep } from './admin/config-dump.js';
export type {
  ConfigDumpDocument,
  ClientConfigDocument,
  TypeConfigDocument,
  ResourceDocument,
  DecodedResource,
} from './admin/config-dump.js';
export { ClientResourceTracker } from './server/client-resources.js';
export type {
  ClientConfigSnapshot,
  TypeConfigSnapshot,
  ResourceConfigEntry,
  ResourceClientStatus,
  ResourceConfigStatus,
  SentResource,
  SentResponse,
  HeldResource,
  NackedResource,
} from './server/client-resources.js';
export { ConfigFileCache } from './config/config-file-cache.js';
export type { ConfigFileCacheStats, ParsedConfigFile } from './config/config-file-cache.js';
export { SnapshotCache, viewKey } from './snapshot/snapshot-cache.js';
export type {
  SnapshotCacheOptions,
  SnapshotCacheEvents,
  SnapshotUpdateResult,
  BuildResources,
  CheckResources,
} from './snapshot/snapshot-cache.js';
export { createSnapshot, createEmptySnapshot } from './snapshot/snapshot.js';
export type {
  Snapshot,
  SnapshotTypeEntry,
  SnapshotResource,
  CreateSnapshotOptions,
} from './snapshot/snapshot.js';
export { EncodedResourceCache } from './snapshot/encoded-resource-cache.js';
export type {
  EncodedResource,
  EncodedResourceCacheStats,
} from './snapshot/encoded-resource-cache.js';
export { AdminServer } from './admin/admin-server.js';
export type { AdminServerOptions, AdminSource } from './admin/admin-server.js';
export { createCaServiceImplementation } from './ca/ca-service.js';
export type {
  CreateCertificateRequestMessage,
  CreateCertificateResponseMessage,
  CaServiceOptions,
} from './ca/ca-service.js';
export type { MeshTranslator } from './control-plane-translator.js';
