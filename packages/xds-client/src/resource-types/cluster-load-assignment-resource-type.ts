// EDS: decodes envoy.config.endpoint.v3.ClusterLoadAssignment into endpoints grouped by priority
// and locality. Spec: envoy/config/endpoint/v3/endpoint.proto, endpoint_components.proto;
// gRFC A27 (EDS), A61 (endpoint weights); Envoy's priority and locality rules.
import { isIP } from 'node:net';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../protos/type-urls.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  decodeResource,
  deepEqual,
  deepFreeze,
  fractionPerMillion,
  int,
  join,
  message,
  messages,
  oneof,
  str,
  wrappedInt,
} from './decode-helpers.js';
import type { DecodeContext, DecodeResult, XdsResourceType } from './xds-resource-type.js';

/** envoy.config.core.v3.HealthStatus names. */
export type EndpointHealthStatus =
  'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

const HEALTH_STATUSES: readonly EndpointHealthStatus[] = [
  'UNKNOWN',
  'HEALTHY',
  'UNHEALTHY',
  'DRAINING',
  'TIMEOUT',
  'DEGRADED',
];

/** One endpoint. */
export interface EndpointUpdate {
  /** An IP literal (v4 or v6); hostnames are rejected (gRPC clients require IPs). */
  readonly address: string;
  /** 1-65535. */
  readonly port: number;
  readonly healthStatus: EndpointHealthStatus;
  /** `load_balancing_weight`, default 1. */
  readonly weight: number;
  /** `endpoint.hostname` ('' when unset), for logs and SNI. */
  readonly hostname: string;
}

