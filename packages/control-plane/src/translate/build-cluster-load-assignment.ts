// Builds a ClusterLoadAssignment: a service's endpoints for one port and subset, grouped by
// locality, with priorities and weights relative to the client's locality.
// Spec: envoy/config/endpoint/v3/endpoint.proto; DESIGN.md "The request path" step 3.
import type { ClientLocality } from '../contracts.js';
import type {
  LocalityLbSetting,
  MeshEndpoint,
  MeshLocality,
  MeshService,
} from '../config/mesh-model.js';
import { labelsMatch } from '../config/resolve-services.js';
import { localityKey, placeLocalities } from './locality-priorities.js';

/** Envoy's overprovisioning factor 1.4, as a percentage. */
export const OVERPROVISIONING_FACTOR = 140;

/** Options of {@link buildClusterLoadAssignment}. */
export interface ClusterLoadAssignmentInput {
  readonly clusterName: string;
  readonly service: MeshService;
  readonly port: number;
  /** Subset labels; `{}` selects every endpoint. */
  readonly subsetLabels: Readonly<Record<string, string>>;
  readonly localityLb: LocalityLbSetting;
  readonly client: ClientLocality;
}

/** The ClusterLoadAssignment as a plain proto object (snake_case). */
export function buildClusterLoadAssignment(
  input: ClusterLoadAssignmentInput,
): Record<string, unknown> {
  // A registered endpoint may serve only some of the service's ports (no entry for the others).
  const endpoints = input.service.endpoints.filter(
    (e) => e.ports[input.port] !== undefined && labelsMatch(input.subsetLabels, e.labels),
  );
  const groups = new Map<string, { locality: MeshLocality; endpoints: MeshEndpoint[] }>();
  for (const e of endpoints) {
    const key = localityKey(e.locality);
    const group = groups.get(key) ?? { locality: e.locality, endpoints: [] };
    group.endpoints.push(e);
    groups.set(key, group);
  }
  const placements = placeLocalities(
    input.client,
    [...groups.values()].map((g) => g.locality),
    input.localityLb,
  );
  const localities = [];
  for (const [key, group] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const placement = placements.get(key);
    if (placement === undefined || placement === null) continue;
    const endpointWeight = group.endpoints.reduce((sum, e) => sum + e.weight, 0);
    localities.push({
      locality: {
        region: group.locality.region,
        zone: group.locality.zone,
        sub_zone: group.locality.subZone,
      },
      lb_endpoints: group.endpoints.map((e) => ({
        endpoint: {
          address: {
            socket_address: { address: e.address, port_value: e.ports[input.port] },
          },
        },
        health_status: 'HEALTHY',
        load_balancing_weight: { value: e.weight },
      })),
      // gRPC drops a locality without a weight (XDS-NOTES), so it is always set.
      load_balancing_weight: { value: placement.weight ?? endpointWeight },
      priority: placement.priority,
    });
  }
  localities.sort((a, b) => a.priority - b.priority);
  return {
    cluster_name: input.clusterName,
    endpoints: localities,
    policy: { overprovisioning_factor: { value: OVERPROVISIONING_FACTOR } },
  };
}
