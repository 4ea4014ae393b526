// Resolves ServiceEntries and WorkloadEntries into services: one per host, with endpoints from
// inline `endpoints` or from the WorkloadEntries its workloadSelector picks (same namespace, as Istio).
// Spec: https://istio.io/latest/docs/reference/config/networking/service-entry/
import type { LocatedIssue } from '../contracts.js';
import type { MeshEndpoint, MeshLocality, MeshService, ServicePort } from './mesh-model.js';
import type { ParsedResource } from './parse-resources.js';
import { resourceIssue } from './resource-issue.js';
import type { ServiceEntrySpec } from './schemas/service-entry-schema.js';
import type { WorkloadEntrySpec } from './schemas/workload-entry-schema.js';

type Of<K extends ParsedResource['kind']> = Extract<ParsedResource, { kind: K }>;

/** `region/zone/subzone` → parts (missing parts `''`). */
export function parseLocality(text: string | undefined): MeshLocality {
  const [region = '', zone = '', subZone = ''] = (text ?? '').split('/');
  return { region, zone, subZone };
}

/** Whether `labels` has every key/value of `selector` (an empty selector selects all). */
export function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function endpointOf(
  spec: WorkloadEntrySpec,
  ports: readonly ServicePort[],
  namespace: string,
  source: string,
): MeshEndpoint {
  const byServicePort: Record<number, number> = {};
  for (const port of ports) byServicePort[port.number] = spec.ports?.[port.name] ?? port.number;
  return {
    address: spec.address,
    ports: byServicePort,
    labels: { ...(spec.labels ?? {}) },
    locality: parseLocality(spec.locality),
    // Istio: weight 0 (unset) means 1.
    weight: spec.weight === undefined || spec.weight === 0 ? 1 : spec.weight,
    serviceAccount:
      spec.serviceAccount === undefined || spec.serviceAccount === ''
        ? 'default'
        : spec.serviceAccount,
    namespace,
    source,
  };
}

function portsOf(spec: ServiceEntrySpec): ServicePort[] {
  return spec.ports.map((p) => ({
    number: p.number,
    name: p.name,
    protocol: p.protocol ?? 'HTTP',
  }));
}

/** Services by host, sorted by host; issues for hosts declared twice. */
export function resolveServices(
  serviceEntries: readonly Of<'ServiceEntry'>[],
  workloadEntries: readonly Of<'WorkloadEntry'>[],
): { services: Map<string, MeshService>; issues: LocatedIssue[] } {
  const issues: LocatedIssue[] = [];
  const byHost = new Map<string, { service: MeshService; owner: Of<'ServiceEntry'> }>();
  for (const se of serviceEntries) {
    const ports = portsOf(se.spec);
    const endpoints: MeshEndpoint[] = [];
    for (const ep of se.spec.endpoints ?? [])
      endpoints.push(endpointOf(ep, ports, se.namespace, se.ref));
    const selector = se.spec.workloadSelector?.labels;
    if (selector !== undefined) {
      for (const we of workloadEntries) {
        if (we.namespace !== se.namespace || !labelsMatch(selector, we.spec.labels ?? {})) continue;
        endpoints.push(endpointOf(we.spec, ports, we.namespace, we.ref));
      }
    }
    endpoints.sort((a, b) =>
      a.address === b.address
        ? a.source.localeCompare(b.source)
        : a.address.localeCompare(b.address),
    );
    for (const [i, host] of se.spec.hosts.entries()) {
      const earlier = byHost.get(host);
      if (earlier !== undefined) {
        issues.push(
          resourceIssue(
            se,
            ['spec', 'hosts', i],
            `host ${host} is already declared by ${earlier.owner.ref}`,
          ),
        );
        continue;
      }
      byHost.set(host, {
        owner: se,
        service: {
          host,
          namespace: se.namespace,
          ports,
          location: se.spec.location ?? 'MESH_EXTERNAL',
          endpoints,
          source: se.ref,
        },
      });
    }
  }
  const services = new Map<string, MeshService>();
  for (const [host, entry] of [...byHost.entries()].sort(([a], [b]) => a.localeCompare(b)))
    services.set(host, entry.service);
  return { services, issues };
}
