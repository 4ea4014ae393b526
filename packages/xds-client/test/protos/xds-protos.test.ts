// XdsProtos: service definitions built from the loaded root match what @grpc/proto-loader gives.
import assert from 'node:assert/strict';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadXdsProtos } from '../../src/protos/xds-protos.js';

const SERVICES = [
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
  'envoy.service.status.v3.ClientStatusDiscoveryService',
];

describe('XdsProtos', () => {
  describe('service', () => {
    for (const fullName of SERVICES) {
      it(`matches proto-loader's definition of ${fullName.split('.').pop() ?? ''}`, () => {
        const protos = loadXdsProtos();
        const ours = protos.service(fullName);
        const theirs = protos.packageDefinition[fullName] as ServiceDefinition | undefined;
        assert.ok(theirs);
        assert.deepEqual(Object.keys(ours), Object.keys(theirs));
        for (const [method, def] of Object.entries(ours)) {
          const ref: ServiceDefinition[string] | undefined = theirs[method];
          assert.ok(ref);
          assert.deepEqual(
            [def.path, def.requestStream, def.responseStream, def.originalName],
            [ref.path, ref.requestStream, ref.responseStream, ref.originalName],
          );
          const request = { node: { id: 'n', user_agent_name: 'weft' }, type_url: 'x' };
          const bytes = def.requestSerialize(request);
          assert.deepEqual(bytes, ref.requestSerialize(request));
          assert.deepEqual(def.requestDeserialize(bytes), ref.requestDeserialize(bytes));
        }
      });
    }

    it('throws for a service that is not loaded', () => {
      assert.throws(() => loadXdsProtos().service('no.such.Service'), /not loaded/);
    });
  });

  describe('serviceClient', () => {
    it('gives one client constructor per service with the methods of loadPackageDefinition', () => {
      const protos = loadXdsProtos();
      const fullName = SERVICES[0] ?? '';
      const Ctor = protos.serviceClient(fullName);
      assert.equal(protos.serviceClient(fullName), Ctor);
      assert.equal(typeof Ctor.prototype['StreamAggregatedResources'], 'function');
      assert.equal(typeof Ctor.prototype['deltaAggregatedResources'], 'function');
      assert.deepEqual(Object.keys(Ctor.service), Object.keys(protos.service(fullName)));
    });
  });
});
