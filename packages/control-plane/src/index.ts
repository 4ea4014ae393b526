// @weft/control-plane: config (YAML → model), translation (model → xDS), snapshots, ADS server, admin API.

export {
  loadConfigDir,
  validateConfigDir,
  DEFAULT_MESH_SETTINGS,
} from './config/load-config-dir.js';
export type { ConfigLoadResult } from './config/load-config-dir.js';
export { formatConfigIssues } from './config/format-config-issues.js';
export { translateMesh } from './translate/translate-mesh.js';
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
export { formatLocatedIssue } from './contracts.js';
export type {
  ClientKind,
  ClientLocality,
  ClientView,
  XdsResourceSet,
  LocatedIssue,
  TranslationNote,
} from './contracts.js';
