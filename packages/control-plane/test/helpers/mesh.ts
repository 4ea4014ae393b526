// Small hand-made resource sets for server tests, each type independently variable.
import {
  buildCluster,
  buildClusterLoadAssignment,
  buildListener,
  buildResourceSet,
  buildRouteConfiguration,
} from '../../src/testing/index.js';
import type { XdsResourceSet } from '../../src/contracts.js';

export interface MeshSpec {
  /** listener name → route config name */
  listeners?: Record<string, string>;
  /** route config name → cluster */
  routes?: Record<string, string>;
  /** cluster name → lb policy */
  clusters?: Record<string, string>;
  /** cluster name → endpoint port */
  endpoints?: Record<string, number>;
}

export function mesh(spec: MeshSpec): XdsResourceSet {
  return buildResourceSet({
    listeners: Object.entries(spec.listeners ?? {}).map(([n, r]) => buildListener(n, r)),
    routes: Object.entries(spec.routes ?? {}).map(([n, c]) => buildRouteConfiguration(n, c)),
    clusters: Object.entries(spec.clusters ?? {}).map(([n, lb]) =>
      buildCluster(n, { lbPolicy: lb }),
    ),
    endpoints: Object.entries(spec.endpoints ?? {}).map(([n, port]) =>
      buildClusterLoadAssignment(n, [{ address: '127.0.0.1', port }]),
    ),
  });
}

export const BASE: MeshSpec = {
  listeners: { a: 'ra', b: 'rb' },
  routes: { ra: 'ca', rb: 'cb' },
  clusters: { ca: 'ROUND_ROBIN', cb: 'ROUND_ROBIN' },
  endpoints: { ca: 8001, cb: 8002 },
};
