// createRegistrar against a scripted in-process Registry gRPC server on loopback, with fake time:
// register/reject, heartbeats every TTL / 3, re-registration after the stream drops, deregister.
import assert from 'node:assert/strict';
import {
  Server,
  ServerCredentials,
  status as grpcStatus,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import FakeTimers from '@sinonjs/fake-timers';
import { loadXdsProtos, type Clock, type TimerHandle } from '@weft/xds-client';
import { createRegistrar, type Registrar } from '../../src/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw wire objects in tests
type Message = Record<string, any>;
type Call = ServerDuplexStream<Message, Message>;

/** A Registry server that records every request and answers register/deregister like the real one. */
class ScriptedRegistry {
  readonly server = new Server();
  readonly calls: Call[] = [];
  readonly requests: Message[] = [];
  /** Fields to reject, by registration id. */
  readonly reject = new Map<string, string>();
  port = 0;
  #listeners: (() => void)[] = [];

  async start(): Promise<void> {
    this.server.addService(loadXdsProtos().service('weft.registry.v1.Registry'), {
      Register: (call: Call) => {
        this.calls.push(call);
        call.on('data', (m: Message) => {
          this.requests.push(m);
          if (m.register !== undefined) {
            const field = this.reject.get(m.register.id);
            call.write(
              field === undefined
                ? { registered: { id: m.register.id, lease_ttl_ms: 3000 } }
                : { rejected: { id: m.register.id, field, message: `${field}: bad` } },
            );
          }
          if (m.deregister !== undefined) call.write({ deregistered: { id: m.deregister.id } });
          for (const l of this.#listeners.splice(0)) l();
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
        if (err === null) resolve(port);
        else reject(err);
      });
    });
  }

  /** Resolves once `count` requests of kind `kind` have arrived. */
  async waitFor(kind: 'register' | 'deregister' | 'heartbeat', count: number): Promise<void> {
    while (this.requests.filter((r) => r.request === kind).length < count)
      await new Promise<void>((resolve) => this.#listeners.push(resolve));
  }

  count(kind: string): number {
    return this.requests.filter((r) => r.request === kind).length;
  }
}

function fakeClock(): { fake: ReturnType<typeof FakeTimers.createClock>; clock: Clock } {
  const fake = FakeTimers.createClock();
  return {
    fake,
    clock: {
      now: () => fake.now,
      setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
      clearTimeout: (h) => {
        fake.clearTimeout(h as never);
      },
    },
  };
}

describe('createRegistrar', () => {
  let server: ScriptedRegistry;
  let registrar: Registrar;
  let time: ReturnType<typeof fakeClock>;

  beforeEach(async () => {
    server = new ScriptedRegistry();
    await server.start();
    time = fakeClock();
    registrar = createRegistrar({
      controlPlaneAddress: `127.0.0.1:${server.port}`,
      clock: time.clock,
      node: { id: 'inv-1', namespace: 'shop', locality: { region: 'r1', zone: 'z1' } },
      backoff: { initialMs: 100, maxMs: 100, jitter: 0 },
    });
  });

  afterEach(async () => {
    await registrar.close();
    server.server.forceShutdown();
  });

  it('sends the endpoint with the node defaults and resolves when it is registered', async () => {
    const registration = await registrar.register({
      service: 'inventory',
      port: 41001,
      servicePort: 8080,
      labels: { version: 'v2' },
    });
    assert.equal(registration.leaseTtlMs, 3000);
    assert.deepEqual(server.requests[0]?.register, {
      id: registration.id,
      service: 'inventory',
      namespace: 'shop',
      address: '127.0.0.1',
      port: 41001,
      protocol: 'HTTP',
      labels: { version: 'v2' },
      locality: { region: 'r1', zone: 'z1', sub_zone: '' },
      service_account: 'default',
      weight: 1,
      service_port: 8080,
      node_id: 'inv-1',
    });
  });

  it('rejects with a ConfigError naming the option the control plane refused', async () => {
    server.reject.set('inventory-41001-1', 'service_account');
    await assert.rejects(
      registrar.register({ service: 'inventory', port: 41001, serviceAccount: 'x' }),
      (err: { code: string; issues: { path: string }[] }) =>
        err.code === 'WEFT_INVALID_CONFIG' && err.issues[0]?.path === 'serviceAccount',
    );
  });

  it('refuses an unbound port locally, before connecting', async () => {
    await assert.rejects(
      registrar.register({ service: 'inventory', port: 0 }),
      (err: { code: string; issues: { path: string }[] }) =>
        err.code === 'WEFT_INVALID_CONFIG' && err.issues[0]?.path === 'port',
    );
    assert.equal(server.calls.length, 0);
  });

  it('heartbeats every lease TTL / 3', async () => {
    await registrar.register({ service: 'inventory', port: 41001 });
    for (let i = 1; i <= 3; i++) {
      await time.fake.tickAsync(1000);
      await server.waitFor('heartbeat', i);
    }
    assert.equal(server.count('heartbeat'), 3);
  });

  it('registers everything again on a new stream after the control plane drops the old one', async () => {
    await registrar.register({ service: 'inventory', port: 41001 });
    await registrar.register({ service: 'inventory', port: 41002, protocol: 'grpc' });
    server.calls[0]?.emit('error', { code: grpcStatus.UNAVAILABLE, details: 'lease expired' });
    // Wait for the client to see the stream end, then let the backoff (100 ms) fire.
    while (server.calls.length < 2) {
      await new Promise((r) => setTimeout(r, 10));
      await time.fake.tickAsync(100);
    }
    await server.waitFor('register', 4);
    assert.deepEqual(
      server.requests.filter((r) => r.request === 'register').map((r) => r.register.port),
      [41001, 41002, 41001, 41002],
    );
  });

  it('deregisters one registration at once on close(), and ends the stream when none is left', async () => {
    const a = await registrar.register({ service: 'inventory', port: 41001 });
    const b = await registrar.register({ service: 'inventory', port: 41002 });
    await a.close();
    assert.deepEqual(
      server.requests.filter((r) => r.request === 'deregister').map((r) => r.deregister.id),
      [a.id],
    );
    await a.close(); // idempotent
    assert.equal(server.count('deregister'), 1);
    const ended = new Promise((resolve) => server.calls[0]?.on('end', resolve));
    await b.close();
    await ended;
  });

  it('fails register() after close() with WEFT_CLOSED', async () => {
    await registrar.close();
    await assert.rejects(
      registrar.register({ service: 'inventory', port: 41001 }),
      (err: { code: string }) => err.code === 'WEFT_CLOSED',
    );
  });
});
