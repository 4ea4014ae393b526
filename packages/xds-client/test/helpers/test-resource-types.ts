// Small resource types over the real Listener/RouteConfiguration/Cluster/ClusterLoadAssignment
// messages, so ADS tests do not depend on the full decoders: each carries a name and a payload
// string; payload 'INVALID' fails validation.
import type { AnyMessage, XdsProtos } from '../../src/protos/xds-protos.js';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '../../src/protos/type-urls.js';
import type { DecodeResult, XdsResourceType } from '../../src/resource-types/xds-resource-type.js';

/** What every test type decodes to. */
export interface TestResource {
  readonly name: string;
  readonly payload: string;
}

/** The payload that makes a resource invalid. */
export const INVALID_PAYLOAD = 'INVALID';

interface Shape {
  readonly typeUrl: string;
  readonly shortName: string;
  readonly allResourcesRequiredInSotW: boolean;
  readonly nameField: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded protobuf objects are untyped here
  readonly read: (message: Record<string, any>) => string;
  readonly write: (payload: string) => Record<string, unknown>;
}

/** A test resource type plus a builder of its wire form. */
export interface TestResourceType extends XdsResourceType<TestResource> {
  build(name: string | undefined, payload: string): AnyMessage;
}

function makeType(protos: XdsProtos, shape: Shape): TestResourceType {
  return {
    typeUrl: shape.typeUrl,
    shortName: shape.shortName,
    allResourcesRequiredInSotW: shape.allResourcesRequiredInSotW,
    decode(raw: AnyMessage): DecodeResult<TestResource> {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded protobuf objects are untyped here
      const message = protos.decodeAny(raw) as Record<string, any>;
      const name = message[shape.nameField] as string | undefined;
      if (name === undefined || name === '') {
        return {
          ok: false,
          name: undefined,
          issues: [{ path: shape.nameField, message: 'must be set' }],
        };
      }
      const payload = shape.read(message);
      if (payload === INVALID_PAYLOAD) {
        return {
          ok: false,
          name,
          issues: [{ path: 'payload', message: 'rejected by the test type' }],
        };
      }
      return { ok: true, name, value: { name, payload } };
    },
    isEqual: (a, b) => a.name === b.name && a.payload === b.payload,
    build(name, payload) {
      return protos.encodeAny(shape.typeUrl, {
        ...(name === undefined ? {} : { [shape.nameField]: name }),
        ...shape.write(payload),
      });
    },
  };
}

/** LDS, RDS, CDS and EDS test types. */
export function createTestResourceTypes(protos: XdsProtos): {
  lds: TestResourceType;
  rds: TestResourceType;
  cds: TestResourceType;
  eds: TestResourceType;
} {
  return {
    lds: makeType(protos, {
      typeUrl: LISTENER_TYPE_URL,
      shortName: 'lds',
      allResourcesRequiredInSotW: true,
      nameField: 'name',
      read: (m) => (m['stat_prefix'] as string | undefined) ?? '',
      write: (p) => ({ stat_prefix: p }),
    }),
    rds: makeType(protos, {
      typeUrl: ROUTE_CONFIGURATION_TYPE_URL,
      shortName: 'rds',
      allResourcesRequiredInSotW: false,
      nameField: 'name',
      read: (m) => (m['virtual_hosts']?.[0]?.name as string | undefined) ?? '',
      write: (p) => ({ virtual_hosts: [{ name: p, domains: ['*'] }] }),
    }),
    cds: makeType(protos, {
      typeUrl: CLUSTER_TYPE_URL,
      shortName: 'cds',
      allResourcesRequiredInSotW: true,
      nameField: 'name',
      read: (m) => (m['alt_stat_name'] as string | undefined) ?? '',
      write: (p) => ({ alt_stat_name: p }),
    }),
    eds: makeType(protos, {
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      shortName: 'eds',
      allResourcesRequiredInSotW: false,
      nameField: 'cluster_name',
      read: (m) => (m['endpoints']?.[0]?.locality?.region as string | undefined) ?? '',
      write: (p) => ({ endpoints: [{ locality: { region: p } }] }),
    }),
  };
}
