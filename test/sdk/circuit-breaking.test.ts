// End to end: DestinationRule `connectionPool` thresholds served by a real `weft control-plane`
// process, enforced by createMesh's HTTP and gRPC paths against loopback servers that hang on
// purpose: overflow fails fast (503 UO / UNAVAILABLE), later requests succeed once load drops,
// the pending queue is bounded, and maxRequestsPerConnection opens a new connection. Issue 4,
// circuit breaking.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  credentials,
  status,
  type sendUnaryData,
  type Server as GrpcServer,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import { WeftError, type Mesh } from '@weft/sdk';
import { request, type Dispatcher } from 'undici';
import {
  echoCallOutcome,
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

function rule(host: string, connectionPool: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec:
  host: ${host}
  trafficPolicy:
    connectionPool: ${connectionPool}`;
}

/** An HTTP server that holds responses while `hanging`; counts accepted connections. */
class HangingServer {
  readonly server: Server;
  readonly held: ServerResponse[] = [];
  hanging = false;
  received = 0;
  accepted = 0;

  constructor() {
    this.server = createServer((_req, res) => {
      this.received++;
      if (this.hanging) this.held.push(res);
      else res.end('ok');
    });
    this.server.on('connection', () => this.accepted++);
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  release(): void {
    this.hanging = false;
    for (const res of this.held.splice(0)) res.end('ok');
  }
}

async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function isOverflow(err: unknown): boolean {
  assert.ok(err instanceof WeftError, String(err));
  assert.equal(err.code, 'WEFT_OVERFLOW');
  assert.equal(err.httpStatus, 503);
  assert.equal(err.responseFlag, 'UO');
  return true;
}

describe('sdk circuit breaking: DestinationRule connectionPool against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let mesh: Mesh;
  const inventory = new HangingServer(); // http2MaxRequests: 2
  const ledger = new HangingServer(); // maxConnections: 1, http1MaxPendingRequests: 1
  const catalog = new HangingServer(); // maxRequestsPerConnection: 2
  let stock: GrpcServer; // gRPC, http2MaxRequests: 2
  const heldCalls: (() => void)[] = [];
  let holdCalls = false;
  let client: InstanceType<typeof EchoClient>;

  const send = (authority: string): Promise<Dispatcher.ResponseData> => {
    const p = request(`http://${authority}/`, { dispatcher: mesh.dispatcher });
    p.catch(() => undefined);
    return p;
  };

  before(async () => {
    const ports = await Promise.all([inventory.listen(), ledger.listen(), catalog.listen()]);
    let stockPort: number;
    ({ server: stock, port: stockPort } = await startEchoServer(
      (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        const answer = (): void => {
          cb(null, { backend: 'stock', message: 'hi' });
        };
        if (holdCalls) heldCalls.push(answer);
        else answer();
      },
    ));
    const http = (host: string, port: number | undefined): string =>
      staticServiceYaml({ host, port: 8080, protocol: 'HTTP', endpointPorts: [port ?? 0] });
    fixture = await startMeshFixture(
      'checkout-circuit-breaking',
      [
        http('inventory', ports[0]),
        rule('inventory', '{ http: { http2MaxRequests: 2 } }'),
        http('ledger', ports[1]),
        rule('ledger', '{ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }'),
        http('catalog', ports[2]),
        rule('catalog', '{ http: { maxRequestsPerConnection: 2 } }'),
        staticServiceYaml({
          host: 'stock',
          port: 9090,
          protocol: 'GRPC',
          endpointPorts: [stockPort],
        }),
        rule('stock', '{ http: { http2MaxRequests: 2 } }'),
      ].join('\n---\n'),
    );
    mesh = fixture.mesh;
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
  });

  after(async () => {
    client.close();
    for (const s of [inventory, ledger, catalog]) s.release();
    holdCalls = false;
    for (const answer of heldCalls.splice(0)) answer();
    await fixture.close();
    for (const s of [inventory, ledger, catalog]) s.server.close();
    stock.forceShutdown();
  });

  it('http2MaxRequests 2: a third concurrent request fails 503 UO at once; later ones succeed', async () => {
    assert.equal(await (await send('inventory:8080')).body.text(), 'ok'); // config in force
    inventory.hanging = true;
    const first = send('inventory:8080');
    const second = send('inventory:8080');
    await until(() => inventory.held.length === 2);
    await assert.rejects(send('inventory:8080'), isOverflow);
    // mesh.fetch: fetch semantics, the WeftError is the cause.
    await assert.rejects(mesh.fetch('http://inventory:8080/'), (err: unknown) =>
      isOverflow((err as Error).cause),
    );
    assert.equal(inventory.received, 3, 'overflowed requests never reach the server');
    const stats = mesh.stats().http;
    assert.equal(stats.overflows, 2);
    assert.equal(stats.clusters['outbound|8080||inventory']?.active, 2);
    inventory.release();
    assert.equal(await (await first).body.text(), 'ok');
    assert.equal(await (await second).body.text(), 'ok');
    for (let i = 0; i < 3; i++) {
      assert.equal(await (await send('inventory:8080')).body.text(), 'ok');
    }
    assert.equal(mesh.stats().http.clusters['outbound|8080||inventory']?.overflows, 2);
  });

  it('maxConnections 1 + http1MaxPendingRequests 1: one request waits, the next overflows', async () => {
    assert.equal(await (await send('ledger:8080')).body.text(), 'ok');
    ledger.hanging = true;
    const first = send('ledger:8080');
    await until(() => ledger.held.length === 1);
    const queued = send('ledger:8080');
    const cluster = (): unknown => mesh.stats().http.clusters['outbound|8080||ledger'];
    await until(() => (cluster() as { pending: number } | undefined)?.pending === 1);
    await assert.rejects(send('ledger:8080'), (err: unknown) => {
      isOverflow(err);
      assert.match((err as Error).message, /max_pending_requests/);
      return true;
    });
    assert.equal(ledger.received, 2, 'the queued request waits for the one connection');
    ledger.release();
    assert.equal(await (await first).body.text(), 'ok');
    assert.equal(await (await queued).body.text(), 'ok');
    assert.equal(ledger.accepted, 1, 'every request went over one connection');
    assert.deepEqual(cluster(), { active: 0, pending: 0, connections: 1, overflows: 1 });
  });

  it('maxRequestsPerConnection 2: the server sees a new connection every 2 requests', async () => {
    for (let i = 0; i < 6; i++) {
      assert.equal(await (await send('catalog:8080')).body.text(), 'ok');
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(catalog.received, 6);
    assert.equal(catalog.accepted, 3);
  });

  it('gRPC http2MaxRequests 2: a third concurrent call fails UNAVAILABLE; later ones succeed', async () => {
    assert.equal((await echoCallOutcome(client)).backend, 'stock');
    holdCalls = true;
    const first = echoCallOutcome(client);
    const second = echoCallOutcome(client);
    await until(() => heldCalls.length === 2);
    assert.equal((await echoCallOutcome(client)).code, status.UNAVAILABLE);
    assert.equal(mesh.stats().grpc.overflows, 1);
    assert.equal(mesh.stats().grpc.clusters['outbound|9090||stock']?.active, 2);
    holdCalls = false;
    for (const answer of heldCalls.splice(0)) answer();
    assert.equal((await first).backend, 'stock');
    assert.equal((await second).backend, 'stock');
    assert.equal((await echoCallOutcome(client)).backend, 'stock');
    assert.equal(mesh.stats().grpc.clusters['outbound|9090||stock']?.active, 0);
  });
});
