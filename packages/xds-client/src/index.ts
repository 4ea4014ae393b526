// @weft/xds-client: the xDS transport (bootstrap, ADS SotW and Delta, resource types, watchers,
// ACK/NACK, cache, fallback). Knows nothing of routing, HTTP or gRPC calls.

export { XdsClient } from './xds-client.js';
export type { ResourceWatcher } from './ads/resource-watcher.js';
export type { XdsClientOptions, XdsTransport } from './xds-client-options.js';
export type { BackoffOptions } from './backoff.js';
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
export { systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { silentLogger, createJsonLogger } from './logger.js';
export type { Logger, LogFields, LogLevel } from './logger.js';
export { XdsProtos, loadXdsProtos, PROTO_OBJECT_OPTIONS } from './protos/xds-protos.js';
export type { AnyMessage } from './protos/xds-protos.js';
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
