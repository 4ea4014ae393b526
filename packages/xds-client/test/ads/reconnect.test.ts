// Reconnect with backoff after a server restart, and fallback down the bootstrap's server list
// (gRFC A57, A71), over real gRPC streams.
import assert from 'node:assert/strict';
import { CLUSTER_TYPE_URL } from '../../src/protos/type-urls.js';
import type { XdsTransport } from '../../src/xds-client-options.js';
import {
  createAdsFixture,
  deltaResponse,
  nextEvent,
  resourceStatus,
  sotwResponse,
} from '../helpers/ads-fixture.js';
import type { AdsFixture } from '../helpers/ads-fixture.js';
import { RecordingWatcher, errorCode } from '../helpers/recording-watcher.js';
import type { ScriptedStream } from '../helpers/scripted-ads-server.js';
import type { TestResource } from '../helpers/test-resource-types.js';

/** Sends cluster `name` with `payload` in the transport's shape. */
function sendCluster(
  f: AdsFixture,
  transport: XdsTransport,
  stream: ScriptedStream,
  nonce: string,
  name: string,
  payload: string,
): void {
  const body = f.types.cds.build(name, payload);
  stream.send(
    transport === 'sotw'
      ? sotwResponse(CLUSTER_TYPE_URL, nonce, nonce, [body])
      : deltaResponse(CLUSTER_TYPE_URL, nonce, [{ name, version: nonce, body }]),
  );
}

const ENDED = 'xds stream ended';

for (const transport of ['sotw', 'delta'] as const) {
  describe(`XdsClient reconnect and fallback (${transport})`, () => {
    let f: AdsFixture;
    afterEach(async () => {
      await f.close();
    });

    it('keeps serving the cache through a server restart, reports one ambient error, and sends no spurious update', async () => {
      f = await createAdsFixture({ transport });
      const w = new RecordingWatcher<TestResource>();
      const connected = nextEvent(f.client, 'connected');
      f.client.watch(f.types.cds, 'a', w);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.equal((await connected).server, f.server.address);
      sendCluster(f, transport, stream, 'v1', 'a', 'p1');
      assert.deepEqual(await w.next(), { kind: 'changed', value: { name: 'a', payload: 'p1' } });
      await f.server.nextRequest(CLUSTER_TYPE_URL); // ACK
      assert.equal(f.client.connected, true);

      const disconnected = nextEvent(f.client, 'disconnected');
      await f.server.stop();
      const down = await disconnected;
      assert.equal(down.error.code, 'WEFT_XDS_STREAM');
      assert.equal(f.client.connected, false);
      // Several failed attempts with backoff: still one ambient error, and the value stays.
      await f.logger.waitFor(ENDED, 4);
      const ambient = await w.next();
      assert.equal(errorCode(ambient), 'WEFT_XDS_STREAM');
      assert.deepEqual(w.unread(), []);
      assert.equal(resourceStatus(f.client, CLUSTER_TYPE_URL, 'a')?.state, 'ACKED');

      const reconnected = nextEvent(f.client, 'connected');
      await f.server.restart();
      const again = await f.server.nextRequest(CLUSTER_TYPE_URL);
      await reconnected;
      assert.equal(f.client.connected, true);
      if (transport === 'sotw') assert.equal(again.request['version_info'], 'v1');
      else assert.deepEqual(again.request['initial_resource_versions'], { a: 'v1' });
      // A SotW server re-sends everything; an identical value notifies no one.
      sendCluster(f, transport, again.stream, 'v1', 'a', 'p1');
      await f.server.nextRequest(CLUSTER_TYPE_URL);
      sendCluster(f, transport, again.stream, 'v2', 'a', 'p2');
      assert.deepEqual(await w.next(), { kind: 'changed', value: { name: 'a', payload: 'p2' } });
      assert.equal(w.events.filter((e) => e.kind === 'ambientError').length, 1);
    });

    it('falls back to the next server when the first is unreachable, and returns when it is back', async () => {
      f = await createAdsFixture({ transport, servers: 2 });
      const [primary, secondary] = f.servers as [AdsFixture['server'], AdsFixture['server']];
      await primary.stop();
      const w = new RecordingWatcher<TestResource>();
      const fellBack = nextEvent(f.client, 'server-changed');
      f.client.watch(f.types.cds, 'a', w);
      assert.deepEqual(await fellBack, {
        from: primary.address,
        to: secondary.address,
        reason: 'fallback',
      });
      const onSecondary = await secondary.nextRequest(CLUSTER_TYPE_URL);
      const unreachable = await w.next();
      assert.equal(errorCode(unreachable), 'WEFT_XDS_STREAM');
      sendCluster(f, transport, onSecondary.stream, 's1', 'a', 'from-secondary');
      assert.deepEqual(await w.next(), {
        kind: 'changed',
        value: { name: 'a', payload: 'from-secondary' },
      });
      assert.equal(f.client.status().server, secondary.address);
      assert.equal(f.client.connected, true);

      // The primary comes back: it gets a stream (retried with backoff) and takes over once it answers.
      const recovered = nextEvent(f.client, 'server-changed');
      await primary.restart();
      const onPrimary = await primary.nextRequest(CLUSTER_TYPE_URL);
      assert.ok(onPrimary.request['node']);
      assert.equal(
        f.client.status().server,
        secondary.address,
        'the fallback serves until the primary answers',
      );
      sendCluster(f, transport, onPrimary.stream, 'p1', 'a', 'from-primary');
      assert.deepEqual(await recovered, {
        from: secondary.address,
        to: primary.address,
        reason: 'recovered',
      });
      assert.deepEqual(await w.next(), {
        kind: 'changed',
        value: { name: 'a', payload: 'from-primary' },
      });
      await onSecondary.stream.waitClosed();
      assert.equal(f.client.status().server, primary.address);
      assert.equal(f.client.connected, true);
    });

    it('stays on the primary while everything watched is cached (gRFC A71)', async () => {
      f = await createAdsFixture({ transport, servers: 2 });
      const [primary, secondary] = f.servers as [AdsFixture['server'], AdsFixture['server']];
      const w = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', w);
      const { stream } = await primary.nextRequest(CLUSTER_TYPE_URL);
      sendCluster(f, transport, stream, 'v1', 'a', 'p1');
      await w.next();
      await primary.stop();
      await f.logger.waitFor(ENDED, 4);
      assert.equal(secondary.streams.length, 0);
      assert.equal(f.client.status().server, primary.address);
    });
  });
}
