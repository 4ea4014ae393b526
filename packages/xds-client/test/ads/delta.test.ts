// The ACK/NACK and subscription rules of the xDS protocol document (XDS-NOTES rules 1, 3-5, 10-14)
// for Delta (incremental) ADS, through a real gRPC stream.
import assert from 'node:assert/strict';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
} from '../../src/protos/type-urls.js';
import {
  createAdsFixture,
  deltaResponse,
  fakeClock,
  nextEvent,
  resourceStatus,
  typeStatus,
} from '../helpers/ads-fixture.js';
import type { AdsFixture } from '../helpers/ads-fixture.js';
import { RecordingWatcher, errorCode } from '../helpers/recording-watcher.js';
import { INVALID_PAYLOAD } from '../helpers/test-resource-types.js';
import type { TestResource } from '../helpers/test-resource-types.js';

describe('XdsClient over Delta ADS', () => {
  let f: AdsFixture;
  afterEach(async () => {
    await f.close();
  });

  it('picks Delta from the weft_delta server feature when no transport is given', async () => {
    f = await createAdsFixture({
      transport: 'delta',
      serverFeatures: ['weft_delta'],
      extra: { transport: undefined },
    });
    f.client.watch(f.types.cds, 'a', new RecordingWatcher());
    const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
    assert.equal(stream.kind, 'delta');
    assert.equal(f.client.status().transport, 'delta');
  });

  describe('rule 1: node', () => {
    it('sends node only on the first request of a stream', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      f.client.watch(f.types.cds, 'a', new RecordingWatcher());
      f.client.watch(f.types.lds, 'l', new RecordingWatcher());
      const first = await f.server.nextRequest();
      const second = await f.server.nextRequest();
      assert.equal(first.stream.kind, 'delta');
      assert.equal(first.request['node'].id, 'test-node');
      assert.equal(second.request['node'], undefined);
    });
  });

  describe('rule 12: subscribe and ACK/NACK by nonce', () => {
    it('subscribes with resource_names_subscribe and no response_nonce, then ACKs by nonce alone', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      const initial = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.deepEqual(initial.request['resource_names_subscribe'], ['a']);
      assert.equal(initial.request['response_nonce'] ?? '', '');
      assert.equal(initial.request['initial_resource_versions'], undefined);
      const ack = nextEvent(f.client, 'ack');
      initial.stream.send(
        deltaResponse(
          CLUSTER_TYPE_URL,
          'n1',
          [{ name: 'a', version: 'va1', body: f.types.cds.build('a', 'v1') }],
          [],
          'sys-1',
        ),
      );
      const reply = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(reply.request['response_nonce'], 'n1');
      assert.equal(reply.request['error_detail'], undefined);
      assert.deepEqual(reply.request['resource_names_subscribe'] ?? [], []);
      assert.deepEqual(await w.next(), { kind: 'changed', value: { name: 'a', payload: 'v1' } });
      assert.equal((await ack).version, 'sys-1');
      const status = typeStatus(f.client, CLUSTER_TYPE_URL);
      assert.equal(status.nonce, 'n1');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.version, 'va1');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.state, 'ACKED');
    });

    it('sends a spontaneous subscribe or unsubscribe without response_nonce', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      f.client.watch(f.types.eds, 'e1', new RecordingWatcher());
      const { stream } = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      stream.send(
        deltaResponse(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, 'n1', [
          { name: 'e1', version: '1', body: f.types.eds.build('e1', 'v') },
        ]),
      );
      await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      const cancel = f.client.watch(f.types.eds, 'e2', new RecordingWatcher());
      const sub = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      assert.deepEqual(sub.request['resource_names_subscribe'], ['e2']);
      assert.deepEqual(sub.request['resource_names_unsubscribe'] ?? [], []);
      assert.equal(sub.request['response_nonce'] ?? '', '');
      cancel();
      const unsub = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      assert.deepEqual(unsub.request['resource_names_unsubscribe'], ['e2']);
      assert.deepEqual(unsub.request['resource_names_subscribe'] ?? [], []);
      assert.equal(unsub.request['response_nonce'] ?? '', '');
    });

    it('NACKs with error_detail naming index and name, and still applies the valid resources', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const a = new RecordingWatcher<TestResource>();
      const b = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', a);
      f.client.watch(f.types.cds, 'b', b);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(
        deltaResponse(CLUSTER_TYPE_URL, 'n1', [
          { name: 'a', version: '1', body: f.types.cds.build('a', 'v1') },
          { name: 'b', version: '1', body: f.types.cds.build('b', INVALID_PAYLOAD) },
        ]),
      );
      const nack = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(nack.request['response_nonce'], 'n1');
      assert.equal(nack.request['error_detail'].code, 3);
      assert.equal(
        nack.request['error_detail'].message,
        'resource index 1 (b): payload: rejected by the test type',
      );
      assert.deepEqual(await a.next(), { kind: 'changed', value: { name: 'a', payload: 'v1' } });
      assert.equal((await b.next()).kind, 'resourceError');

      // An invalid update of a held resource keeps the old value in force: an ambient error.
      stream.send(
        deltaResponse(CLUSTER_TYPE_URL, 'n2', [
          { name: 'a', version: '2', body: f.types.cds.build('a', INVALID_PAYLOAD) },
        ]),
      );
      const nack2 = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.match(nack2.request['error_detail'].message, /^resource index 0 \(a\): /);
      assert.equal((await a.next()).kind, 'ambientError');
      const status = typeStatus(f.client, CLUSTER_TYPE_URL);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.state, 'NACKED');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.version, '1');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.error?.failedVersion, '2');
      assert.equal(status.nacks, 2);
    });
  });

  describe('rule 13: what the server says', () => {
    it('ignores resources it did not subscribe to', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(
        deltaResponse(CLUSTER_TYPE_URL, 'n1', [
          { name: 'zz', version: '1', body: f.types.cds.build('zz', INVALID_PAYLOAD) },
          { name: 'a', version: '1', body: f.types.cds.build('a', 'v') },
        ]),
      );
      const ack = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal(ack.request['error_detail'], undefined);
      assert.deepEqual(w.values, [{ name: 'a', payload: 'v' }]);
      assert.deepEqual(Object.keys(typeStatus(f.client, CLUSTER_TYPE_URL).resources), ['a']);
    });

    it('deletes a resource named in removed_resources', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.eds, 'e', w);
      const { stream } = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      stream.send(
        deltaResponse(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, 'n1', [
          { name: 'e', version: '1', body: f.types.eds.build('e', 'v') },
        ]),
      );
      await w.next();
      stream.send(deltaResponse(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, 'n2', [], ['e']));
      const gone = await w.next();
      assert.equal(errorCode(gone), 'WEFT_RESOURCE_DOES_NOT_EXIST');
      const ack = await f.server.nextRequest(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      assert.equal(ack.request['error_detail'], undefined);
    });

    it('treats a Resource with a name and no body as "does not exist"', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'ghost', w);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(deltaResponse(CLUSTER_TYPE_URL, 'n1', [{ name: 'ghost', version: '' }]));
      const event = await w.next();
      assert.equal(errorCode(event), 'WEFT_RESOURCE_DOES_NOT_EXIST');
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'ghost')?.state, 'DOES_NOT_EXIST');
    });

    it('subscribes to every resource of a type with the wildcard name', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const all = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.lds, '*', all);
      const req = await f.server.nextRequest(LISTENER_TYPE_URL);
      assert.deepEqual(req.request['resource_names_subscribe'], ['*']);
      req.stream.send(
        deltaResponse(LISTENER_TYPE_URL, 'n1', [
          { name: 'l1', version: '1', body: f.types.lds.build('l1', 'v') },
          { name: 'l2', version: '1', body: f.types.lds.build('l2', 'v') },
        ]),
      );
      assert.deepEqual(await all.next(), { kind: 'changed', value: { name: 'l1', payload: 'v' } });
      assert.deepEqual(await all.next(), { kind: 'changed', value: { name: 'l2', payload: 'v' } });
      req.stream.send(deltaResponse(LISTENER_TYPE_URL, 'n2', [], ['l1']));
      const removed = await all.next();
      assert.equal(errorCode(removed), 'WEFT_RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('rule 14: reconnect', () => {
    it('re-subscribes everything with initial_resource_versions on a new stream', async () => {
      f = await createAdsFixture({ transport: 'delta' });
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      f.client.watch(f.types.cds, 'b', new RecordingWatcher());
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(
        deltaResponse(CLUSTER_TYPE_URL, 'n1', [
          { name: 'a', version: 'ver-a', body: f.types.cds.build('a', 'v') },
        ]),
      );
      await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.kill();
      const again = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.notEqual(again.stream, stream);
      assert.ok(again.request['node'], 'node on the first request of the new stream');
      assert.deepEqual(again.request['resource_names_subscribe'], ['a', 'b']);
      assert.deepEqual(again.request['initial_resource_versions'], { a: 'ver-a' });
      assert.equal(again.request['response_nonce'] ?? '', '');
      assert.deepEqual(w.values, [{ name: 'a', payload: 'v' }]);
    });
  });

  describe('rule 11: does-not-exist timer', () => {
    it('reports a subscribed resource missing after the timeout', async () => {
      const { clock, fake } = fakeClock();
      f = await createAdsFixture({
        transport: 'delta',
        clock,
        extra: { resourceDoesNotExistTimeoutMs: 5000 },
      });
      const w = new RecordingWatcher<TestResource>();
      const connected = nextEvent(f.client, 'connected');
      f.client.watch(f.types.lds, 'l', w);
      await f.server.nextRequest(LISTENER_TYPE_URL);
      await connected;
      await fake.tickAsync(4999);
      assert.deepEqual(w.events, []);
      await fake.tickAsync(1);
      const event = await w.next();
      assert.equal(errorCode(event), 'WEFT_RESOURCE_DOES_NOT_EXIST');
    });
  });
});
