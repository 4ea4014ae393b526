import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { WeftError } from '@weft/xds-client';
import { fetch, request } from 'undici';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import type { HttpRequestEvent } from '../../src/http/http-request-event.js';
import { fakeClock } from './helpers/fake-clock.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { deadPort, startServer, type TestServer } from './helpers/http-servers.js';

describe('MeshDispatcher', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let servers: TestServer[];

  beforeEach(function () {
    runtime = new FakeMeshRuntime();
    dispatcher = new MeshDispatcher({ runtime });
    servers = [];
  });

  afterEach(async function () {
    await dispatcher.destroy().catch(() => undefined);
    await Promise.all(servers.map((s) => s.close()));
  });

  async function server(
    name: string,
    respond?: Parameters<typeof startServer>[1],
  ): Promise<TestServer> {
    const s = await startServer(name, respond);
    servers.push(s);
    return s;
  }

  describe('routing', function () {
    it('sends the request to the picked endpoint with Host set to the authority the caller used', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory:8080', {
        cluster: 'outbound|8080||inventory',
        ports: () => [v1.port],
      });
      const res = await request('http://inventory:8080/items/42?x=1', { dispatcher });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'v1');
      assert.equal(v1.received.at(0)?.host, 'inventory:8080');
      assert.equal(v1.received.at(0)?.url, '/items/42?x=1');
      assert.equal(runtime.inputs.at(0)?.authority, 'inventory:8080');
      assert.equal(runtime.inputs.at(0)?.path, '/items/42?x=1');
      assert.deepEqual(runtime.outcomes, [{ key: `127.0.0.1:${v1.port}`, outcome: 'success' }]);
    });

    it('adds one x-request-id to every header shape without touching the caller headers, and keeps the caller id', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      const record = { accept: 'text/plain' };
      const flat = ['accept', 'text/plain'];
      await (await request('http://inventory/', { dispatcher, headers: record })).body.text();
      await (await request('http://inventory/', { dispatcher, headers: flat })).body.text();
      await (await request('http://inventory/', { dispatcher })).body.text();
      await (
        await request('http://inventory/', { dispatcher, headers: { 'X-Request-Id': 'mine' } })
      ).body.text();
      const ids = v1.received.map((r) => r.headers['x-request-id']);
      for (const id of ids.slice(0, 3)) assert.match(String(id), /^[0-9a-f-]{36}$/);
      assert.equal(new Set(ids.slice(0, 3)).size, 3, 'a new id per request');
      assert.equal(ids[3], 'mine');
      assert.deepEqual(record, { accept: 'text/plain' });
      assert.deepEqual(flat, ['accept', 'text/plain']);
    });

    it('routes an origin without a port by the bare host (the default-port listener)', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', {
        cluster: 'outbound|8080||inventory',
        ports: () => [v1.port],
      });
      const res = await fetch('http://inventory/items', { dispatcher });
      assert.equal(await res.text(), 'v1');
      assert.equal(v1.received.at(0)?.host, 'inventory');
    });

    it('gives routing the request headers (fetch Headers and request() objects alike)', async function () {
      const v1 = await server('v1');
      const v2 = await server('v2');
      runtime.setRoute('inventory', {
        cluster: 'c',
        ports: (input) => [input.header('x-user-type') === 'premium' ? v2.port : v1.port],
      });
      const viaFetch = await fetch('http://inventory/', {
        dispatcher,
        headers: { 'X-User-Type': 'premium' },
      });
      assert.equal(await viaFetch.text(), 'v2');
      const viaRequest = await request('http://inventory/', {
        dispatcher,
        headers: { 'X-User-Type': 'premium' },
      });
      assert.equal(await viaRequest.body.text(), 'v2');
      const plain = await request('http://inventory/', { dispatcher });
      assert.equal(await plain.body.text(), 'v1');
    });

    it('keeps a Host header the caller set', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      const res = await request('http://inventory/', {
        dispatcher,
        headers: { host: 'custom.example' },
      });
      await res.body.text();
      assert.equal(v1.received.at(0)?.host, 'custom.example');
    });

    it('fails WEFT_NO_ROUTE (404, NR) when routing has no route, naming the listener', async function () {
      await assert.rejects(request('http://nowhere:8080/', { dispatcher }), (err: unknown) => {
        assert.ok(err instanceof WeftError);
        assert.equal(err.code, 'WEFT_NO_ROUTE');
        assert.equal(err.httpStatus, 404);
        assert.equal(err.responseFlag, 'NR');
        assert.match(err.message, /^listener nowhere:8080/);
        return true;
      });
    });

    it('rejects mesh.fetch-style calls as TypeError whose cause is the WeftError', async function () {
      await assert.rejects(fetch('http://nowhere/', { dispatcher }), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.ok(err.cause instanceof WeftError);
        assert.equal(err.cause.code, 'WEFT_NO_ROUTE');
        return true;
      });
    });

    it('fails WEFT_UNSUPPORTED for an https origin (the mesh applies TLS itself)', async function () {
      await assert.rejects(request('https://inventory/', { dispatcher }), {
        code: 'WEFT_UNSUPPORTED',
      });
    });

    it('waits for a listener whose config is pending, then routes', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      runtime.hold('inventory');
      const pending = request('http://inventory/', { dispatcher });
      await new Promise((r) => setImmediate(r));
      assert.equal(v1.received.length, 0);
      runtime.release('inventory');
      const res = await pending;
      assert.equal(await res.body.text(), 'v1');
    });

    it('fails WEFT_NO_HEALTHY_UPSTREAM (503, UH) when the cluster has no endpoint', async function () {
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [] });
      await assert.rejects(request('http://inventory/', { dispatcher }), {
        code: 'WEFT_NO_HEALTHY_UPSTREAM',
        httpStatus: 503,
        responseFlag: 'UH',
      });
    });
  });

  describe('connect failures', function () {
    it('moves a refused connection to the next endpoint within the same request: zero failed calls', async function () {
      const dead = await deadPort();
      const live = await server('west');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [dead, live.port] });
      for (let i = 0; i < 20; i++) {
        const res = await request('http://inventory/', { dispatcher });
        assert.equal(await res.body.text(), 'west');
      }
      assert.equal(live.received.length, 20);
      const stats = dispatcher.stats();
      assert.equal(stats.requests, 20);
      assert.equal(stats.failures, 0);
      assert.equal(stats.connectFailures, 20);
      assert.equal(stats.retriesToNextEndpoint, 20);
      assert.ok(
        runtime.outcomes.some(
          (o) => o.key === `127.0.0.1:${dead}` && o.outcome === 'connect-failure',
        ),
      );
      assert.ok(
        runtime.outcomes.every(
          (o) => o.outcome !== 'success' || o.key === `127.0.0.1:${live.port}`,
        ),
      );
    });

    it('sends a string body again to the next endpoint', async function () {
      const dead = await deadPort();
      const live = await server('west');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [dead, live.port] });
      const res = await request('http://inventory/orders', {
        dispatcher,
        method: 'POST',
        body: '{"n":1}',
      });
      assert.equal(await res.body.text(), 'west');
      assert.equal(live.received.at(0)?.body, '{"n":1}');
    });

    it('does not send a stream body again: the connect failure surfaces as WEFT_CONNECT_FAILURE', async function () {
      const dead = await deadPort();
      const live = await server('west');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [dead, live.port] });
      await assert.rejects(
        request('http://inventory/orders', {
          dispatcher,
          method: 'POST',
          body: Readable.from(['chunk-1', 'chunk-2']),
        }),
        (err: unknown) => {
          assert.ok(err instanceof WeftError);
          assert.equal(err.code, 'WEFT_CONNECT_FAILURE');
          assert.equal(err.responseFlag, 'UF');
          assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
          return true;
        },
      );
      assert.equal(live.received.length, 0);
    });

    it('fails WEFT_CONNECT_FAILURE (503, UF) naming the cluster when every endpoint refuses', async function () {
      const a = await deadPort();
      const b = await deadPort();
      runtime.setRoute('inventory', { cluster: 'outbound|8080||inventory', ports: () => [a, b] });
      await assert.rejects(request('http://inventory/', { dispatcher }), (err: unknown) => {
        assert.ok(err instanceof WeftError);
        assert.equal(err.code, 'WEFT_CONNECT_FAILURE');
        assert.equal(err.httpStatus, 503);
        assert.match(err.message, /^cluster outbound\|8080\|\|inventory: /);
        return true;
      });
      assert.equal(runtime.outcomes.filter((o) => o.outcome === 'connect-failure').length, 2);
    });
  });

  describe('outcomes', function () {
    it('passes a 5xx response through (no retry) and reports server-error', async function () {
      const v1 = await server('v1', (_req, res) => {
        res.statusCode = 503;
        res.end('busy');
      });
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      const res = await request('http://inventory/', { dispatcher });
      assert.equal(res.statusCode, 503);
      assert.equal(await res.body.text(), 'busy');
      assert.equal(v1.received.length, 1);
      assert.deepEqual(
        runtime.outcomes.map((o) => o.outcome),
        ['server-error'],
      );
    });

    it('reports a connection reset before the response as WEFT_UPSTREAM_RESET (UC)', async function () {
      const v1 = await server('v1', (req) => {
        req.socket.destroy();
      });
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      await assert.rejects(request('http://inventory/', { dispatcher }), {
        code: 'WEFT_UPSTREAM_RESET',
        responseFlag: 'UC',
      });
      assert.deepEqual(
        runtime.outcomes.map((o) => o.outcome),
        ['reset'],
      );
    });

    it('publishes one weft:sdk:request record per request', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', { cluster: 'outbound|80||inventory', ports: () => [v1.port] });
      const events: HttpRequestEvent[] = [];
      const onEvent = (message: unknown): void => {
        events.push(message as HttpRequestEvent);
      };
      subscribe('weft:sdk:request', onEvent);
      try {
        const res = await request('http://inventory/a', { dispatcher });
        await res.body.text();
        await assert.rejects(request('http://nowhere/', { dispatcher }));
      } finally {
        unsubscribe('weft:sdk:request', onEvent);
      }
      assert.equal(events.length, 2);
      assert.equal(events.at(0)?.cluster, 'outbound|80||inventory');
      assert.equal(events.at(0)?.endpoint, `127.0.0.1:${v1.port}`);
      assert.equal(events.at(0)?.outcome, 'success');
      assert.equal(events.at(0)?.statusCode, 200);
      assert.equal(typeof events.at(0)?.durationMs, 'number');
      assert.equal(events.at(1)?.outcome, 'no-route');
      assert.equal(events.at(1)?.responseFlag, 'NR');
    });
  });

  describe('timeout', function () {
    it('aborts the upstream request after the route timeout and fails WEFT_TIMEOUT (504, UT)', async function () {
      const { clock, fake } = fakeClock();
      await dispatcher.destroy();
      dispatcher = new MeshDispatcher({ runtime, clock });
      let upstreamClosed: Promise<unknown> | undefined;
      const hung = await server('hung', (_req, res) => {
        upstreamClosed = once(res, 'close');
      });
      runtime.setRoute('inventory', {
        cluster: 'outbound|80||inventory',
        timeoutMs: 2000,
        ports: () => [hung.port],
      });
      const pending = request('http://inventory/slow', { dispatcher });
      pending.catch(() => undefined);
      while (hung.received.length === 0) await new Promise((r) => setImmediate(r));
      await fake.tickAsync(1999);
      assert.equal(dispatcher.stats().timeouts, 0);
      await fake.tickAsync(1);
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof WeftError);
        assert.equal(err.code, 'WEFT_TIMEOUT');
        assert.equal(err.httpStatus, 504);
        assert.equal(err.responseFlag, 'UT');
        assert.match(err.message, /^cluster outbound\|80\|\|inventory: .*2000ms/);
        return true;
      });
      await upstreamClosed;
      assert.deepEqual(
        runtime.outcomes.map((o) => o.outcome),
        ['timeout'],
      );
    });

    it('applies no timeout when the route says 0', async function () {
      const { clock, fake } = fakeClock();
      await dispatcher.destroy();
      dispatcher = new MeshDispatcher({ runtime, clock });
      const v1 = await server('v1', (_req, res) => {
        setTimeout(() => res.end('late'), 20);
      });
      runtime.setRoute('inventory', { cluster: 'c', timeoutMs: 0, ports: () => [v1.port] });
      const pending = request('http://inventory/', { dispatcher });
      await fake.tickAsync(60 * 60 * 1000);
      const res = await pending;
      assert.equal(await res.body.text(), 'late');
    });
  });

  describe('lifecycle', function () {
    it('close() closes every pool and later requests fail WEFT_CLOSED', async function () {
      const v1 = await server('v1');
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [v1.port] });
      const res = await request('http://inventory/', { dispatcher });
      await res.body.text();
      assert.equal(dispatcher.stats().pools, 1);
      assert.equal(v1.connections(), 1);
      await dispatcher.close();
      assert.equal(dispatcher.stats().pools, 0);
      while (v1.connections() > 0) await new Promise((r) => setImmediate(r));
      await assert.rejects(request('http://inventory/', { dispatcher }), { code: 'WEFT_CLOSED' });
    });

    it('closes the pool of an endpoint that leaves the config', async function () {
      const v1 = await server('v1');
      const v2 = await server('v2');
      let ports = [v1.port];
      runtime.setRoute('inventory', { cluster: 'c', ports: () => ports });
      await (await request('http://inventory/', { dispatcher })).body.text();
      ports = [v2.port];
      await (await request('http://inventory/', { dispatcher })).body.text();
      assert.equal(dispatcher.stats().pools, 2);
      runtime.setRoute('inventory', { cluster: 'c', ports: () => ports }); // fires onUpdate
      assert.equal(dispatcher.stats().pools, 1);
      while (v1.connections() > 0) await new Promise((r) => setImmediate(r));
      assert.equal(v2.connections(), 1);
    });

    it('destroy() fails in-flight requests', async function () {
      const hung = await server('hung', () => undefined);
      runtime.setRoute('inventory', { cluster: 'c', ports: () => [hung.port] });
      const pending = request('http://inventory/', { dispatcher });
      while (hung.received.length === 0) await new Promise((r) => setImmediate(r));
      await dispatcher.destroy();
      await assert.rejects(pending);
      await assert.rejects(request('http://inventory/', { dispatcher }), {
        code: 'WEFT_DESTROYED',
      });
    });
  });
});
