// Tests for ClusterLoadAssignmentResourceType (EDS): localities, priorities, weights, health,
// overprovisioning and drops, plus a table of invalid assignments.
import assert from 'node:assert/strict';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../../src/protos/type-urls.js';
import { ClusterLoadAssignmentResourceType } from '../../src/resource-types/cluster-load-assignment-resource-type.js';
import { ctx, encode, expectIssueAt, expectOk } from './fixtures.js';

const eds = new ClusterLoadAssignmentResourceType();

function endpoint(
  address: string,
  port: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra };
}
function cla(localities: unknown[], policy?: Record<string, unknown>): Record<string, unknown> {
  return {
    cluster_name: 'inventory.eds',
    endpoints: localities,
    ...(policy === undefined ? {} : { policy }),
  };
}
const LOCALITY_A = {
  locality: { region: 'eu', zone: 'eu-a', sub_zone: 'rack1' },
  load_balancing_weight: { value: 3 },
  lb_endpoints: [
    endpoint('127.0.0.1', 8080),
    endpoint('::1', 8081, { health_status: 'DRAINING', load_balancing_weight: { value: 5 } }),
  ],
};
const LOCALITY_B = {
  locality: { region: 'eu', zone: 'eu-b' },
  priority: 1,
  lb_endpoints: [endpoint('127.0.1.1', 9090, { health_status: 'HEALTHY' })],
};
const VALID = cla([LOCALITY_A, LOCALITY_B], {
  overprovisioning_factor: { value: 200 },
  drop_overloads: [
    { category: 'throttle', drop_percentage: { numerator: 5, denominator: 'HUNDRED' } },
  ],
});

describe('ClusterLoadAssignmentResourceType', () => {
  describe('decode', () => {
    it('decodes localities with priorities, weights and endpoint health', () => {
      const value = expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, VALID), ctx));
      assert.deepEqual(value, {
        clusterName: 'inventory.eds',
        localities: [
          {
            locality: { region: 'eu', zone: 'eu-a', subZone: 'rack1' },
            priority: 0,
            loadBalancingWeight: 3,
            weightDefaulted: false,
            endpoints: [
              { address: '127.0.0.1', port: 8080, healthStatus: 'UNKNOWN', weight: 1, hostname: '' },
              { address: '::1', port: 8081, healthStatus: 'DRAINING', weight: 5, hostname: '' },
            ],
          },
          {
            locality: { region: 'eu', zone: 'eu-b', subZone: '' },
            priority: 1,
            loadBalancingWeight: 1,
            weightDefaulted: true,
            endpoints: [
              { address: '127.0.1.1', port: 9090, healthStatus: 'HEALTHY', weight: 1, hostname: '' },
            ],
          },
        ],
        overprovisioningFactor: 200,
        dropOverloads: [{ category: 'throttle', dropPerMillion: 50_000 }],
      });
    });

    it('defaults the overprovisioning factor to 140 and accepts an empty assignment', () => {
      const value = expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, cla([])), ctx));
      assert.equal(value.overprovisioningFactor, 140);
      assert.deepEqual(value.localities, []);
    });

    const L = 'endpoints[0]';
    const E = `${L}.lb_endpoints[0]`;
    const one = (e: Record<string, unknown>): Record<string, unknown> =>
      cla([{ lb_endpoints: [e] }]);
    const invalid: { name: string; raw: Record<string, unknown>; path: string }[] = [
      { name: 'an assignment without cluster_name', raw: { endpoints: [] }, path: 'cluster_name' },
      {
        name: 'a hostname instead of an IP literal',
        raw: one(endpoint('inventory.local', 80)),
        path: `${E}.endpoint.address.socket_address.address`,
      },
      {
        name: 'port 0',
        raw: one(endpoint('127.0.0.1', 0)),
        path: `${E}.endpoint.address.socket_address.port_value`,
      },
      {
        name: 'a port above 65535',
        raw: one(endpoint('127.0.0.1', 70000)),
        path: `${E}.endpoint.address.socket_address.port_value`,
      },
      {
        name: 'a pipe address instead of a socket address',
        raw: one({ endpoint: { address: { pipe: { path: '/tmp/s' } } } }),
        path: `${E}.endpoint.address.socket_address`,
      },
      { name: 'a named endpoint', raw: one({ endpoint_name: 'ep' }), path: `${E}.endpoint` },
      {
        name: 'an endpoint weight of 0',
        raw: one(endpoint('127.0.0.1', 80, { load_balancing_weight: { value: 0 } })),
        path: `${E}.load_balancing_weight`,
      },
      {
        name: 'a locality weight of 0',
        raw: cla([{ load_balancing_weight: { value: 0 }, lb_endpoints: [] }]),
        path: `${L}.load_balancing_weight`,
      },
      {
        name: 'priorities that skip 0',
        raw: cla([{ priority: 1, lb_endpoints: [] }]),
        path: 'endpoints',
      },
      {
        name: 'priorities with a gap',
        raw: cla([
          { lb_endpoints: [] },
          { priority: 2, locality: { zone: 'b' }, lb_endpoints: [] },
        ]),
        path: 'endpoints',
      },
      {
        name: 'the same locality twice in one priority',
        raw: cla([{ locality: { zone: 'a' } }, { locality: { zone: 'a' } }]),
        path: 'endpoints[1].locality',
      },
      {
        name: 'an overprovisioning factor of 0',
        raw: cla([], { overprovisioning_factor: { value: 0 } }),
        path: 'policy.overprovisioning_factor',
      },
      {
        name: 'a drop overload without a category',
        raw: cla([], { drop_overloads: [{ drop_percentage: { numerator: 1 } }] }),
        path: 'policy.drop_overloads[0].category',
      },
    ];
    for (const { name, raw, path } of invalid) {
      it(`rejects ${name}`, () => {
        expectIssueAt(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, raw), ctx), path);
      });
    }

    it('accepts the same locality at two different priorities', () => {
      const raw = cla([{ locality: { zone: 'a' } }, { locality: { zone: 'a' }, priority: 1 }]);
      expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, raw), ctx));
    });
  });

  describe('isEqual', () => {
    it('is true for the same assignment and false when an endpoint changes health', () => {
      const a = expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, VALID), ctx));
      const b = expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, VALID), ctx));
      const changed = cla([
        {
          ...LOCALITY_A,
          lb_endpoints: [endpoint('127.0.0.1', 8080, { health_status: 'UNHEALTHY' })],
        },
        LOCALITY_B,
      ]);
      const c = expectOk(eds.decode(encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, changed), ctx));
      assert.equal(eds.isEqual(a, b), true);
      assert.equal(eds.isEqual(a, c), false);
    });
  });

  it('round-trips through decodeAny and encodeAny to an equal update', () => {
    const first = encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, VALID);
    const again = encode(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, ctx.protos.decodeAny(first));
    assert.ok(eds.isEqual(expectOk(eds.decode(first, ctx)), expectOk(eds.decode(again, ctx))));
  });
});
