// The immutable snapshot the dependency manager emits for one listener: everything routing and
// balancing need, complete, so no router sees a half-applied update (STYLE rule 2).
// Reference: grpc-js-xds src/xds-dependency-manager.ts (XdsConfig); gRFC A74.
import type {
  ClusterLoadAssignmentUpdate,
  ClusterUpdate,
  ListenerUpdate,
  RouteConfigurationUpdate,
  WeftError,
} from '@weft/xds-client';

/** One referenced cluster: its CDS and EDS resources, or the resource error in their place. */
export interface XdsClusterConfig {
  readonly name: string;
  /** Undefined when the CDS resource is missing or invalid (`error` says which). */
  readonly cluster: ClusterUpdate | undefined;
  /** Undefined when CDS or EDS is missing or invalid (`error` says which). */
  readonly endpoints: ClusterLoadAssignmentUpdate | undefined;
  /** Set exactly when `cluster` or `endpoints` is undefined: a cluster with no endpoints. */
  readonly error: WeftError | undefined;
}

/** A complete configuration for one listener. Frozen; replaced whole on every change. */
export interface XdsConfig {
  readonly listenerName: string;
  readonly listener: ListenerUpdate;
  /** The RDS resource, or the listener's inline route configuration. */
  readonly routeConfig: RouteConfigurationUpdate;
  /** Every cluster the route configuration references, by name. */
  readonly clusters: ReadonlyMap<string, XdsClusterConfig>;
}
