// End to end: the service-level breaker (opossum) of a cluster served by a real `weft
// control-plane` process, against a real HTTP server that answers 503 on purpose. The breaker
// opens after the volume threshold, fails fast (the server stops receiving requests), a fallback
// answers, a failed half-open probe re-opens it and a good probe closes it. Issue 4,
// "Service-level breaker with fallback".
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BREAKER_CHANNEL,
  ConfigError,
  createMesh,
  WeftError,
  type Mesh,
  type ServiceBreakerEvent,
  type ServiceBreakerState,
} from '@weft/sdk';
import { Response } from 'undici';
import {
  staticServiceYaml,
  startMeshFixture,
  type MeshFixture,
  listenOnLoopback,
} from '../helpers/sdk-fixtures.js';

const CLUSTER = 'outbound|8080||inventory';
/** Long enough that the steps between opening and the wait for half-open never see it expire. */
const RESET_TIMEOUT_MS = 2_000;

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      timeout: 5s
      retries: { attempts: 0 }`;

/** The failure a mesh.fetch rejected with (its WeftError cause). */
async function fetchError(mesh: Mesh, url: string): Promise<WeftError> {
  try {
    const res = await mesh.fetch(url);
    await res.text();
  } catch (err) {
    const cause = (err as Error).cause;
    assert.ok(cause instanceof WeftError, `expected a WeftError cause, got ${String(cause)}`);
    return cause;
  }
  assert.fail('expected mesh.fetch to reject');
}

describe('sdk service breaker: mesh.fetch against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let mesh: Mesh;
  let failing = true;
  let received = 0;
  const events: ServiceBreakerEvent[] = [];
  const waiters: { state: ServiceBreakerState; resolve: () => void }[] = [];
  const onEvent = (message: unknown): void => {
    const event = message as ServiceBreakerEvent;
    if (event.clusterName !== CLUSTER) return;
    events.push(event);
    for (const w of waiters.splice(0)) {
      if (w.state === event.state) w.resolve();
      else waiters.push(w);
    }
  };
  /** Resolves at the next event announcing `state` (generous timeout: the mocha test's). */
  const nextState = (state: ServiceBreakerState): Promise<void> =>
    new Promise((resolve) => waiters.push({ state, resolve }));
  const breaker = () => mesh.stats().breakers[CLUSTER];

  before(async () => {
    server = createServer((_req, res) => {
      received++;
      res.statusCode = failing ? 503 : 200;
      res.end(failing ? 'sick' : 'ok');
    });
    const port = await listenOnLoopback(server);
    // A port nothing listens on: every request to `ledger` fails to connect.
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    fixture = await startMeshFixture(
      'checkout-service-breaker',
      [
        staticServiceYaml({
          host: 'inventory',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [port],
        }),
        VIRTUAL_SERVICE,
        staticServiceYaml({
          host: 'ledger',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [deadPort],
        }),
      ].join('\n---\n'),
      {
        serviceBreaker: {
          errorThresholdPercentage: 50,
          volumeThreshold: 4,
          resetTimeoutMs: RESET_TIMEOUT_MS,
          rollingWindowMs: 60_000,
        },
      },
    );
    mesh = fixture.mesh;
    subscribe(BREAKER_CHANNEL, onEvent);
  });

  after(async () => {
    unsubscribe(BREAKER_CHANNEL, onEvent);
    await fixture.close();
    server.close();
  });

  it('stays closed below the volume threshold, then opens when the error rate passes 50 %', async () => {
    for (let i = 0; i < 3; i++) {
      // A 5xx response is an answer: it counts for the breaker but is not the fallback's.
      const res = await mesh.fetch('http://inventory:8080/items', {
        fallback: () => assert.fail('no fallback for a 503 response'),
      });
      assert.equal(res.status, 503);
      await res.text();
      assert.equal(breaker()?.state, 'closed');
    }
    const opened = nextState('open');
    const res = await mesh.fetch('http://inventory:8080/items');
    assert.equal(res.status, 503);
    await res.text();
    await opened;
    assert.deepEqual(breaker(), {
      state: 'open',
      opens: 1,
      rejects: 0,
      fallbacks: 0,
      failures: 4,
      successes: 0,
    });
    assert.equal(received, 4);
  });

  it('fails fast with WEFT_BREAKER_OPEN (503, UO) while open: the server receives nothing', async () => {
    for (let i = 0; i < 5; i++) {
      const err = await fetchError(mesh, 'http://inventory:8080/items');
      assert.equal(err.code, 'WEFT_BREAKER_OPEN');
      assert.equal(err.httpStatus, 503);
      assert.equal(err.responseFlag, 'UO');
    }
    assert.equal(received, 4);
    assert.equal(breaker()?.rejects, 5);
    assert.equal(mesh.stats().http.failures, 5);
  });

  it('answers from the fetch fallback while open', async () => {
    const seen: string[] = [];
    const res = await mesh.fetch('http://inventory:8080/items', {
      fallback: (err) => {
        seen.push(err.code);
        return new Response('cached', { status: 200 });
      },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'cached');
    assert.deepEqual(seen, ['WEFT_BREAKER_OPEN']);
    assert.equal(received, 4);
    assert.equal(breaker()?.fallbacks, 1);
  });

  it('lets one probe through after the reset timeout; a failed probe opens it again', async () => {
    await nextState('half-open');
    assert.equal(breaker()?.state, 'half-open');
    const reopened = nextState('open');
    const res = await mesh.fetch('http://inventory:8080/items');
    assert.equal(res.status, 503);
    await res.text();
    await reopened;
    assert.equal(received, 5);
    assert.equal(breaker()?.opens, 2);
    const err = await fetchError(mesh, 'http://inventory:8080/items');
    assert.equal(err.code, 'WEFT_BREAKER_OPEN');
    assert.equal(received, 5);
  });

  it('closes when the probe succeeds after the server recovers, and requests flow again', async () => {
    failing = false;
    await nextState('half-open');
    const closed = nextState('closed');
    const res = await mesh.fetch('http://inventory:8080/items');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    await closed;
    for (let i = 0; i < 3; i++) {
      const again = await mesh.fetch('http://inventory:8080/items');
      assert.equal(again.status, 200);
      await again.text();
    }
    assert.equal(received, 9);
    assert.equal(breaker()?.state, 'closed');
    assert.equal(breaker()?.successes, 4);
    assert.deepEqual(
      events.map((e) => e.state),
      ['open', 'half-open', 'open', 'half-open', 'closed'],
    );
  });

  it('runs the fallback for a mesh failure the breaker counts (connect failure) while closed', async () => {
    const seen: string[] = [];
    const res = await mesh.fetch('http://ledger:8080/balance', {
      fallback: (err) => {
        seen.push(err.code);
        return new Response('stale balance');
      },
    });
    assert.equal(await res.text(), 'stale balance');
    assert.equal(seen.length, 1);
    assert.ok(['WEFT_CONNECT_FAILURE', 'WEFT_RETRIES_EXHAUSTED'].includes(seen[0] ?? ''), seen[0]);
    const ledger = mesh.stats().breakers['outbound|8080||ledger'];
    assert.deepEqual(
      [ledger?.state, ledger?.failures, ledger?.fallbacks, ledger?.rejects],
      ['closed', 1, 1, 0],
    );
  });
});

describe('sdk service breaker: options', function () {
  this.timeout(20_000);

  it('rejects bad serviceBreaker options, naming each field', async () => {
    await assert.rejects(
      createMesh({
        controlPlane: '127.0.0.1:1',
        env: {},
        serviceBreaker: {
          errorThresholdPercentage: 0,
          resetTimeoutMs: -1,
          volumeThreshold: 1.5,
          rollingWindowMs: 1000,
          rollingWindowBuckets: 3,
          ...({ timeoutMs: 5 } as object),
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'WEFT_INVALID_CONFIG');
        assert.deepEqual(err.issues.map((i) => i.path).sort(), [
          'serviceBreaker.errorThresholdPercentage',
          'serviceBreaker.resetTimeoutMs',
          'serviceBreaker.rollingWindowBuckets',
          'serviceBreaker.timeoutMs',
          'serviceBreaker.volumeThreshold',
        ]);
        return true;
      },
    );
  });

  it('turns off with serviceBreaker: false (no breakers in stats)', async () => {
    const mesh = await createMesh({ controlPlane: '127.0.0.1:1', env: {}, serviceBreaker: false });
    try {
      assert.deepEqual(mesh.stats().breakers, {});
    } finally {
      await mesh.destroy();
    }
  });
});
