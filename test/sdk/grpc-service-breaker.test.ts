// End to end: the service-level breaker (opossum) of a gRPC cluster served by a real `weft
// control-plane` process, against a grpc-js backend that answers UNAVAILABLE on purpose. The
// stock grpc-js client on xds:/// sees the breaker open (calls fail fast, the server receives
// nothing), a per-call `mesh.grpcFallback()` interceptor answers, and a good half-open probe
// closes it. Issue 4, "Service-level breaker with fallback".
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  credentials,
  status,
  type CallOptions,
  type Server,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import {
  BREAKER_CHANNEL,
  GRPC_BREAKER_KEY,
  type Mesh,
  type ServiceBreakerEvent,
  type ServiceBreakerState,
} from '@weft/sdk';
import {
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

const CLUSTER = 'outbound|9090||stock';
const RESET_TIMEOUT_MS = 2_000;

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  http:
    - route:
        - destination: { host: stock }
      timeout: 5s`;

type Outcome = { backend?: string; code?: number; details?: string; breaker?: string };

describe('sdk service breaker: grpc-js on xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let mesh: Mesh;
  let client: InstanceType<typeof EchoClient>;
  let failing = true;
  let received = 0;
  const waiters: { state: ServiceBreakerState; resolve: () => void }[] = [];
  const onEvent = (message: unknown): void => {
    const event = message as ServiceBreakerEvent;
    if (event.clusterName !== CLUSTER) return;
    for (const w of waiters.splice(0)) {
      if (w.state === event.state) w.resolve();
      else waiters.push(w);
    }
  };
  const nextState = (state: ServiceBreakerState): Promise<void> =>
    new Promise((resolve) => waiters.push({ state, resolve }));
  const breaker = () => mesh.stats().breakers[CLUSTER];

  const call = (options: CallOptions = {}): Promise<Outcome> =>
    new Promise((resolve) => {
      const unary = client.Call as (...args: unknown[]) => void;
      unary.call(
        client,
        { message: 'hi' },
        { deadline: Date.now() + 10_000, ...options },
        (err: ServiceError | null, res?: EchoResponse) => {
          if (err) {
            const marker = err.metadata.get(GRPC_BREAKER_KEY)[0];
            resolve({
              code: err.code,
              details: err.details,
              ...(marker === undefined ? {} : { breaker: String(marker) }),
            });
          } else resolve({ backend: res?.backend ?? '' });
        },
      );
    });

  before(async () => {
    const started = await startEchoServer(
      (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        received++;
        if (failing) cb({ code: status.UNAVAILABLE, details: 'sick' });
        else cb(null, { backend: 'stock-1', message: 'hi' });
      },
    );
    server = started.server;
    fixture = await startMeshFixture(
      'checkout-grpc-service-breaker',
      [
        staticServiceYaml({
          host: 'stock',
          port: 9090,
          protocol: 'GRPC',
          endpointPorts: [started.port],
        }),
        VIRTUAL_SERVICE,
      ].join('\n---\n'),
      {
        serviceBreaker: {
          volumeThreshold: 3,
          resetTimeoutMs: RESET_TIMEOUT_MS,
          rollingWindowMs: 60_000,
        },
      },
    );
    mesh = fixture.mesh;
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
    subscribe(BREAKER_CHANNEL, onEvent);
  });

  after(async () => {
    unsubscribe(BREAKER_CHANNEL, onEvent);
    client.close();
    await fixture.close();
    server.forceShutdown();
  });

  it('opens after 3 UNAVAILABLE calls; later calls fail fast without reaching the server', async () => {
    const opened = nextState('open');
    for (let i = 0; i < 3; i++) {
      const outcome = await call();
      assert.equal(outcome.code, status.UNAVAILABLE);
      assert.equal(outcome.breaker, 'failure');
    }
    await opened;
    assert.equal(received, 3);
    const outcome = await call();
    assert.equal(outcome.code, status.UNAVAILABLE);
    assert.equal(outcome.breaker, 'open');
    assert.match(outcome.details ?? '', /WEFT_BREAKER_OPEN/);
    assert.equal(received, 3);
    assert.deepEqual(breaker(), {
      state: 'open',
      opens: 1,
      rejects: 1,
      fallbacks: 0,
      failures: 3,
      successes: 0,
    });
    assert.equal(mesh.stats().grpc.callsRejected, 1);
  });

  it('answers from the per-call grpcFallback interceptor while open', async () => {
    const methods: string[] = [];
    const fallback = mesh.grpcFallback((failed, method) => {
      methods.push(`${method} ${failed.metadata.get(GRPC_BREAKER_KEY)[0] as string}`);
      return { backend: 'fallback', message: 'hi' };
    });
    assert.deepEqual(await call({ interceptors: [fallback] }), { backend: 'fallback' });
    assert.deepEqual(methods, ['/weft.test.Echo/Call open']);
    assert.equal(received, 3);
    assert.equal(breaker()?.fallbacks, 1);
    // Without the interceptor the same call still fails fast.
    assert.equal((await call()).breaker, 'open');
  });

  it('closes after the reset timeout when the half-open probe succeeds', async () => {
    failing = false;
    await nextState('half-open');
    const closed = nextState('closed');
    assert.deepEqual(await call(), { backend: 'stock-1' });
    await closed;
    assert.deepEqual(await call(), { backend: 'stock-1' });
    assert.equal(received, 5);
    assert.equal(breaker()?.state, 'closed');
    assert.equal(breaker()?.successes, 2);
  });

  it('answers a call whose failure the closed breaker counted (trailer weft-breaker: failure)', async () => {
    failing = true;
    const seen: string[] = [];
    const fallback = mesh.grpcFallback((failed) => {
      seen.push(`${failed.code} ${failed.metadata.get(GRPC_BREAKER_KEY)[0] as string}`);
      return Promise.resolve({ backend: 'fallback', message: 'hi' });
    });
    assert.deepEqual(await call({ interceptors: [fallback] }), { backend: 'fallback' });
    assert.deepEqual(seen, [`${status.UNAVAILABLE} failure`]);
    assert.equal(received, 6);
    // 4 failures out of 9 requests in the window: still closed.
    assert.deepEqual(
      [breaker()?.state, breaker()?.failures, breaker()?.fallbacks],
      ['closed', 4, 2],
    );
  });

  it('rejects a fallback that is not a function', () => {
    assert.throws(
      () => mesh.grpcFallback(42 as never),
      (err: unknown) => (err as { code?: string }).code === 'WEFT_INVALID_CONFIG',
    );
  });
});
