// Retries and timeouts of gRPC calls through installGrpcIntegration: the route's retry policy runs
// as grpc-js's own retry (gRFC A44) against real grpc-js servers that fail on purpose.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { credentials, status } from '@grpc/grpc-js';
import type { CircuitBreakersUpdate, RetryPolicyUpdate } from '@weft/xds-client';
import { silentLogger, systemClock } from '@weft/xds-client';
import { GrpcMeshChannel, grpcRetryPolicyOf } from '../../src/grpc/grpc-mesh-channel.js';
import type { GrpcMeshContext } from '../../src/grpc/grpc-mesh-context.js';
import {
  GRPC_CALL_DIAGNOSTICS_CHANNEL,
  installGrpcIntegration,
  type GrpcCallEvent,
  type GrpcIntegration,
} from '../../src/index.js';
import {
  callEcho,
  startTestEchoServer,
  TestEchoClient,
  type TestEchoServer,
} from './echo-server.js';
import { FakeMeshRuntime, fakeEndpoint } from './fake-mesh-runtime.js';

function policy(overrides: Partial<RetryPolicyUpdate>): RetryPolicyUpdate {
  return {
    retryOn: ['unavailable'],
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

describe('gRPC retries and timeouts', function () {
  this.timeout(20_000);
  let servers: TestEchoServer[] = [];
  let integrations: GrpcIntegration[] = [];
  let clients: InstanceType<typeof TestEchoClient>[] = [];

  const server = async (name: string): Promise<TestEchoServer> => {
    const s = await startTestEchoServer(name);
    servers.push(s);
    return s;
  };
  const install = (runtime: FakeMeshRuntime, logger = silentLogger): GrpcIntegration => {
    const i = installGrpcIntegration(runtime, { logger, clock: systemClock });
    integrations.push(i);
    return i;
  };
  const client = (target: string): InstanceType<typeof TestEchoClient> => {
    const c = new TestEchoClient(target, credentials.createInsecure());
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of clients) c.close();
    for (const i of integrations) i.uninstall();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    integrations = [];
    clients = [];
  });

  describe('grpcRetryPolicyOf', function () {
    it("maps the route's policy to a method-config retryPolicy (gRFC A44)", function () {
      assert.deepEqual(
        grpcRetryPolicyOf(policy({ retryOn: ['unavailable', 'cancelled', '5xx'], numRetries: 3 })),
        {
          maxAttempts: 4,
          initialBackoff: '0.025s',
          maxBackoff: '0.25s',
          backoffMultiplier: 2,
          retryableStatusCodes: [status.CANCELLED, status.UNAVAILABLE],
        },
      );
    });

    it('gives no policy without retries or without a gRPC condition', function () {
      assert.equal(grpcRetryPolicyOf(undefined), undefined);
      assert.equal(grpcRetryPolicyOf(policy({ numRetries: 0 })), undefined);
      assert.equal(grpcRetryPolicyOf(policy({ retryOn: ['5xx', 'reset'] })), undefined);
    });

    it('is built once per route policy by the channel and reused by every call', function () {
      // The cache never touches the context.
      const channel = new GrpcMeshChannel({} as GrpcMeshContext, 'echo');
      const routePolicy = policy({ retryOn: ['unavailable', 'cancelled'], numRetries: 3 });
      const first = channel.grpcRetryPolicy(routePolicy);
      assert.deepEqual(first, grpcRetryPolicyOf(routePolicy));
      assert.equal(channel.grpcRetryPolicy(routePolicy), first);
      // A new config (a new decoded object) gets its own.
      const updated = policy({ retryOn: ['unavailable'], numRetries: 1 });
      assert.equal(channel.grpcRetryPolicy(updated)?.maxAttempts, 2);
      assert.equal(channel.grpcRetryPolicy(routePolicy), first);
      // "No gRPC retry" is remembered too.
      const httpOnly = policy({ retryOn: ['5xx'] });
      assert.equal(channel.grpcRetryPolicy(httpOnly), undefined);
      assert.equal(channel.grpcRetryPolicy(httpOnly), undefined);
      assert.equal(channel.grpcRetryPolicy(undefined), undefined);
    });
  });

  it('retries on an endpoint not tried before and succeeds (retries 1 on the call event)', async () => {
    const a = await server('a');
    const b = await server('b');
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      retryPolicy: policy({ retryOn: ['resource-exhausted'] }),
    }));
    runtime.ordered = true; // always `a` first, unless excluded
    runtime.setCluster('default', [
      fakeEndpoint('default', a.port),
      fakeEndpoint('default', b.port),
    ]);
    const i = install(runtime);
    const c = client('xds:///echo');
    // Both subchannels READY first (the LB policy connects every endpoint).
    while (a.calls === 0) await callEcho(c);
    runtime.ordered = false;
    while (b.calls === 0) await callEcho(c);
    runtime.ordered = true;
    const before = { a: a.calls, b: b.calls };
    // RESOURCE_EXHAUSTED is an answer (the endpoint is healthy): only the retry's preference for
    // an untried endpoint moves the retry off `a`.
    a.failNextWith = status.RESOURCE_EXHAUSTED;
    a.failNext = 1;
    const events: GrpcCallEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as GrpcCallEvent);
    };
    diagnosticsChannel.subscribe(GRPC_CALL_DIAGNOSTICS_CHANNEL, onEvent);
    let result;
    try {
      result = await callEcho(c);
    } finally {
      diagnosticsChannel.unsubscribe(GRPC_CALL_DIAGNOSTICS_CHANNEL, onEvent);
    }
    assert.equal(result.backend, 'b');
    assert.equal(a.calls - before.a, 1);
    assert.equal(b.calls - before.b, 1);
    assert.equal(events.at(0)?.retries, 1);
    assert.equal(i.stats().retries, 1);
  });

  it('retries on the same endpoint when it is the only one', async () => {
    const a = await server('a');
    a.failNext = 2;
    const runtime = new FakeMeshRuntime(() => ({ cluster: 'default', retryPolicy: policy({}) }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const i = install(runtime);
    const result = await callEcho(client('xds:///echo'));
    assert.equal(result.backend, 'a');
    assert.equal(a.calls, 3);
    assert.equal(i.stats().retries, 2);
    assert.equal(i.stats().callsSucceeded, 1);
  });

  it('does not retry a status the policy does not name, nor on HTTP-only conditions', async () => {
    const a = await server('a');
    a.failWith = status.NOT_FOUND;
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      retryPolicy: policy({ retryOn: ['unavailable', '5xx', 'gateway-error'] }),
    }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const i = install(runtime);
    const c = client('xds:///echo');
    assert.equal((await callEcho(c)).code, status.NOT_FOUND);
    assert.equal(a.calls, 1);
    assert.equal(i.stats().retries, 0);
  });

  it('ends with the last UNAVAILABLE once the attempts are used up, counted', async () => {
    const a = await server('a');
    a.failWith = status.UNAVAILABLE;
    const runtime = new FakeMeshRuntime(() => ({ cluster: 'default', retryPolicy: policy({}) }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const i = install(runtime);
    const result = await callEcho(client('xds:///echo'));
    assert.equal(result.code, status.UNAVAILABLE);
    assert.equal(a.calls, 3);
    assert.equal(i.stats().retries, 2);
    assert.equal(i.stats().retriesExhausted, 1);
  });

  it("does not retry over the cluster's max_retries: the last status stands", async () => {
    const a = await server('a');
    a.failWith = status.UNAVAILABLE;
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      retryPolicy: policy({}),
      circuitBreakers: breakers(0),
    }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    const i = install(runtime);
    const result = await callEcho(client('xds:///echo'));
    assert.equal(result.code, status.UNAVAILABLE);
    assert.match(result.details ?? '', /a failing.*max_retries/);
    assert.equal(a.calls, 1);
    assert.equal(i.stats().retryBudgetExceeded, 1);
    assert.equal(i.stats().retries, 0);
  });

  it('ends every retry at the route timeout (5 retries of a hung call under 300 ms)', async () => {
    const a = await server('a');
    a.delayMs = 5_000;
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      timeoutMs: 300,
      retryPolicy: policy({ retryOn: ['unavailable', 'deadline-exceeded'], numRetries: 5 }),
    }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    install(runtime);
    const started = Date.now();
    const result = await callEcho(client('xds:///echo'), { deadlineMs: 10_000 });
    const tookMs = Date.now() - started;
    assert.equal(result.code, status.DEADLINE_EXCEEDED);
    assert.ok(tookMs < 2_000, `took ${tookMs}ms`);
    assert.equal(a.calls, 1);
  });

  it('logs once per route that grpc-js cannot apply a per-try timeout', async () => {
    const a = await server('a');
    const warnings: { message: string; fields: unknown }[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string, fields?: unknown) => {
        warnings.push({ message, fields });
      },
    };
    const runtime = new FakeMeshRuntime(() => ({
      cluster: 'default',
      retryPolicy: policy({ perTryTimeoutMs: 100 }),
    }));
    runtime.setCluster('default', [fakeEndpoint('default', a.port)]);
    install(runtime, logger);
    const c = client('xds:///echo');
    await callEcho(c);
    await callEcho(c);
    assert.equal(warnings.length, 1);
    assert.match(JSON.stringify(warnings[0]?.fields), /100ms not applied/);
  });
});
