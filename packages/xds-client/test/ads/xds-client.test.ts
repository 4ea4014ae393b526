// XdsClient's public surface: option validation, lifecycle, cached delivery, diagnostics channels,
// and the connect timeout.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { ConfigError, WeftError } from '../../src/errors/weft-error.js';
import { loadXdsProtos } from '../../src/protos/xds-protos.js';
import { CLUSTER_TYPE_URL } from '../../src/protos/type-urls.js';
import { XdsClient } from '../../src/xds-client.js';
import type { XdsAckEvent } from '../../src/xds-client-events.js';
import { createAdsFixture, fakeClock, nextEvent, sotwResponse } from '../helpers/ads-fixture.js';
import type { AdsFixture } from '../helpers/ads-fixture.js';
import { RecordingWatcher } from '../helpers/recording-watcher.js';
import { ScriptedAdsServer } from '../helpers/scripted-ads-server.js';
import { testBootstrap } from '../helpers/test-bootstrap.js';
import { createTestResourceTypes } from '../helpers/test-resource-types.js';
import type { TestResource } from '../helpers/test-resource-types.js';

describe('XdsClient', () => {
  const types = createTestResourceTypes(loadXdsProtos());

  describe('constructor', () => {
    it('throws WEFT_INVALID_CONFIG when two types share a type URL', () => {
      assert.throws(
        () =>
          new XdsClient({
            bootstrap: testBootstrap(['127.0.0.1:1']),
            resourceTypes: [types.cds, types.eds, { ...types.cds }],
          }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'WEFT_INVALID_CONFIG' &&
          err.issues.at(0)?.path === 'resourceTypes[2]',
      );
    });

    it('throws WEFT_INVALID_CONFIG for a bootstrap without servers or a bad backoff', () => {
      assert.throws(
        () =>
          new XdsClient({
            bootstrap: testBootstrap([]),
            resourceTypes: [types.cds],
            backoff: { initialMs: 100, maxMs: 10 },
          }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.map((i) => i.path).join() === 'bootstrap.xdsServers,backoff.maxMs',
      );
    });
  });

  describe('watch', () => {
    let f: AdsFixture;
    afterEach(async () => {
      await f.close();
    });

    it('rejects a type that is not registered', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      assert.throws(
        () => f.client.watch({ ...types.cds }, 'a', new RecordingWatcher<TestResource>()),
        (err: unknown) => err instanceof WeftError && err.code === 'WEFT_INVALID_CONFIG',
      );
    });

    it('gives a new watcher of a cached resource the value asynchronously, without a new request', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const first = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', first);
      const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
      stream.send(sotwResponse(CLUSTER_TYPE_URL, '1', 'n1', [f.types.cds.build('a', 'v')]));
      await first.next();
      await f.server.nextRequest(CLUSTER_TYPE_URL); // ACK
      const second = new RecordingWatcher<TestResource>();
      f.client.watch(f.types.cds, 'a', second);
      assert.deepEqual(second.events, [], 'not synchronously');
      assert.deepEqual(await second.next(), {
        kind: 'changed',
        value: { name: 'a', payload: 'v' },
      });
      // The next request the server sees is the one for a new name: nothing was sent for 'a'.
      f.client.watch(f.types.cds, 'b', new RecordingWatcher());
      const next = await f.server.nextRequest(CLUSTER_TYPE_URL);
      assert.deepEqual(next.request['resource_names'], ['a', 'b']);
    });

    it('publishes ack on diagnostics_channel weft:xds:ack', async () => {
      f = await createAdsFixture({ transport: 'sotw' });
      const seen: XdsAckEvent[] = [];
      const listener = (message: unknown): void => {
        seen.push(message as XdsAckEvent);
      };
      subscribe('weft:xds:ack', listener);
      try {
        f.client.watch(f.types.cds, 'a', new RecordingWatcher());
        const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
        const ack = nextEvent(f.client, 'ack');
        stream.send(sotwResponse(CLUSTER_TYPE_URL, '9', 'n9', [f.types.cds.build('a', 'v')]));
        await ack;
        assert.equal(seen.length, 1);
        assert.equal(seen.at(0)?.version, '9');
        assert.equal(seen.at(0)?.server, f.server.address);
      } finally {
        unsubscribe('weft:xds:ack', listener);
      }
    });
  });

  describe('close', () => {
    it('ends the stream, and later calls fail with WEFT_CLOSED', async () => {
      const f = await createAdsFixture({ transport: 'delta' });
      try {
        f.client.watch(f.types.cds, 'a', new RecordingWatcher());
        const { stream } = await f.server.nextRequest(CLUSTER_TYPE_URL);
        await f.client.close();
        await stream.waitClosed();
        assert.equal(f.client.connected, false);
        const closed = (err: unknown): boolean =>
          err instanceof WeftError && err.code === 'WEFT_CLOSED';
        assert.throws(() => f.client.watch(f.types.cds, 'b', new RecordingWatcher()), closed);
        assert.throws(() => f.client.status(), closed);
        await f.client.close();
      } finally {
        await f.close();
      }
    });
  });

  describe('connect timeout', () => {
    it('counts a server that accepts TCP but never speaks as unreachable, and falls back', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((socket) => sockets.push(socket));
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const address = silent.address();
      assert.ok(address !== null && typeof address === 'object');
      const fallback = await ScriptedAdsServer.start();
      const { clock, fake } = fakeClock();
      const client = new XdsClient({
        bootstrap: testBootstrap([`127.0.0.1:${address.port}`, fallback.address]),
        resourceTypes: [types.cds],
        clock,
        connectTimeoutMs: 3000,
      });
      try {
        const accepted = once(silent, 'connection');
        const changed = nextEvent(client, 'server-changed');
        client.watch(types.cds, 'a', new RecordingWatcher());
        await accepted;
        await fake.tickAsync(3000);
        assert.equal((await changed).to, fallback.address);
        await fallback.nextRequest(CLUSTER_TYPE_URL);
      } finally {
        await client.close();
        await fallback.close();
        for (const s of sockets) s.destroy();
        silent.close();
      }
    });
  });
});
