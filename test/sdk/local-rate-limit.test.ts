// End to end: a `weft.dev/v1alpha1` LocalRateLimit served by a real `weft control-plane` process,
// enforced in the SDK's request path. Over the limit, mesh.fetch gets a 429 from the mesh (body
// `local_rate_limited`, x-ratelimit-* headers, flag RL) and the backend never sees the request;
// a grpc-js call on xds:/// fails RESOURCE_EXHAUSTED; after the fill interval requests pass again.
// Issue 4, rate limiting.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import {
  credentials,
  status,
  type ClientUnaryCall,
  type Metadata,
  type sendUnaryData,
  type Server as GrpcServer,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import { HTTP_REQUEST_CHANNEL, type HttpRequestEvent, type Mesh } from '@weft/sdk';
import { eventually } from '../helpers/processes.js';
import {
  echoCallOutcome,
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
  listenOnLoopback,
} from '../helpers/sdk-fixtures.js';

const LIMITS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - name: refill
      match: [{ uri: { prefix: /refill } }]
      route: [{ destination: { host: inventory } }]
    - name: rest
      route: [{ destination: { host: inventory } }]
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
  tokenBucket: { maxTokens: 5, fillInterval: 1h }
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: inventory-refill, namespace: default }
spec:
  host: inventory
  routes: [refill]
  tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillInterval: 1s }
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: stock, namespace: default }
spec:
  host: stock
  tokenBucket: { maxTokens: 5, fillInterval: 1h }`;

describe('sdk local rate limit: mesh.fetch and xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let grpcServer: GrpcServer;
  let received = 0;
  let grpcReceived = 0;
  let mesh: Mesh;
  let client: InstanceType<typeof EchoClient>;

  before(async () => {
    server = createServer((_req, res) => {
      received++;
      res.end('ok');
    });
    const port = await listenOnLoopback(server);
    let grpcPort: number;
    ({ server: grpcServer, port: grpcPort } = await startEchoServer(
      (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        grpcReceived++;
        cb(null, { backend: 'stock', message: 'hi' });
      },
    ));
    fixture = await startMeshFixture(
      'checkout-ratelimit',
      [
        staticServiceYaml({
          host: 'inventory',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [port],
        }),
        staticServiceYaml({
          host: 'stock',
          port: 9090,
          protocol: 'GRPC',
          endpointPorts: [grpcPort],
        }),
        LIMITS,
      ].join('\n---\n'),
      { admin: { port: 0 } },
    );
    mesh = fixture.mesh;
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await fixture.close();
    server.close();
    grpcServer.forceShutdown();
  });

  it('answers the 6th HTTP request with a 429 from the mesh (maxTokens 5), headers set, never sent upstream', async () => {
    const events: HttpRequestEvent[] = [];
    const onEvent = (e: unknown): void => {
      events.push(e as HttpRequestEvent);
    };
    subscribe(HTTP_REQUEST_CHANNEL, onEvent);
    try {
      for (let i = 1; i <= 5; i++) {
        const res = await mesh.fetch(`http://inventory:8080/items/${i}`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'ok');
        assert.equal(res.headers.get('x-ratelimit-limit'), '5');
        assert.equal(res.headers.get('x-ratelimit-remaining'), String(5 - i));
      }
      assert.equal(received, 5);
      const res = await mesh.fetch('http://inventory:8080/items/6');
      assert.equal(res.status, 429);
      assert.equal(await res.text(), 'local_rate_limited');
      assert.equal(res.headers.get('x-ratelimit-limit'), '5');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      const reset = Number(res.headers.get('x-ratelimit-reset'));
      assert.ok(reset > 0 && reset <= 3600, `x-ratelimit-reset ${reset}`);
      assert.equal(received, 5, 'the limited request never reached the server');
    } finally {
      unsubscribe(HTTP_REQUEST_CHANNEL, onEvent);
    }
    const last = events.at(-1);
    assert.equal(last?.outcome, 'rate-limited');
    assert.equal(last.responseFlag, 'RL');
    assert.equal(last.statusCode, 429);
    assert.equal(mesh.stats().http.rateLimited, 1);
    const scope = mesh.stats().localRateLimit.scopes.find((s) => s.scope.startsWith('vhost:'));
    assert.deepEqual([scope?.allowed, scope?.limited], [5, 1]);
    // The admin listener's Prometheus view carries the same counts.
    const text = await (await fetch(`${mesh.admin?.url ?? ''}/metrics`)).text();
    const line = (name: string): string | undefined =>
      text
        .split('\n')
        .find((l) => l.startsWith(`${name}{`) && l.includes(`scope="${scope?.scope}"`));
    assert.match(line('weft_sdk_local_rate_limit_allowed_total') ?? '', / 5$/);
    assert.match(line('weft_sdk_local_rate_limit_limited_total') ?? '', / 1$/);
  });

  it('limits the named route with its own bucket, and lets requests pass again after the fill interval', async () => {
    const before = received;
    assert.equal((await mesh.fetch('http://inventory:8080/refill/1')).status, 200);
    assert.equal((await mesh.fetch('http://inventory:8080/refill/2')).status, 200);
    const limited = await mesh.fetch('http://inventory:8080/refill/3');
    assert.equal(limited.status, 429);
    await limited.text();
    assert.equal(received - before, 2);
    // fillInterval 1s: wait (generously) for the next fill instead of assuming its timing.
    const passed = await eventually(
      async () => {
        const res = await mesh.fetch('http://inventory:8080/refill/again');
        await res.text();
        return res.status === 200 ? res : undefined;
      },
      15_000,
      'a request to pass after the fill interval',
    );
    assert.equal(passed.headers.get('x-ratelimit-limit'), '2');
    assert.equal(received - before, 3);
    // The host-wide bucket (1h) is still empty for the other routes.
    const res = await mesh.fetch('http://inventory:8080/items/7');
    assert.equal(res.status, 429);
    await res.text();
  });

  it('fails the 6th gRPC call with RESOURCE_EXHAUSTED without reaching the server', async () => {
    // The first call also shows the x-ratelimit-* response metadata of an allowed call.
    const first = await new Promise<Metadata>((resolve, reject) => {
      let headers: Metadata | undefined;
      const call = (client as unknown as Record<string, (...a: unknown[]) => ClientUnaryCall>)[
        'Call'
      ]!.call(client, { message: 'hi' }, { deadline: Date.now() + 10_000 }, (err: Error | null) => {
        if (err !== null) reject(err);
        else if (headers === undefined) reject(new Error('no response metadata'));
        else resolve(headers);
      });
      call.on('metadata', (m: Metadata) => {
        headers = m;
      });
    });
    assert.deepEqual(
      ['x-ratelimit-limit', 'x-ratelimit-remaining'].map((k) => first.get(k)),
      [['5'], ['4']],
    );
    for (let i = 2; i <= 5; i++)
      assert.deepEqual(await echoCallOutcome(client), { backend: 'stock' });
    assert.equal(grpcReceived, 5);
    assert.deepEqual(await echoCallOutcome(client), { code: status.RESOURCE_EXHAUSTED });
    assert.equal(grpcReceived, 5);
    assert.equal(mesh.stats().grpc.callsRateLimited, 1);
    const scope = mesh
      .stats()
      .localRateLimit.scopes.find((s) => s.statPrefix === 'local_rate_limit.stock');
    assert.deepEqual([scope?.allowed, scope?.limited], [5, 1]);
  });
});
