// Tests for the HTTP circuit breaker (cluster max_requests, max_connections, max_pending_requests,
// max_requests_per_connection): MeshDispatcher on a fake runtime against real loopback servers
// that hang on purpose.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { WeftError } from '@weft/xds-client';
import type { CircuitBreakersUpdate, Logger, RetryPolicyUpdate } from '@weft/xds-client';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import { fakeClock } from './helpers/fake-clock.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { startServer, type TestServer } from './helpers/http-servers.js';

const CLUSTER = 'outbound|80||inventory';

function breakers(overrides: Partial<CircuitBreakersUpdate>): CircuitBreakersUpdate {
  return {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    retryBudget: undefined,
    ...overrides,
  };
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

/** A few event-loop turns: undici reuses a keep-alive socket one turn after a response. */
async function idle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

function isOverflow(threshold: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof WeftError);
    assert.equal(err.code, 'WEFT_OVERFLOW');
    assert.equal(err.httpStatus, 503);
    assert.equal(err.responseFlag, 'UO');
    assert.ok(err.message.includes(CLUSTER), err.message);
    assert.ok(err.message.includes(threshold), err.message);
    return true;
  };
}

/** Records log lines by level. */
function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('MeshDispatcher circuit breaking', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let servers: TestServer[];
  let logger: ReturnType<typeof recordingLogger>;

  beforeEach(function () {
    runtime = new FakeMeshRuntime();
    logger = recordingLogger();
    dispatcher = new MeshDispatcher({ runtime, logger, random: () => 0.5 });
    servers = [];
  });

  afterEach(async function () {
    await dispatcher.destroy().catch(() => undefined);
    await Promise.all(servers.map((s) => s.close()));
  });

  /** A server that holds every response until `release()`; counts the connections it accepted. */
  async function hangingServer(): Promise<{
    server: TestServer;
    held: ServerResponse[];
    accepted: () => number;
    release: () => void;
  }> {
    const held: ServerResponse[] = [];
    let hanging = true;
    const server = await startServer('hang', (_req, res) => {
      if (hanging) held.push(res);
      else res.end('ok');
    });
    servers.push(server);
    let accepted = 0;
    server.server.on('connection', () => accepted++);
    return {
      server,
      held,
      accepted: () => accepted,
      release: () => {
        hanging = false;
        for (const res of held.splice(0)) res.end('ok');
      },
    };
  }

  function send(authority = 'inventory'): Promise<Dispatcher.ResponseData> {
    const p = request(`http://${authority}/`, { dispatcher });
    p.catch(() => undefined);
    return p;
  }

  it('fails a third concurrent request at once with 503 UO at max_requests 2; the first two complete', async function () {
    const hang = await hangingServer();
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({ maxRequests: 2 }),
      ports: () => [hang.server.port],
    });
    const first = send();
    const second = send();
    await until(() => hang.held.length === 2);
    await assert.rejects(send(), isOverflow('max_requests'));
    assert.equal(hang.server.received.length, 2, 'the overflowed request never reached the server');
    const stats = dispatcher.stats();
    assert.equal(stats.overflows, 1);
    assert.deepEqual(stats.clusters[CLUSTER], {
      active: 2,
      pending: 0,
      connections: 2,
      overflows: 1,
    });
    hang.release();
    assert.equal(await (await first).body.text(), 'ok');
    assert.equal(await (await second).body.text(), 'ok');
    // Load dropped: requests are admitted again.
    assert.equal(await (await send()).body.text(), 'ok');
    assert.equal(dispatcher.stats().clusters[CLUSTER]?.active, 0);
    assert.equal(dispatcher.stats().overflows, 1);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 1);
    assert.ok(logger.lines.some((l) => l.level === 'debug' && l.message.includes('overflow')));
  });

  it('queues at max_connections, bounded by max_pending_requests, and sends the queued request on the freed connection', async function () {
    const hang = await hangingServer();
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({ maxConnections: 1, maxPendingRequests: 1 }),
      ports: () => [hang.server.port],
    });
    const first = send();
    await until(() => hang.held.length === 1);
    const second = send();
    await until(() => dispatcher.stats().clusters[CLUSTER]?.pending === 1);
    await assert.rejects(send(), isOverflow('max_pending_requests'));
    assert.equal(hang.server.received.length, 1, 'the queued request waits for the connection');
    assert.deepEqual(dispatcher.stats().clusters[CLUSTER], {
      active: 2,
      pending: 1,
      connections: 1,
      overflows: 1,
    });
    hang.release();
    assert.equal(await (await first).body.text(), 'ok');
    assert.equal(await (await second).body.text(), 'ok');
    assert.equal(hang.accepted(), 1, 'both requests went over the one connection');
    assert.equal(dispatcher.stats().clusters[CLUSTER]?.pending, 0);
  });

  it('never opens more than max_connections under concurrent load; every queued request is served', async function () {
    const hang = await hangingServer();
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({ maxConnections: 2, maxPendingRequests: 100 }),
      ports: () => [hang.server.port],
    });
    const all = Array.from({ length: 10 }, () => send());
    await until(() => hang.held.length === 2);
    await until(() => dispatcher.stats().clusters[CLUSTER]?.pending === 8);
    assert.equal(hang.server.connections(), 2);
    hang.release();
    for (const r of await Promise.all(all)) assert.equal(await r.body.text(), 'ok');
    assert.equal(hang.accepted(), 2, 'queued requests reuse the two connections');
    assert.equal(hang.server.received.length, 10);
    assert.deepEqual(dispatcher.stats().clusters[CLUSTER], {
      active: 0,
      pending: 0,
      connections: 2,
      overflows: 0,
    });
  });

  it('takes a queued request out of the pending queue when its route timeout fires', async function () {
    const { fake, clock } = fakeClock();
    await dispatcher.destroy();
    dispatcher = new MeshDispatcher({ runtime, clock, logger });
    const hang = await hangingServer();
    const cb = breakers({ maxConnections: 1, maxPendingRequests: 1 });
    const ports = (): number[] => [hang.server.port];
    runtime.setRoute('inventory', { cluster: CLUSTER, timeoutMs: 0, circuitBreakers: cb, ports });
    runtime.setRoute('short', { cluster: CLUSTER, timeoutMs: 1000, circuitBreakers: cb, ports });
    const first = send();
    await until(() => hang.held.length === 1);
    const queued = send('short');
    await until(() => dispatcher.stats().clusters[CLUSTER]?.pending === 1);
    await fake.tickAsync(1000);
    await assert.rejects(
      queued,
      (err: unknown) => err instanceof WeftError && err.code === 'WEFT_TIMEOUT',
    );
    assert.deepEqual(dispatcher.stats().clusters[CLUSTER], {
      active: 1,
      pending: 0,
      connections: 1,
      overflows: 0,
    });
    hang.release();
    assert.equal(await (await first).body.text(), 'ok');
    await idle();
    assert.equal(hang.server.received.length, 1, 'the timed-out queued request was never sent');
  });

  it('makes a retry pass admission: a retry over max_requests fails UO', async function () {
    const { fake, clock } = fakeClock();
    await dispatcher.destroy();
    dispatcher = new MeshDispatcher({ runtime, clock, logger, random: () => 0.5 });
    let seen = 0;
    const held: ServerResponse[] = [];
    const s = await startServer('a', (_req, res) => {
      seen++;
      if (seen === 1) {
        res.statusCode = 503;
        res.end('busy');
      } else held.push(res);
    });
    servers.push(s);
    const retryPolicy: RetryPolicyUpdate = {
      retryOn: ['5xx'],
      numRetries: 2,
      perTryTimeoutMs: undefined,
      baseIntervalMs: 25,
      maxIntervalMs: 250,
      retriableStatusCodes: [],
    };
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      timeoutMs: 0,
      retryPolicy,
      circuitBreakers: breakers({ maxRequests: 1 }),
      ports: () => [s.port],
    });
    const retried = send();
    await until(() => dispatcher.stats().retries === 1);
    // During the back-off the first request holds no slot: another request takes it.
    const other = send();
    await until(() => held.length === 1);
    await fake.tickAsync(300);
    await assert.rejects(retried, isOverflow('max_requests'));
    assert.equal(s.received.length, 2);
    for (const res of held) res.end('ok');
    assert.equal(await (await other).body.text(), 'ok');
    assert.equal(dispatcher.stats().overflows, 1);
  });

  it('opens a new connection after max_requests_per_connection requests', async function () {
    const s = await startServer('a');
    servers.push(s);
    let accepted = 0;
    s.server.on('connection', () => accepted++);
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({}),
      maxRequestsPerConnection: 2,
      ports: () => [s.port],
    });
    for (let i = 0; i < 5; i++) {
      assert.equal(await (await send()).body.text(), 'a');
      await idle();
    }
    assert.equal(s.received.length, 5);
    assert.equal(accepted, 3, '5 requests at 2 per connection need 3 connections');
  });

  it('opens a connection per request at max_requests_per_connection 1', async function () {
    const s = await startServer('a');
    servers.push(s);
    let accepted = 0;
    s.server.on('connection', () => accepted++);
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({}),
      maxRequestsPerConnection: 1,
      ports: () => [s.port],
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(await (await send()).body.text(), 'a');
      await idle();
    }
    assert.equal(accepted, 3);
  });

  it('keeps one connection for sequential requests without max_requests_per_connection', async function () {
    const s = await startServer('a');
    servers.push(s);
    let accepted = 0;
    s.server.on('connection', () => accepted++);
    runtime.setRoute('inventory', {
      cluster: CLUSTER,
      circuitBreakers: breakers({}),
      ports: () => [s.port],
    });
    for (let i = 0; i < 5; i++) {
      assert.equal(await (await send()).body.text(), 'a');
      await idle();
    }
    assert.equal(accepted, 1);
  });

  it("applies Envoy's default max_requests of 1024 when the cluster resource is not at hand", async function () {
    const hang = await hangingServer();
    runtime.setRoute('inventory', { cluster: CLUSTER, ports: () => [hang.server.port] });
    const first = send();
    await until(() => hang.held.length === 1);
    assert.equal(dispatcher.stats().clusters[CLUSTER]?.active, 1);
    hang.release();
    assert.equal(await (await first).body.text(), 'ok');
    assert.equal(dispatcher.stats().overflows, 0);
  });
});
