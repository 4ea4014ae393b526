// Merges registered endpoints into a mesh model loaded from config, before translation: a
// registration for service S joins S's endpoints next to its WorkloadEntry/inline ones, or makes
// an implicit service S when no ServiceEntry declares it. DESIGN.md "Workload registry".
import type {
  MeshDestinationPolicy,
  MeshEndpoint,
  MeshModel,
  MeshService,
  ServicePort,
  ServiceProtocol,
} from '../config/mesh-model.js';
import { resolveTrafficPolicy } from '../config/resolve-destination-policies.js';
import type {
  RegistrationPlacement,
  RegistrationProtocol,
  RegistryEntry,
} from './registered-endpoint.js';

/** The merged model and where each registration (by key) ended up. */
export interface RegistryMergeResult {
  readonly model: MeshModel;
  readonly placements: ReadonlyMap<string, RegistrationPlacement>;
}

/** Which ServiceEntry port protocols a registered protocol may serve. */
const COMPATIBLE: Readonly<Record<RegistrationProtocol, readonly ServiceProtocol[]>> = {
  HTTP: ['HTTP', 'HTTP2'],
  GRPC: ['GRPC', 'HTTP2'],
};

interface ImplicitService {
  readonly namespace: string;
  readonly ports: Map<number, ServicePort>;
  readonly endpoints: MeshEndpoint[];
}

function byAddressThenSource(a: MeshEndpoint, b: MeshEndpoint): number {
  return a.address === b.address
    ? a.source.localeCompare(b.source)
    : a.address.localeCompare(b.address);
}

function notServed(reason: string): RegistrationPlacement {
  return Object.freeze({ served: false, servicePorts: [], implicitService: false, reason });
}

function endpointOf(entry: RegistryEntry, ports: Record<number, number>): MeshEndpoint {
  const e = entry.endpoint;
  return Object.freeze({
    address: e.address,
    ports: Object.freeze(ports),
    labels: e.labels,
    locality: e.locality,
    weight: e.weight,
    serviceAccount: e.serviceAccount,
    namespace: e.namespace,
    source: `Registration/${e.namespace}/${entry.key}`,
  });
}

/**
 * Pure: returns `model` itself when there is nothing to merge. Rules (first registration wins a
 * conflict; entries are walked in registration order):
 * - S has a ServiceEntry: the endpoint joins only if it is in the ServiceEntry's namespace (as a
 *   WorkloadEntry would), on `servicePort` if set, else on every port whose protocol fits
 *   (HTTP → HTTP/HTTP2, GRPC → GRPC/HTTP2), reached at the registered `port`.
 * - No ServiceEntry: an implicit MESH_INTERNAL service S in the first registration's namespace,
 *   with port `servicePort || port` per registration (name `http-N` / `grpc-N`), default traffic
 *   policy; a registration whose port number is taken with another protocol is not served.
 */
export function mergeRegisteredEndpoints(
  model: MeshModel,
  entries: readonly RegistryEntry[],
): RegistryMergeResult {
  const placements = new Map<string, RegistrationPlacement>();
  if (entries.length === 0) return { model, placements };
  const joined = new Map<string, MeshEndpoint[]>();
  const implicit = new Map<string, ImplicitService>();
  for (const entry of entries) {
    const e = entry.endpoint;
    const declared = model.services.get(e.service);
    if (declared !== undefined) {
      if (declared.namespace !== e.namespace) {
        placements.set(
          entry.key,
          notServed(
            `namespace ${e.namespace} differs from ${declared.source}'s namespace ${declared.namespace}`,
          ),
        );
        continue;
      }
      const ports: Record<number, number> = {};
      for (const p of declared.ports)
        if (
          COMPATIBLE[e.protocol].includes(p.protocol) &&
          (e.servicePort === 0 || e.servicePort === p.number)
        )
          ports[p.number] = e.port;
      const servicePorts = Object.keys(ports).map(Number);
      if (servicePorts.length === 0) {
        const wanted = e.servicePort === 0 ? 'any port' : `port ${e.servicePort}`;
        placements.set(
          entry.key,
          notServed(`${declared.source} has no ${e.protocol}-compatible ${wanted}`),
        );
        continue;
      }
      const list = joined.get(e.service) ?? [];
      list.push(endpointOf(entry, ports));
      joined.set(e.service, list);
      placements.set(
        entry.key,
        Object.freeze({ served: true, servicePorts, implicitService: false, reason: '' }),
      );
      continue;
    }
    const servicePort = e.servicePort === 0 ? e.port : e.servicePort;
    let svc = implicit.get(e.service);
    if (svc === undefined) {
      svc = { namespace: e.namespace, ports: new Map(), endpoints: [] };
      implicit.set(e.service, svc);
    }
    if (svc.namespace !== e.namespace) {
      placements.set(
        entry.key,
        notServed(`implicit service ${e.service} was registered in namespace ${svc.namespace}`),
      );
      continue;
    }
    const taken = svc.ports.get(servicePort);
    if (taken !== undefined && taken.protocol !== e.protocol) {
      placements.set(
        entry.key,
        notServed(`implicit service ${e.service} port ${servicePort} is already ${taken.protocol}`),
      );
      continue;
    }
    if (taken === undefined)
      svc.ports.set(servicePort, {
        number: servicePort,
        name: `${e.protocol.toLowerCase()}-${servicePort}`,
        protocol: e.protocol,
      });
    svc.endpoints.push(endpointOf(entry, { [servicePort]: e.port }));
    placements.set(
      entry.key,
      Object.freeze({
        served: true,
        servicePorts: [servicePort],
        implicitService: true,
        reason: '',
      }),
    );
  }

  const services = new Map(model.services);
  for (const [host, endpoints] of joined) {
    const declared = model.services.get(host);
    if (declared === undefined) continue;
    services.set(
      host,
      Object.freeze({
        ...declared,
        endpoints: Object.freeze([...declared.endpoints, ...endpoints].sort(byAddressThenSource)),
      }),
    );
  }
  const policies = new Map(model.destinationPolicies);
  for (const [host, svc] of implicit) {
    if (svc.endpoints.length === 0) continue;
    const service: MeshService = {
      host,
      namespace: svc.namespace,
      ports: Object.freeze([...svc.ports.values()].sort((a, b) => a.number - b.number)),
      location: 'MESH_INTERNAL',
      endpoints: Object.freeze(svc.endpoints.sort(byAddressThenSource)),
      source: `Registration/${svc.namespace}/${host}`,
    };
    services.set(host, Object.freeze(service));
    const policy: MeshDestinationPolicy = {
      host,
      trafficPolicy: resolveTrafficPolicy(undefined, model.settings),
      subsets: [],
      source: '',
    };
    policies.set(host, Object.freeze(policy));
  }
  const sorted = <V>(m: Map<string, V>): Map<string, V> =>
    new Map([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const merged: MeshModel = Object.freeze({
    settings: model.settings,
    services: sorted(services),
    virtualServices: model.virtualServices,
    destinationPolicies: sorted(policies),
    localRateLimits: model.localRateLimits,
    peerAuthentications: model.peerAuthentications,
    authorizationPolicies: model.authorizationPolicies,
  });
  return { model: merged, placements };
}
