import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FaultUpdate } from '@weft/xds-client';
import { request } from 'undici';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import type { HttpRequestEvent } from '../../src/http/http-request-event.js';
import { fakeClock } from './helpers/fake-clock.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { startServer, type TestServer } from './helpers/http-servers.js';

const M = 1_000_000;

function faultFilter(partial: Partial<FaultUpdate>) {
  const fault: FaultUpdate = {
    delay: undefined,
    abort: undefined,
    maxActiveFaults: undefined,
    ...partial,
  };
  return [{ kind: 'fault' as const, name: 'envoy.filters.http.fault', fault }];
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

describe('MeshDispatcher fault injection', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let server: TestServer;
  let fc: ReturnType<typeof fakeClock>;
  const events: HttpRequestEvent[] = [];
  const onEvent = (e: unknown): void => {
    events.push(e as HttpRequestEvent);
  };

  beforeEach(async function () {
    runtime = new FakeMeshRuntime();
    fc = fakeClock();
    dispatcher = new MeshDispatcher({ runtime, clock: fc.clock, random: () => 0 });
    server = await startServer('inventory');
    events.length = 0;
    subscribe('weft:sdk:request', onEvent);
  });

  afterEach(async function () {
    unsubscribe('weft:sdk:request', onEvent);
    await dispatcher.destroy().catch(() => undefined);
    await server.close();
  });

  function route(filters: ReturnType<typeof faultFilter>, timeoutMs?: number): void {
    runtime.setRoute('inventory', {
      cluster: 'inventory',
      timeoutMs,
      filters,
      ports: () => [server.port],
    });
  }

  it('holds the request for the delay on the mesh clock, then sends it (flag DI)', async () => {
    route(faultFilter({ delay: { kind: 'fixed', delayMs: 1000, percentagePerMillion: M } }));
    const pending = request('http://inventory/items', { dispatcher });
    await fc.fake.tickAsync(999);
    assert.equal(server.received.length, 0);
    await fc.fake.tickAsync(1);
    const res = await pending;
    assert.equal(await res.body.text(), 'inventory');
    assert.equal(server.received.length, 1);
    await until(() => events.length === 1);
    assert.equal(events[0]?.responseFlag, 'DI');
    assert.equal(dispatcher.stats().faultsDelayed, 1);
  });

  it('lets the caller abort during the delay; nothing is sent', async () => {
    route(faultFilter({ delay: { kind: 'fixed', delayMs: 1000, percentagePerMillion: M } }));
    const ac = new AbortController();
    const pending = request('http://inventory/items', { dispatcher, signal: ac.signal });
    await fc.fake.tickAsync(10);
    ac.abort();
    await assert.rejects(pending);
    await fc.fake.tickAsync(2000);
    assert.equal(server.received.length, 0);
  });

  it('aborts with the status of x-envoy-fault-abort-request (header_abort), flag FI', async () => {
    route(faultFilter({ abort: { kind: 'header', percentagePerMillion: M } }));
    const res = await request('http://inventory/items', {
      dispatcher,
      headers: { 'x-envoy-fault-abort-request': '429' },
    });
    assert.equal(res.statusCode, 429);
    assert.equal(await res.body.text(), 'fault filter abort');
    const plain = await request('http://inventory/items', { dispatcher });
    assert.equal(plain.statusCode, 200);
    await plain.body.text();
    assert.equal(server.received.length, 1);
    await until(() => events.length === 2);
    const aborted = events[0];
    assert.ok(aborted !== undefined);
    assert.equal(aborted.responseFlag, 'FI');
    assert.equal(aborted.outcome, 'fault-abort');
  });

  it('does not delay a second request while max_active_faults (1) delays are active', async () => {
    route(
      faultFilter({
        delay: { kind: 'fixed', delayMs: 1000, percentagePerMillion: M },
        maxActiveFaults: 1,
      }),
    );
    const first = request('http://inventory/a', { dispatcher });
    await fc.fake.tickAsync(1);
    const second = await request('http://inventory/b', { dispatcher });
    assert.equal(await second.body.text(), 'inventory');
    assert.equal(dispatcher.stats().faultsOverflowed, 1);
    await fc.fake.tickAsync(1000);
    await (await first).body.text();
    assert.deepEqual(
      server.received.map((r) => r.url),
      ['/b', '/a'],
    );
  });
});
