// The five resource types Weft's xDS client subscribes to by default (LDS, RDS, CDS, EDS, SDS);
// pass them to the client as values (STYLE rules 22 and 25).
import { ClusterLoadAssignmentResourceType } from './cluster-load-assignment-resource-type.js';
import { ClusterResourceType } from './cluster-resource-type.js';
import { ListenerResourceType } from './listener-resource-type.js';
import { RouteConfigurationResourceType } from './route-configuration-resource-type.js';
import { SecretResourceType } from './secret-resource-type.js';

/** The default resource types, in make-before-break order (CDS, EDS, LDS, RDS), then SDS. */
export type DefaultResourceTypes = readonly [
  ClusterResourceType,
  ClusterLoadAssignmentResourceType,
  ListenerResourceType,
  RouteConfigurationResourceType,
  SecretResourceType,
];

/** Returns fresh instances of the five default resource types. */
export function createDefaultResourceTypes(): DefaultResourceTypes {
  return Object.freeze([
    new ClusterResourceType(),
    new ClusterLoadAssignmentResourceType(),
    new ListenerResourceType(),
    new RouteConfigurationResourceType(),
    new SecretResourceType(),
  ] as const);
}

/**
 * The five default resource types. Shared safely: resource types are stateless values (decode
 * and isEqual are pure), so this constant is not a stateful singleton.
 */
export const DEFAULT_RESOURCE_TYPES: DefaultResourceTypes = createDefaultResourceTypes();
