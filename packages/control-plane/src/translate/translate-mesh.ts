// Translates the mesh model into xDS resources for one client view: Listeners and
// RouteConfigurations per service port, a Cluster and ClusterLoadAssignment per port and subset.
// Spec: DESIGN.md "xDS conventions".
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '@weft/xds-client';
import type { AdsTypeUrl } from '@weft/xds-client';
import type { ClientView, TranslationNote, XdsResourceSet } from '../contracts.js';
import type { MeshModel } from '../config/mesh-model.js';
import { labelsMatch } from '../config/resolve-services.js';
import { buildCluster } from './build-cluster.js';
import { buildClusterLoadAssignment } from './build-cluster-load-assignment.js';
import { buildListener } from './build-listener.js';
import { rateLimitsFor } from './build-local-rate-limit.js';
import { buildRouteConfiguration, hostHasFaults } from './build-route-configuration.js';
import {
  clusterName,
  defaultListenerName,
  portListenerName,
  routeConfigName,
} from './resource-names.js';

/** The translator's output: resources by type URL then name, and what was changed for the view. */
export interface TranslationResult {
  readonly resources: XdsResourceSet;
  readonly notes: readonly TranslationNote[];
}

type Resource = Readonly<Record<string, unknown>>;

/**
 * Translates `model` for a client `view`. Pure: the same model and view give equal output.
 * The set holds Listener, RouteConfiguration, Cluster and ClusterLoadAssignment maps (Secrets are
 * the certificate authority's). Notes are deduplicated.
 */
export function translateMesh(model: MeshModel, view: ClientView): TranslationResult {
  const listeners = new Map<string, Resource>();
  const routeConfigs = new Map<string, Resource>();
  const clusters = new Map<string, Resource>();
  const assignments = new Map<string, Resource>();
  const notes = new Map<string, TranslationNote>();
  const addNotes = (list: readonly TranslationNote[]): void => {
    for (const n of list) notes.set(`${n.resource}\n${n.message}`, n);
  };

  for (const service of model.services.values()) {
    const host = service.host;
    const withFaultFilter = hostHasFaults(model, host);
    const withLocalRateLimit = rateLimitsFor(model, host, view.kind) !== undefined;
    const policy = model.destinationPolicies.get(host);
    const subsets = [
      { name: '', labels: {}, trafficPolicy: policy?.trafficPolicy },
      ...(policy?.subsets ?? []),
    ];
    for (const [i, port] of service.ports.entries()) {
      const rds = routeConfigName(host, port.number);
      const listenerNames = [portListenerName(host, port.number)];
      if (i === 0) listenerNames.unshift(defaultListenerName(host));
      for (const name of listenerNames)
        listeners.set(
          name,
          buildListener({
            name,
            routeConfigName: rds,
            withFaultFilter,
            withLocalRateLimit,
            tracingSamplingPercent: model.settings.tracingSamplingPercent,
          }),
        );
      const rc = buildRouteConfiguration({ model, host, port: port.number, kind: view.kind });
      routeConfigs.set(rds, rc.routeConfiguration);
      addNotes(rc.notes);

      for (const subset of subsets) {
        if (subset.trafficPolicy === undefined) continue; // every host has a policy (the model's contract)
        const name = clusterName(host, port.number, subset.name);
        const endpoints = service.endpoints.filter(
          (e) => e.ports[port.number] !== undefined && labelsMatch(subset.labels, e.labels),
        );
        const built = buildCluster({
          name,
          policy: subset.trafficPolicy,
          endpoints,
          settings: model.settings,
          kind: view.kind,
          ...(view.certificateProvider === undefined
            ? {}
            : { certificateProvider: view.certificateProvider }),
        });
        clusters.set(name, built.cluster);
        addNotes(built.notes);
        assignments.set(
          name,
          buildClusterLoadAssignment({
            clusterName: name,
            service,
            port: port.number,
            subsetLabels: subset.labels,
            localityLb: subset.trafficPolicy.localityLb,
            client: view.locality,
          }),
        );
      }
    }
  }
  const resources = new Map<AdsTypeUrl, ReadonlyMap<string, Resource>>([
    [CLUSTER_TYPE_URL, clusters],
    [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, assignments],
    [LISTENER_TYPE_URL, listeners],
    [ROUTE_CONFIGURATION_TYPE_URL, routeConfigs],
  ]);
  return { resources, notes: [...notes.values()] };
}
