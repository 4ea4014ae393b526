// The ACK/NACK and subscription rules of the xDS protocol document (XDS-NOTES rules 1-5, 9-11)
// for state-of-the-world ADS, through a real gRPC stream.
import assert from 'node:assert/strict';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '../../src/protos/type-urls.js';
import type { XdsNackEvent } from '../../src/xds-client-events.js';
import {
  createAdsFixture,
  fakeClock,
  nextEvent,
  resourceStatus,
  sotwResponse,
  typeStatus,
} from '../helpers/ads-fixture.js';
import type { AdsFixture } from '../helpers/ads-fixture.js';
import { RecordingWatcher, errorCode } from '../helpers/recording-watcher.js';
import { INVALID_PAYLOAD } from '../helpers/test-resource-types.js';
import type { TestResource } from '../helpers/test-resource-types.js';

/** The set member of a google.protobuf.Value, whatever case its field names use. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded protobuf objects are untyped here
function structValue(value: Record<string, any>): any {
  const key = Object.keys(value).find((k) => k !== 'kind');
  return key === undefined ? undefined : value[key];
}

describe('XdsClient over SotW ADS', () => {
  let f: AdsFixture;
  afterEach(async () => {
    await f.close();
  });

  describe('rule 1: node', () => {
    it('sends node only on the first request of a stream, built from the bootstrap', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      f.client.watch(f.types.cds, 'a', new RecordingWatcher());
      f.client.watch(f.types.lds, 'l', new RecordingWatcher());
      const first = await f.server.nextRequest();
      const second = await f.server.nextRequest();
      assert.equal(first.stream, second.stream);
      const node = first.request['node'];
      assert.equal(node.id, 'test-node');
      assert.equal(node.cluster, 'test-cluster');
      assert.deepEqual(node.locality, {
        region: 'eu-west',
        zone: 'eu-west-1a',
        sub_zone: 'rack-7',
      });
      assert.equal(node.user_agent_name, 'weft-test');
      assert.equal(node.user_agent_version, '0.0.0');
      assert.deepEqual(node.client_features, ['envoy.lb.does_not_support_overprovisioning']);
      const fields = node.metadata.fields;
      assert.equal(structValue(fields.WORKLOAD_NAME), 'checkout');
      assert.equal(structValue(fields.REPLICAS), 3);
      assert.equal(structValue(structValue(fields.LABELS).fields.app), 'checkout');
      assert.equal(second.request['node'], undefined);
    });
  });

  describe('rule 2: version per type', () => {
    it('tracks version_info per type URL and sends the last accepted one after a reconnect', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const cw = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', cw);
      f.client.watch(f.types.lds, 'l', new RecordingWatcher());
      const cdsReq = await f.server.nextRequest(CLUSTER_TYPE_URL);
      await f.server.nextRequest(LISTENER_TYPE_URL);
      const stream = cdsReq.stream;
      stream.send(sotwResponse(CLUSTER_TYPE_URL, 'c1', 'n1', [f.types.cds.build('a', 'x')]));
      stream.send(sotwResponse(LISTENER_TYPE_URL, 'l7', 'n2', [f.types.lds.build('l', 'x')]));
      const cdsAck = await f.server.nextRequest(CLUSTER_TYPE_URL);
      const ldsAck = await f.server.nextRequest(LISTENER_TYPE_URL);
      assert.equal(cdsAck.request['version_info'], 'c1');
      assert.equal(ldsAck.request['version_info'], 'l7');

      stream.kill();
      const again = await f.server.nextRequest(CLUSTER_TYPE_URL);
      const againLds = await f.server.nextRequest(LISTENER_TYPE_URL);
      assert.notEqual(again.stream, stream);
      assert.equal(again.request['version_info'], 'c1');
      assert.equal(again.request['response_nonce'], '');
      assert.equal(againLds.request['version_info'], 'l7');
      assert.ok(
        again.request['node'] ?? againLds.request['node'],
        'node is sent again on the new stream',
      );
    });
  });

  describe('rules 3-4: ACK', () => {
    it('ACKs with the response version and nonce and no error_detail, and notifies the watcher', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      const initial = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.deepEqual(initial.request['resource_names'], ['a']);
      assert.equal(initial.request['version_info'], '');
      assert.equal(initial.request['response_nonce'], '');
      const ack = nextEvent(f.client, 'ack');
      initial.stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '1', 'nonce-1', [f.types.cds.build('a', 'v1')]),
      );
      const reply = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(reply.request['version_info'], '1');
      assert.equal(reply.request['response_nonce'], 'nonce-1');
      assert.equal(reply.request['error_detail'], undefined);
      assert.deepEqual(reply.request['resource_names'], ['a']);
      assert.deepEqual(await w.next(), { kind: 'changed', value: { name: 'a', payload: 'v1' } });
      const event = await ack;
      assert.equal(event.version, '1');
      assert.equal(event.nonce, 'nonce-1');
      const status = f.client.status();
      assert.equal(status.transport, 'sotw');
      assert.equal(typeStatus(f.client, CLUSTER_TYPE_URL).version, '1');
      assert.equal(typeStatus(f.client, CLUSTER_TYPE_URL).acks, 1);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.state, 'ACKED');
      assert.ok(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.raw);
    });

    it('notifies no one when a response repeats an equal value', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [f.types.cds.build('a', 'v1')]));
      await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(sotwResponse(CLUSTER_TYPE_URL, '2', 'n2', [f.types.cds.build('a', 'v1')]));
      const ack2 = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(ack2.request['version_info'], '2');
      assert.deepEqual(w.values, [{ name: 'a', payload: 'v1' }]);
    });
  });

  describe('rule 5: NACK', () => {
    it('NACKs with the previous version, error_detail naming index and name, and applies the valid resources', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const a = new RecordingWatcher<TestResource>();
      const b = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', a);
      f.client.watch(f.types.cds, 'b', b);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      const nack = nextEvent(f.client, 'nack');
      stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [
          f.types.cds.build('a', 'v1'),
          f.types.cds.build('b', INVALID_PAYLOAD),
        ]),
      );
      const reply = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(reply.request['version_info'], '', 'no version accepted yet');
      assert.equal(reply.request['response_nonce'], 'n1');
      assert.equal(reply.request['error_detail'].code, 3);
      assert.equal(
        reply.request['error_detail'].message,
        'resource index 1 (b): payload: rejected by the test type',
      );
      assert.deepEqual(await a.next(), { kind: 'changed', value: { name: 'a', payload: 'v1' } });
      const bEvent = await b.next();
      assert.equal(bEvent.kind, 'resourceError');
      assert.equal(errorCode(bEvent), 'WEFT_INVALID_RESOURCE');
      const event: XdsNackEvent = await nack;
      assert.equal(event.rejectedVersion, '1');
      assert.equal(event.acceptedVersion, '');
      assert.deepEqual(event.resources, [
        { index: 1, name: 'b', message: 'payload: rejected by the test type' },
      ]);

      // Accept version 2, then NACK version 3: the NACK carries 2, and a's value stays in force.
      stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '2', 'n2', [
          f.types.cds.build('a', 'v2'),
          f.types.cds.build('b', 'v2'),
        ]),
      );
      assert.equal((await f.server.nextRequest(CLUSTER_TYPE_URL)).request['version_info'], '2');
      stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '3', 'n3', [
          f.types.cds.build('a', INVALID_PAYLOAD),
          f.types.cds.build('b', 'v3'),
        ]),
      );
      const nack3 = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(nack3.request['version_info'], '2');
      assert.equal(nack3.request['response_nonce'], 'n3');
      assert.match(nack3.request['error_detail'].message, /^resource index 0 \(a\): /);
      assert.deepEqual(await a.next(), { kind: 'changed', value: { name: 'a', payload: 'v2' } });
      const ambient = await a.next();
      assert.equal(ambient.kind, 'ambientError');
      assert.deepEqual(b.values.at(-1), { name: 'b', payload: 'v3' });
      const status = typeStatus(f.client, CLUSTER_TYPE_URL);
      assert.equal(status.version, '2');
      assert.equal(status.nacks, 2);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.state, 'NACKED');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.version, '2');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.error?.failedVersion, '3');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'b')?.state, 'ACKED');
    });

    it('NACKs a resource it cannot name by index alone', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      f.client.watch(f.types.cds, 'a', new RecordingWatcher());
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [f.types.cds.build(undefined, 'v1')]));
      const reply = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(reply.request['error_detail'].message, 'resource index 0: name: must be set');
    });
  });

  describe('rule 10: subscriptions', () => {
    it('ignores resources it did not ask for', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.eds, 'a', w);
      const { stream } = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      stream.send(
        sotwResponse(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '1', 'n1', [
          f.types.eds.build('x', INVALID_PAYLOAD),
          f.types.eds.build('a', 'v1'),
          f.types.eds.build('y', 'v1'),
        ]),
      );
      const reply = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      assert.equal(
        reply.request['error_detail'],
        undefined,
        'an unrequested invalid resource is not NACKed',
      );
      assert.equal(reply.request['version_info'], '1');
      assert.deepEqual(w.values, [{ name: 'a', payload: 'v1' }]);
      assert.deepEqual(
        Object.keys(typeStatus(f.client, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).resources),
        ['a'],
      );
    });

    it('sends the full name list with the current version and latest nonce when the subscription changes', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      f.client.watch(f.types.rds, 'r1', new RecordingWatcher());
      const { stream } = await f.server.nextRequest(ROUTE_CONFIGURATION_TYPE_URL);
      stream.send(
        sotwResponse(ROUTE_CONFIGURATION_TYPE_URL, '5', 'n5', [f.types.rds.build('r1', 'v')]),
      );
      await f.server.nextRequest(ROUTE_CONFIGURATION_TYPE_URL);
      const cancel = f.client.watch(f.types.rds, 'r2', new RecordingWatcher());
      const grown = await f.server.nextRequest(ROUTE_CONFIGURATION_TYPE_URL);
      assert.deepEqual(grown.request['resource_names'], ['r1', 'r2']);
      assert.equal(grown.request['version_info'], '5');
      assert.equal(grown.request['response_nonce'], 'n5');
      cancel();
      const shrunk = await f.server.nextRequest(ROUTE_CONFIGURATION_TYPE_URL);
      assert.deepEqual(shrunk.request['resource_names'], ['r1']);
    });

    it('subscribes to every resource of a type with the wildcard name', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const all = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.lds, '*', all);
      const req = await f.server.nextRequest(LISTENER_TYPE_URL);
      assert.deepEqual(req.request['resource_names'], ['*']);
      req.stream.send(
        sotwResponse(LISTENER_TYPE_URL, '1', 'n1', [
          f.types.lds.build('l1', 'v'),
          f.types.lds.build('l2', 'v'),
        ]),
      );
      assert.deepEqual(await all.next(), { kind: 'changed', value: { name: 'l1', payload: 'v' } });
      assert.deepEqual(await all.next(), { kind: 'changed', value: { name: 'l2', payload: 'v' } });
      await f.server.nextRequest(LISTENER_TYPE_URL); // the ACK
      // A name watched besides the wildcard joins the list; the full-state rule still deletes.
      const one = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.lds, 'l2', one);
      assert.deepEqual(await one.next(), { kind: 'changed', value: { name: 'l2', payload: 'v' } });
      const grown = await f.server.nextRequest(LISTENER_TYPE_URL);
      assert.deepEqual(grown.request['resource_names'], ['*', 'l2']);
      req.stream.send(sotwResponse(LISTENER_TYPE_URL, '2', 'n2', [f.types.lds.build('l1', 'v')]));
      const gone = await one.next();
      assert.equal(errorCode(gone), 'WEFT_RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('rule 9: deletion by omission', () => {
    for (const [label, key, typeUrl] of [
      ['LDS', 'lds', LISTENER_TYPE_URL],
      ['CDS', 'cds', CLUSTER_TYPE_URL],
    ] as const) {
      it(`treats a ${label} resource missing from a response as deleted`, async () => {
        f = await createAdsFixture({ transport: 'sotw' });
        const type = f.types[key];
        const a = new RecordingWatcher<TestResource>();
        const b = new RecordingWatcher<TestResource>();
        f.client.watch(type, 'a', a);
        f.client.watch(type, 'b', b);
        const { stream } = await f.server.nextRequest(typeUrl);
        stream.send(sotwResponse(typeUrl, '1', 'n1', [type.build('a', 'v'), type.build('b', 'v')]));
        await b.next();
        stream.send(sotwResponse(typeUrl, '2', 'n2', [type.build('a', 'v')]));
        const deleted = await b.next();
        assert.equal(deleted.kind, 'resourceError');
        assert.equal(errorCode(deleted), 'WEFT_RESOURCE_DOES_NOT_EXIST');
        assert.equal(resourceStatus(f.client, typeUrl, 'b')?.state, 'DOES_NOT_EXIST');
        assert.deepEqual(a.values, [{ name: 'a', payload: 'v' }]);
      });
    }

    it('keeps a missing CDS resource when the server has ignore_resource_deletion (gRFC A53)', async () => {
      f = await createAdsFixture({
        transport: 'sotw',
        serverFeatures: ['ignore_resource_deletion'],
      });
      const b = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', new RecordingWatcher());
      f.client.watch(f.types.cds, 'b', b);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [
          f.types.cds.build('a', 'v'),
          f.types.cds.build('b', 'v'),
        ]),
      );
      await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(sotwResponse(CLUSTER_TYPE_URL, '2', 'n2', [f.types.cds.build('a', 'v')]));
      await f.server.nextRequest(CLUSTER_TYPE_URL); // the ACK: the response has been handled
      assert.deepEqual(b.events, [{ kind: 'changed', value: { name: 'b', payload: 'v' } }]);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'b')?.state, 'ACKED');
    });

    for (const [label, key, typeUrl] of [
      ['RDS', 'rds', ROUTE_CONFIGURATION_TYPE_URL],
      ['EDS', 'eds', CLUSTER_LOAD_ASSIGNMENT_TYPE_URL],
    ] as const) {
      it(`does not delete a ${label} resource left out of a response`, async () => {
        f = await createAdsFixture({ transport: 'sotw' });
        const type = f.types[key];
        const b = new RecordingWatcher<TestResource>();
        f.client.watch(type, 'a', new RecordingWatcher());
        f.client.watch(type, 'b', b);
        const { stream } = await f.server.nextRequest(typeUrl);
        stream.send(sotwResponse(typeUrl, '1', 'n1', [type.build('a', 'v'), type.build('b', 'v')]));
        await f.server.nextRequest(typeUrl);
        stream.send(sotwResponse(typeUrl, '2', 'n2', [type.build('a', 'v2')]));
        const ack = await f.server.nextRequest(typeUrl);
        assert.equal(ack.request['version_info'], '2');
        assert.deepEqual(b.events, [{ kind: 'changed', value: { name: 'b', payload: 'v' } }]);
      });
    }
  });

  describe('rule 11: does-not-exist timer', () => {
    it('reports a resource missing 15 s after the request went out, and delivers it if it comes later', async () => {
      const { clock, fake } = fakeClock();
      f = await createAdsFixture({ transport: 'sotw', clock });
      const w = new RecordingWatcher<TestResource>();
      const connected = nextEvent(f.client, 'connected');
      f.client.watch(f.types.cds, 'missing', w);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      await connected;
      await fake.tickAsync(14_999);
      assert.deepEqual(w.events, []);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'missing')?.state, 'REQUESTED');
      await fake.tickAsync(1);
      const event = await w.next();
      assert.equal(errorCode(event), 'WEFT_RESOURCE_DOES_NOT_EXIST');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'missing')?.state, 'DOES_NOT_EXIST');
      stream.send(
        sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [f.types.cds.build('missing', 'late')]),
      );
      assert.deepEqual(await w.next(), {
        kind: 'changed',
        value: { name: 'missing', payload: 'late' },
      });
    });

    it('does not fire for a resource that arrived in time', async () => {
      const { clock, fake } = fakeClock();
      f = await createAdsFixture({ transport: 'sotw', clock });
      const w = new RecordingWatcher<TestResource>();
      const connected = nextEvent(f.client, 'connected');
      f.client.watch(f.types.eds, 'e', w);
      const { stream } = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      await connected;
      await fake.tickAsync(10_000);
      stream.send(
        sotwResponse(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '1', 'n1', [f.types.eds.build('e', 'v')]),
      );
      await w.next();
      await fake.tickAsync(60_000);
      assert.deepEqual(w.events, [{ kind: 'changed', value: { name: 'e', payload: 'v' } }]);
    });
  });
});
