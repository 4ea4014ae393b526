// @weft/control-plane/testing: resource builders and the in-process ADS server for other packages' tests.
// STYLE rule 33: https://github.com/envoyproxy/go-control-plane/tree/main/pkg/test/resource/v3
export {
  buildListener,
  buildRouteConfiguration,
  buildCluster,
  buildClusterLoadAssignment,
  buildResourceSet,
  buildSimpleMesh,
} from './resource-builders.js';
export type { PlainResource, RouteSpec, EndpointSpec, ResourceLists } from './resource-builders.js';
export { AdsServer } from '../server/ads-server.js';
export type { AdsServerOptions } from '../server/ads-server.js';
