// mergeRegisteredEndpoints + translateMesh: registered endpoints join a ServiceEntry's clusters
// next to its WorkloadEntries (subsets select them by label), or make an implicit service.
import assert from 'node:assert/strict';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from '@weft/xds-client';
import { loadConfigDir } from '../../src/config/load-config-dir.js';
import type { MeshModel } from '../../src/config/mesh-model.js';
import { mergeRegisteredEndpoints } from '../../src/registry/merge-registered-endpoints.js';
import type { RegistryEntry } from '../../src/registry/registered-endpoint.js';
import { translateMesh } from '../../src/translate/translate-mesh.js';
import { makeConfigDir, removeDir } from '../helpers/config-dir.js';
import { endpoint, INVENTORY_YAML } from './registry-fixtures.js';

let seq = 0;
function entry(overrides: Record<string, unknown> = {}): RegistryEntry {
  const e = endpoint(overrides);
  seq += 1;
  return { key: `1/${e.id}`, leaseId: 1, endpoint: e, seq, registeredAtMs: 0 };
}

/** `address:port` of every endpoint in each named cluster, for a weft client with no locality. */
function edsOf(model: MeshModel, clusters: readonly string[]): Record<string, string[]> {
  const { resources } = translateMesh(model, {
    kind: 'weft',
    locality: { region: '', zone: '', subZone: '' },
  });
  const out: Record<string, string[]> = {};
  for (const name of clusters) {
    const cla = resources.get(EDS)?.get(name) as
      | {
          endpoints: {
            lb_endpoints: {
              endpoint: { address: { socket_address: { address: string; port_value: number } } };
            }[];
          }[];
        }
      | undefined;
    out[name] = (cla?.endpoints ?? [])
      .flatMap((l) => l.lb_endpoints)
      .map(
        (e) =>
          `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
      )
      .sort();
  }
  return out;
}

describe('mergeRegisteredEndpoints', () => {
  let dir: string;
  let model: MeshModel;

  before(async () => {
    dir = await makeConfigDir({ 'inventory.yaml': INVENTORY_YAML });
    const loaded = await loadConfigDir(dir);
    assert.ok(loaded.ok);
    model = loaded.model;
  });

  after(async () => {
    await removeDir(dir);
  });

  it('returns the config model itself when nothing is registered', () => {
    assert.equal(mergeRegisteredEndpoints(model, []).model, model);
  });

  it('adds an HTTP registration to the HTTP port’s clusters, beside the WorkloadEntry, and to its subset', () => {
    const merged = mergeRegisteredEndpoints(model, [entry({ labels: { version: 'v2' } })]);
    assert.deepEqual(
      edsOf(merged.model, [
        'outbound|8080||inventory',
        'outbound|8080|v1|inventory',
        'outbound|8080|v2|inventory',
        'outbound|9090||inventory',
      ]),
      {
        'outbound|8080||inventory': ['127.0.0.1:41001', '127.0.0.2:8080'],
        'outbound|8080|v1|inventory': ['127.0.0.2:8080'],
        'outbound|8080|v2|inventory': ['127.0.0.1:41001'],
        'outbound|9090||inventory': ['127.0.0.2:9090'],
      },
    );
    assert.deepEqual(merged.placements.get('1/inv-1'), {
      served: true,
      servicePorts: [8080],
      implicitService: false,
      reason: '',
    });
    // The input model is untouched.
    assert.equal(model.services.get('inventory')?.endpoints.length, 1);
  });

  it('puts a GRPC registration on the GRPC port only, and honours an explicit service port', () => {
    const merged = mergeRegisteredEndpoints(model, [
      entry({ id: 'g', protocol: 'GRPC', port: 42001 }),
    ]);
    assert.deepEqual(
      edsOf(merged.model, ['outbound|8080||inventory', 'outbound|9090||inventory']),
      {
        'outbound|8080||inventory': ['127.0.0.2:8080'],
        'outbound|9090||inventory': ['127.0.0.1:42001', '127.0.0.2:9090'],
      },
    );
    const wrong = mergeRegisteredEndpoints(model, [entry({ id: 'w', service_port: 9090 })]);
    assert.equal(wrong.placements.get('1/w')?.served, false);
    assert.match(wrong.placements.get('1/w')?.reason ?? '', /no HTTP-compatible port 9090/);
  });

  it('does not serve a registration from another namespace than the ServiceEntry’s', () => {
    const merged = mergeRegisteredEndpoints(model, [entry({ id: 'x', namespace: 'other' })]);
    assert.equal(merged.placements.get('1/x')?.served, false);
    assert.match(merged.placements.get('1/x')?.reason ?? '', /namespace other/);
    assert.deepEqual(edsOf(merged.model, ['outbound|8080||inventory']), {
      'outbound|8080||inventory': ['127.0.0.2:8080'],
    });
  });

  it('creates an implicit service (listener, route, cluster) for a host no ServiceEntry declares', () => {
    const merged = mergeRegisteredEndpoints(model, [
      entry({ id: 'p1', service: 'payment', port: 43001, service_port: 7000 }),
      entry({ id: 'p2', service: 'payment', port: 43002, service_port: 7000 }),
      entry({ id: 'p3', service: 'payment', port: 43003, service_port: 7000, protocol: 'GRPC' }),
    ]);
    const payment = merged.model.services.get('payment');
    assert.deepEqual(payment?.ports, [{ number: 7000, name: 'http-7000', protocol: 'HTTP' }]);
    assert.equal(payment.location, 'MESH_INTERNAL');
    assert.ok(merged.model.destinationPolicies.has('payment'));
    assert.deepEqual(edsOf(merged.model, ['outbound|7000||payment']), {
      'outbound|7000||payment': ['127.0.0.1:43001', '127.0.0.1:43002'],
    });
    assert.equal(merged.placements.get('1/p3')?.served, false, 'port 7000 is already HTTP');
    assert.deepEqual([...merged.model.services.keys()], ['inventory', 'payment']);
    const { resources } = translateMesh(merged.model, {
      kind: 'grpc',
      locality: { region: '', zone: '', subZone: '' },
    });
    assert.ok([...resources.values()].some((byName) => byName.has('payment:7000')));
  });
});