/** The keys of envoy.config.core.v3.Locality ('' when absent). */
export interface LocalityUpdate {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** The endpoints of one locality at one priority. */
export interface LocalityEndpointsUpdate {
  readonly locality: LocalityUpdate;
  /** 0 is the highest; priorities are contiguous from 0. */
  readonly priority: number;
  /**
   * `load_balancing_weight`. When unset it is 1 and `weightDefaulted` is true: gRPC clients
   * silently drop such a locality and Envoy weighs it 0 under locality-weighted LB, so the
   * control plane should always set it; Weft keeps the locality and reports the default.
   */
  readonly loadBalancingWeight: number;
  readonly weightDefaulted: boolean;
  readonly endpoints: readonly EndpointUpdate[];
}

/** A category of load the control plane asks clients to drop. */
export interface DropOverloadUpdate {
  readonly category: string;
  readonly dropPerMillion: number;
}

/** A decoded ClusterLoadAssignment. Deep-frozen. */
export interface ClusterLoadAssignmentUpdate {
  /** The EDS service name (the resource name). */
  readonly clusterName: string;
  /** In the order received; group by `priority` to build the priority list. */
  readonly localities: readonly LocalityEndpointsUpdate[];
  /** Percent; default 140 (a factor of 1.4, Envoy). */
  readonly overprovisioningFactor: number;
  readonly dropOverloads: readonly DropOverloadUpdate[];
}

function decodeEndpoint(
  e: ProtoObject,
  path: string,
  issues: IssueCollector,
): EndpointUpdate | undefined {
  if (oneof(e, 'host_identifier') !== 'endpoint') {
    issues.add(join(path, 'endpoint'), 'required (named endpoints are not supported)');
    return undefined;
  }
  const endpoint = message(e, 'endpoint') ?? {};
  const sp = join(path, 'endpoint.address.socket_address');
  const socket = message(message(endpoint, 'address') ?? {}, 'socket_address');
  if (socket === undefined) {
    issues.add(sp, 'required');
    return undefined;
  }
  const address = str(socket, 'address');
  if (isIP(address) === 0) {
    issues.add(join(sp, 'address'), `must be an IP literal, got ${JSON.stringify(address)}`);
  }
  const port = int(socket, 'port_value');
  if (oneof(socket, 'port_specifier') !== 'port_value' || port < 1 || port > 65535) {
    issues.add(join(sp, 'port_value'), `must be in 1-65535, got ${port}`);
  }
  const health = str(e, 'health_status') || 'UNKNOWN';
  const healthStatus = HEALTH_STATUSES.find((h) => h === health);
  if (healthStatus === undefined) issues.add(join(path, 'health_status'), `unknown ${health}`);
  const weight = wrappedInt(e, 'load_balancing_weight') ?? 1;
  if (weight < 1) issues.add(join(path, 'load_balancing_weight'), 'must be >= 1');
  return {
    address,
    port,
    healthStatus: healthStatus ?? 'UNKNOWN',
    weight,
    hostname: str(endpoint, 'hostname'),
  };
}

function decodeAssignment(
  msg: ProtoObject,
  name: string,
  issues: IssueCollector,
): ClusterLoadAssignmentUpdate {
  const priorities = new Set<number>();
  const seen = new Set<string>();
  const localities = messages(msg, 'endpoints').map((l, i): LocalityEndpointsUpdate => {
    const lp = `endpoints[${i}]`;
    const loc = message(l, 'locality') ?? {};
    const locality = {
      region: str(loc, 'region'),
      zone: str(loc, 'zone'),
      subZone: str(loc, 'sub_zone'),
    };
    const priority = int(l, 'priority');
    priorities.add(priority);
    const key = JSON.stringify([priority, locality.region, locality.zone, locality.subZone]);
    if (seen.has(key)) issues.add(join(lp, 'locality'), 'duplicate locality in this priority');
    seen.add(key);
    const rawWeight = wrappedInt(l, 'load_balancing_weight');
    if (rawWeight === 0) issues.add(join(lp, 'load_balancing_weight'), 'must be >= 1');
    const endpoints = messages(l, 'lb_endpoints').flatMap((e, j) => {
      const d = decodeEndpoint(e, `${join(lp, 'lb_endpoints')}[${j}]`, issues);
      return d === undefined ? [] : [d];
    });
    return {
      locality,
      priority,
      loadBalancingWeight: rawWeight ?? 1,
      weightDefaulted: rawWeight === undefined,
      endpoints,
    };
  });
  // Envoy: priorities must be contiguous from 0.
  for (let p = 0; p < priorities.size; p++) {
    if (!priorities.has(p)) {
      issues.add('endpoints', `priorities must be contiguous from 0; ${p} is missing`);
      break;
    }
  }
  const policy = message(msg, 'policy') ?? {};
  const overprovisioningFactor = wrappedInt(policy, 'overprovisioning_factor') ?? 140;
  if (overprovisioningFactor < 1) {
    issues.add('policy.overprovisioning_factor', 'must be >= 1');
  }
  const dropOverloads = messages(policy, 'drop_overloads').map((d, i) => {
    const dp = `policy.drop_overloads[${i}]`;
    const category = str(d, 'category');
    if (category === '') issues.add(join(dp, 'category'), 'required');
    return { category, dropPerMillion: fractionPerMillion(d, 'drop_percentage', dp, issues, 0) };
  });
  return { clusterName: name, localities, overprovisioningFactor, dropOverloads };
}

/** The EDS resource type; the resource name is `cluster_name` (the EDS service name). */
export class ClusterLoadAssignmentResourceType implements XdsResourceType<ClusterLoadAssignmentUpdate> {
  readonly typeUrl = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
  readonly shortName = 'eds';
  readonly allResourcesRequiredInSotW = false;

  /** Decodes and validates; never throws. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<ClusterLoadAssignmentUpdate> {
    return decodeResource(raw, ctx, this.typeUrl, 'cluster_name', (msg, name, issues) =>
      deepFreeze(decodeAssignment(msg, name, issues)),
    );
  }

  /** Structural equality. */
  isEqual(a: ClusterLoadAssignmentUpdate, b: ClusterLoadAssignmentUpdate): boolean {
    return deepEqual(a, b);
  }
}
