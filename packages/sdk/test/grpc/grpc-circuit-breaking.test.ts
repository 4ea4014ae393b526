// gRPC circuit breaking (gRFC A32): a cluster at its max_requests drops further calls UNAVAILABLE
// in the picker, counting calls from pick to end, against real grpc-js servers that hang.
import assert from 'node:assert/strict';
import { credentials, status } from '@grpc/grpc-js';
import type { CircuitBreakersUpdate, Logger } from '@weft/xds-client';
import { silentLogger, systemClock } from '@weft/xds-client';
import { installGrpcIntegration, type GrpcIntegration } from '../../src/index.js';
import {
  callEcho,
  startTestEchoServer,
  TestEchoClient,
  type TestEchoServer,
} from './echo-server.js';
import { FakeMeshRuntime, fakeEndpoint } from './fake-mesh-runtime.js';

function breakers(maxRequests: number): CircuitBreakersUpdate {
  return {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests,
    maxRetries: 3,
    retryBudget: undefined,
  };
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

describe('gRPC circuit breaking', function () {
  this.timeout(20_000);
  let servers: TestEchoServer[] = [];
  let integrations: GrpcIntegration[] = [];
  let clients: InstanceType<typeof TestEchoClient>[] = [];

  const install = (runtime: FakeMeshRuntime, logger: Logger = silentLogger): GrpcIntegration => {
    const i = installGrpcIntegration(runtime, { logger, clock: systemClock });
    integrations.push(i);
    return i;
  };

  afterEach(async () => {
    for (const s of servers) s.release();
    for (const c of clients) c.close();
    for (const i of integrations) i.uninstall();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    integrations = [];
    clients = [];
  });

  it('drops a third concurrent call UNAVAILABLE at max_requests 2; the first two complete', async () => {
    const a = await startTestEchoServer('a');
    servers.push(a);
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      circuitBreakers: breakers(2),
    }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const warnings: string[] = [];
    const i = install(runtime, { ...silentLogger, warn: (m) => warnings.push(m) });
    const c = new TestEchoClient('xds:///echo', credentials.createInsecure());
    clients.push(c);
    assert.equal((await callEcho(c)).backend, 'a'); // subchannel READY
    assert.equal(i.stats().clusters['default']?.active, 0);
    a.hold = true;
    const first = callEcho(c);
    const second = callEcho(c);
    await until(() => a.held.length === 2);
    const third = await callEcho(c);
    assert.equal(third.code, status.UNAVAILABLE);
    assert.match(third.details ?? '', /WEFT_OVERFLOW.*cluster default.*max_requests \(2\)/);
    assert.equal(a.calls, 3, 'the dropped call never reached the server');
    assert.equal(i.stats().overflows, 1);
    assert.deepEqual(i.stats().clusters['default'], {
      active: 2,
      pending: 0,
      connections: 0,
      overflows: 1,
    });
    a.release();
    assert.equal((await first).backend, 'a');
    assert.equal((await second).backend, 'a');
    // Load dropped: calls are admitted again.
    assert.equal((await callEcho(c)).backend, 'a');
    assert.equal(i.stats().clusters['default']?.active, 0);
    assert.equal(warnings.filter((w) => w.includes('overflow')).length, 1);
  });

  it('counts calls against the default max_requests (1024) when the cluster resource is not at hand', async () => {
    const a = await startTestEchoServer('a');
    servers.push(a);
    const runtime = new FakeMeshRuntime(() => ({ cluster: 'default' }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const i = install(runtime);
    const c = new TestEchoClient('xds:///echo', credentials.createInsecure());
    clients.push(c);
    await callEcho(c);
    a.hold = true;
    const calls = Array.from({ length: 5 }, () => callEcho(c));
    await until(() => a.held.length === 5);
    assert.equal(i.stats().clusters['default']?.active, 5);
    a.release();
    for (const r of await Promise.all(calls)) assert.equal(r.backend, 'a');
    assert.equal(i.stats().overflows, 0);
  });
});
