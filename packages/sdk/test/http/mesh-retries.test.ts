import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Readable } from 'node:stream';
import { WeftError } from '@weft/xds-client';
import type { CircuitBreakersUpdate, RetryPolicyUpdate } from '@weft/xds-client';
import { request } from 'undici';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import type { HttpRequestEvent } from '../../src/http/http-request-event.js';
import { fakeClock } from './helpers/fake-clock.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { deadPort, startServer, type TestServer } from './helpers/http-servers.js';

function policy(overrides: Partial<RetryPolicyUpdate>): RetryPolicyUpdate {
  return {
    retryOn: ['5xx'],
    numRetries: 2,
    perTryTimeoutMs: undefined,
    baseIntervalMs: 25,
    maxIntervalMs: 250,
    retriableStatusCodes: [],
    ...overrides,
  };
}

function breakers(maxRetries: number): CircuitBreakersUpdate {
  return {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries,
    retryBudget: undefined,
  };
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

describe('MeshDispatcher retries and timeouts', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let servers: TestServer[];

  beforeEach(function () {
    runtime = new FakeMeshRuntime();
    dispatcher = new MeshDispatcher({ runtime, random: () => 0.5 });
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

  /** A server answering `status` to its first `n` requests, then 200 `name`. */
  function failingFirst(name: string, n: number, status = 503): Promise<TestServer> {
    let seen = 0;
    return server(name, (_req, res) => {
      seen++;
      res.statusCode = seen <= n ? status : 200;
      res.end(seen <= n ? `${name} ${status}` : name);
    });
  }

  async function withFakeClock(random = 0): Promise<ReturnType<typeof fakeClock>> {
    const fc = fakeClock();
    await dispatcher.destroy();
    dispatcher = new MeshDispatcher({ runtime, clock: fc.clock, random: () => random });
    return fc;
  }

  it('retries a 503 on another endpoint and answers 200 (attempts 2 on the request record)', async function () {
    const a = await failingFirst('a', 1);
    const b = await server('b');
    runtime.setRoute('inventory', {
      cluster: 'outbound|80||inventory',
      retryPolicy: policy({ retryOn: ['gateway-error'] }),
      ports: () => [a.port, b.port],
    });
    const events: HttpRequestEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as HttpRequestEvent);
    };
    subscribe('weft:sdk:request', onEvent);
    try {
      const res = await request('http://inventory/', { dispatcher });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'b');
    } finally {
      unsubscribe('weft:sdk:request', onEvent);
    }
    assert.equal(a.received.length, 1);
    assert.equal(b.received.length, 1, 'the retry prefers the endpoint not tried before');
    assert.equal(events.at(0)?.attempts, 2);
    assert.equal(events.at(0)?.retries, 1);
    assert.equal(events.at(0)?.outcome, 'success');
    assert.deepEqual(
      runtime.outcomes.map((o) => o.outcome),
      ['server-error', 'success'],
    );
    assert.equal(dispatcher.stats().retries, 1);
    assert.equal(dispatcher.stats().failures, 0);
  });

  it('falls back to an endpoint already tried when every endpoint was', async function () {
    const a = await failingFirst('a', 1);
    runtime.setRoute('inventory', { cluster: 'c', retryPolicy: policy({}), ports: () => [a.port] });
    const res = await request('http://inventory/', { dispatcher });
    assert.equal(await res.body.text(), 'a');
    assert.equal(a.received.length, 2);
  });

  it('retries a connection reset before the response', async function () {
    let seen = 0;
    const a = await server('a', (req, res) => {
      if (++seen === 1) req.socket.destroy();
      else res.end('a');
    });
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({ retryOn: ['reset'] }),
      ports: () => [a.port],
    });
    const res = await request('http://inventory/', { dispatcher });
    assert.equal(await res.body.text(), 'a');
    assert.deepEqual(
      runtime.outcomes.map((o) => o.outcome),
      ['reset', 'success'],
    );
  });

  it('retries a retriable-status-codes and retriable-4xx answer', async function () {
    const a = await failingFirst('a', 1, 418);
    const b = await failingFirst('b', 1, 409);
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({
        retryOn: ['retriable-status-codes', 'retriable-4xx'],
        retriableStatusCodes: [418],
      }),
      ports: () => [a.port, b.port],
    });
    const res = await request('http://inventory/', { dispatcher });
    assert.equal(await res.body.text(), 'a');
    assert.equal(dispatcher.stats().retries, 2);
  });

  it('retries connect failures with back-off and fails WEFT_RETRIES_EXHAUSTED (URX) wrapping UF', async function () {
    const dead = await deadPort();
    runtime.setRoute('inventory', {
      cluster: 'outbound|80||inventory',
      retryPolicy: policy({ retryOn: ['connect-failure'], numRetries: 2 }),
      ports: () => [dead],
    });
    await assert.rejects(request('http://inventory/', { dispatcher }), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, 'WEFT_RETRIES_EXHAUSTED');
      assert.equal(err.responseFlag, 'URX');
      assert.equal(err.httpStatus, 503);
      assert.match(err.message, /^cluster outbound\|80\|\|inventory: retries exhausted/);
      assert.ok(err.cause instanceof WeftError);
      assert.equal(err.cause.code, 'WEFT_CONNECT_FAILURE');
      return true;
    });
    assert.equal(runtime.outcomes.filter((o) => o.outcome === 'connect-failure').length, 3);
    const stats = dispatcher.stats();
    assert.equal(stats.retries, 2);
    assert.equal(stats.retriesExhausted, 1);
  });

  it('fails WEFT_RETRIES_EXHAUSTED wrapping WEFT_UPSTREAM_RESET when every try is reset', async function () {
    const a = await server('a', (req) => {
      req.socket.destroy();
    });
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({ retryOn: ['5xx'], numRetries: 1 }),
      ports: () => [a.port],
    });
    await assert.rejects(request('http://inventory/', { dispatcher }), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, 'WEFT_RETRIES_EXHAUSTED');
      assert.equal((err.cause as WeftError).code, 'WEFT_UPSTREAM_RESET');
      return true;
    });
    assert.equal(a.received.length, 2);
  });

  it('does not retry a status the policy does not name (404)', async function () {
    const a = await failingFirst('a', 5, 404);
    const b = await server('b');
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({}),
      ports: () => [a.port, b.port],
    });
    const res = await request('http://inventory/', { dispatcher });
    assert.equal(res.statusCode, 404);
    await res.body.text();
    assert.equal(b.received.length, 0);
    assert.equal(dispatcher.stats().retries, 0);
  });

  it('returns the last 5xx response once retries are exhausted (like Envoy), counted', async function () {
    const a = await failingFirst('a', 99, 503);
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({ numRetries: 2 }),
      ports: () => [a.port],
    });
    const res = await request('http://inventory/', { dispatcher });
    assert.equal(res.statusCode, 503);
    assert.equal(await res.body.text(), 'a 503');
    assert.equal(a.received.length, 3);
    const stats = dispatcher.stats();
    assert.equal(stats.retries, 2);
    assert.equal(stats.retriesExhausted, 1);
  });

  it('does not send a streamed body twice: the first answer stands', async function () {
    const a = await failingFirst('a', 1, 503);
    runtime.setRoute('inventory', { cluster: 'c', retryPolicy: policy({}), ports: () => [a.port] });
    const res = await request('http://inventory/orders', {
      dispatcher,
      method: 'POST',
      body: Readable.from(['chunk-1', 'chunk-2']),
    });
    assert.equal(res.statusCode, 503);
    await res.body.text();
    assert.equal(a.received.length, 1);
    assert.equal(dispatcher.stats().retriesSkippedStreamedBody, 1);
  });

  it('sends a buffered body again on retry', async function () {
    const a = await failingFirst('a', 1, 503);
    runtime.setRoute('inventory', { cluster: 'c', retryPolicy: policy({}), ports: () => [a.port] });
    const res = await request('http://inventory/orders', {
      dispatcher,
      method: 'POST',
      body: Buffer.from('{"n":1}'),
    });
    assert.equal(await res.body.text(), 'a');
    assert.deepEqual(
      a.received.map((r) => r.body),
      ['{"n":1}', '{"n":1}'],
    );
  });

  it('waits a jittered back-off on the injected clock before retrying', async function () {
    const { clock, fake } = fakeClock();
    await dispatcher.destroy();
    dispatcher = new MeshDispatcher({ runtime, clock, random: () => 0.999 });
    const a = await failingFirst('a', 2, 503);
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({ numRetries: 2, baseIntervalMs: 100, maxIntervalMs: 150 }),
      ports: () => [a.port],
    });
    const pending = request('http://inventory/', { dispatcher });
    await until(() => a.received.length === 1 && dispatcher.stats().retries === 1);
    await fake.tickAsync(98); // first back-off: [0, 100) → 99
    assert.equal(a.received.length, 1);
    await fake.tickAsync(1);
    await until(() => a.received.length === 2 && dispatcher.stats().retries === 2);
    await fake.tickAsync(148); // second back-off: [0, min(200, 150)) → 149
    assert.equal(a.received.length, 2);
    await fake.tickAsync(1);
    const res = await pending;
    assert.equal(await res.body.text(), 'a');
  });

  it('stops at once when the caller aborts during the back-off', async function () {
    const { fake } = await withFakeClock(0.999);
    const a = await failingFirst('a', 1, 503);
    runtime.setRoute('inventory', { cluster: 'c', retryPolicy: policy({}), ports: () => [a.port] });
    const controller = new AbortController();
    const pending = request('http://inventory/', { dispatcher, signal: controller.signal });
    pending.catch(() => undefined);
    await until(() => dispatcher.stats().retries === 1);
    controller.abort();
    await assert.rejects(pending);
    await fake.tickAsync(1000);
    assert.equal(a.received.length, 1);
    assert.equal(dispatcher.stats().failures, 1);
  });

  it('moves a try that hits the per-try timeout to the next endpoint', async function () {
    const { fake } = await withFakeClock();
    const hung = await server('hung', () => undefined);
    const b = await server('b');
    runtime.setRoute('inventory', {
      cluster: 'c',
      timeoutMs: 10_000,
      retryPolicy: policy({ retryOn: ['gateway-error'], perTryTimeoutMs: 1000 }),
      ports: () => [hung.port, b.port],
    });
    const pending = request('http://inventory/', { dispatcher });
    await until(() => hung.received.length === 1);
    await fake.tickAsync(999);
    assert.equal(b.received.length, 0);
    await fake.tickAsync(1);
    await until(() => dispatcher.stats().perTryTimeouts === 1);
    await fake.tickAsync(1); // back-off: random 0 (fake-timers runs a 0 ms timer set in a tick 1 ms later)
    const res = await pending;
    assert.equal(await res.body.text(), 'b');
    assert.deepEqual(
      runtime.outcomes.map((o) => o.outcome),
      ['timeout', 'success'],
    );
  });

  it('fails WEFT_TIMEOUT (UT) at the per-try timeout when the policy does not retry timeouts', async function () {
    const { fake } = await withFakeClock();
    const hung = await server('hung', () => undefined);
    runtime.setRoute('inventory', {
      cluster: 'c',
      retryPolicy: policy({ retryOn: ['connect-failure'], perTryTimeoutMs: 500 }),
      ports: () => [hung.port],
    });
    const pending = request('http://inventory/', { dispatcher });
    pending.catch(() => undefined);
    await until(() => hung.received.length === 1);
    await fake.tickAsync(500);
    await assert.rejects(pending, { code: 'WEFT_TIMEOUT', responseFlag: 'UT' });
  });

  describe('the route timeout bounds every retry (Istio 5 × 30s trap)', function () {
    it('retries: 5 × perTryTimeout 30s with timeout 2s fails WEFT_TIMEOUT (UT) at 2s', async function () {
      const { fake } = await withFakeClock();
      const hung = await server('hung', () => undefined);
      runtime.setRoute('inventory', {
        cluster: 'outbound|80||inventory',
        timeoutMs: 2000,
        retryPolicy: policy({ retryOn: ['5xx', 'reset'], numRetries: 5, perTryTimeoutMs: 30_000 }),
        ports: () => [hung.port],
      });
      const pending = request('http://inventory/', { dispatcher });
      let settledAtMs: number | undefined;
      pending.then(
        () => (settledAtMs = fake.now),
        () => (settledAtMs = fake.now),
      );
      await until(() => hung.received.length === 1);
      await fake.tickAsync(1999);
      assert.equal(settledAtMs, undefined);
      await fake.tickAsync(1);
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof WeftError);
        assert.equal(err.code, 'WEFT_TIMEOUT');
        assert.equal(err.responseFlag, 'UT');
        assert.match(err.message, /timeout after 2000ms/);
        return true;
      });
      assert.equal(settledAtMs, 2000);
    });

    it('stops retrying short per-try timeouts at the route timeout, mid back-off or mid try', async function () {
      const { fake } = await withFakeClock();
      const hung = await server('hung', () => undefined);
      runtime.setRoute('inventory', {
        cluster: 'c',
        timeoutMs: 2000,
        retryPolicy: policy({ numRetries: 5, perTryTimeoutMs: 600 }),
        ports: () => [hung.port],
      });
      const pending = request('http://inventory/', { dispatcher });
      pending.catch(() => undefined);
      // Tries start at 0, 601, 1202 and 1803 (per-try timeout, then a 1 ms back-off each time).
      for (let n = 1; n <= 3; n++) {
        await until(() => hung.received.length === n);
        await fake.tickAsync(601);
      }
      await until(() => hung.received.length === 4);
      await fake.tickAsync(196);
      assert.equal(dispatcher.stats().timeouts, 0);
      await fake.tickAsync(1);
      await assert.rejects(pending, { code: 'WEFT_TIMEOUT', responseFlag: 'UT' });
      assert.equal(fake.now, 2000);
      const stats = dispatcher.stats();
      assert.equal(stats.perTryTimeouts, 3);
      assert.equal(stats.timeouts, 1);
      assert.equal(hung.received.length, 4);
    });
  });

  describe('retry budget (circuit breaker max_retries)', function () {
    it('does not retry over the cluster max_retries: the answer stands and is counted', async function () {
      const { fake } = await withFakeClock(0.5);
      const a = await failingFirst('a', 2, 503);
      runtime.setRoute('inventory', {
        cluster: 'c',
        retryPolicy: policy({ baseIntervalMs: 100, maxIntervalMs: 100 }),
        circuitBreakers: breakers(1),
        ports: () => [a.port],
      });
      const first = request('http://inventory/', { dispatcher });
      await until(() => dispatcher.stats().retries === 1); // holds the one retry slot, backing off
      const second = await request('http://inventory/', { dispatcher });
      assert.equal(second.statusCode, 503);
      await second.body.text();
      assert.equal(dispatcher.stats().retryBudgetExceeded, 1);
      await fake.tickAsync(50);
      const res = await first;
      assert.equal(res.statusCode, 200);
      await res.body.text();
      // The slot is free again.
      const third = await request('http://inventory/', { dispatcher });
      assert.equal(third.statusCode, 200);
      await third.body.text();
    });

    it("uses Envoy's default of 3 concurrent retries when the cluster resource is not at hand", async function () {
      const { fake } = await withFakeClock(0.5);
      const a = await failingFirst('a', 4, 503);
      runtime.setRoute('inventory', {
        cluster: 'c',
        retryPolicy: policy({ baseIntervalMs: 100, maxIntervalMs: 100 }),
        ports: () => [a.port],
      });
      const pending = [1, 2, 3, 4].map(() => request('http://inventory/', { dispatcher }));
      await until(() => a.received.length === 4);
      await until(() => dispatcher.stats().retries + dispatcher.stats().retryBudgetExceeded === 4);
      assert.equal(dispatcher.stats().retries, 3);
      assert.equal(dispatcher.stats().retryBudgetExceeded, 1);
      await fake.tickAsync(50);
      const statuses = await Promise.all(
        pending.map(async (p) => {
          const res = await p;
          await res.body.text();
          return res.statusCode;
        }),
      );
      assert.deepEqual(statuses.sort(), [200, 200, 200, 503]);
    });
  });
});
