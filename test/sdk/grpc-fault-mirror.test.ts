// End to end: VirtualService `fault` and `mirror` for gRPC services served by a real
// `weft control-plane` process; a stock grpc-js client on xds:/// (through createMesh) against a
// grpc-js backend on loopback. Aborts end the call with the configured status without reaching
// the server (gRFC A33); delays hold the call before it is sent; a unary call is mirrored to the
// mirror cluster with `:authority` suffixed -shadow. Issue 4, fault injection and mirroring.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import {
  credentials,
  status,
  type sendUnaryData,
  type Server,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import type { Mesh } from '@weft/sdk';
import {
  echoCallOutcome,
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

const virtualService = (host: string, extra: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  http:
    - route: [{ destination: { host: ${host} } }]
${extra}`;

const SERVICES: Record<string, string> = {
  'stock-abort': `      fault: { abort: { grpcStatus: RESOURCE_EXHAUSTED, percentage: { value: 100 } } }`,
  'stock-http-abort': `      fault: { abort: { httpStatus: 404, percentage: { value: 100 } } }`,
  'stock-delay': `      fault: { delay: { fixedDelay: 200ms, percentage: { value: 100 } } }`,
  'stock-mirror': `      mirror: { host: stock-shadow }`,
  'stock-mirror-hang': `      mirror: { host: stock-hang }`,
  'stock-mirror-down': `      mirror: { host: stock-down }`,
  'stock-shadow': '',
  'stock-hang': '',
  'stock-down': '',
};

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('sdk grpc fault injection and mirroring: xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let shadow: Server;
  let received = 0;
  const shadowHosts: string[] = [];
  let hangReceived = 0;
  let hang: Server;
  let mesh: Mesh;
  const clients = new Map<string, InstanceType<typeof EchoClient>>();
  const call = (host: string): Promise<{ backend?: string; code?: number }> => {
    let client = clients.get(host);
    if (client === undefined) {
      client = new EchoClient(`xds:///${host}:9090`, credentials.createInsecure());
      clients.set(host, client);
    }
    return echoCallOutcome(client);
  };

  before(async () => {
    let port: number;
    ({ server, port } = await startEchoServer(
      (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        received++;
        cb(null, { backend: 'stock', message: 'hi' });
      },
    ));
    let shadowPort: number;
    ({ server: shadow, port: shadowPort } = await startEchoServer(
      (call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        shadowHosts.push(call.getHost());
        cb(null, { backend: 'shadow', message: 'hi' });
      },
    ));
    let hangPort: number;
    ({ server: hang, port: hangPort } = await startEchoServer(() => {
      hangReceived++; // never answers
    }));
    const down = await startEchoServer(() => undefined);
    down.server.forceShutdown();
    const ports: Record<string, number> = {
      'stock-shadow': shadowPort,
      'stock-hang': hangPort,
      'stock-down': down.port,
    };
    const yaml = Object.entries(SERVICES).flatMap(([host, extra]) => [
      staticServiceYaml({
        host,
        port: 9090,
        protocol: 'GRPC',
        endpointPorts: [ports[host] ?? port],
      }),
      ...(extra === '' ? [] : [virtualService(host, extra)]),
    ]);
    fixture = await startMeshFixture('checkout-grpc-fault', yaml.join('\n---\n'));
    mesh = fixture.mesh;
  });

  after(async () => {
    for (const client of clients.values()) client.close();
    await fixture.close();
    server.forceShutdown();
    shadow.forceShutdown();
    hang.forceShutdown();
  });

  it('ends every call with the configured grpcStatus without reaching the server', async () => {
    const before = received;
    for (let i = 0; i < 10; i++) {
      assert.equal((await call('stock-abort')).code, status.RESOURCE_EXHAUSTED);
    }
    assert.equal(received - before, 0);
    assert.equal(mesh.stats().grpc.faultsAborted, 10);
  });

  it('maps an httpStatus abort to gRPC (404 → UNIMPLEMENTED)', async () => {
    const before = received;
    assert.equal((await call('stock-http-abort')).code, status.UNIMPLEMENTED);
    assert.equal(received - before, 0);
  });

  it('delays the call by the fixed delay (≥ 200 ms) before sending it, then answers OK', async () => {
    const delayedBefore = mesh.stats().grpc.faultsDelayed;
    const started = performance.now();
    const result = await call('stock-delay');
    assert.equal(result.backend, 'stock');
    assert.ok(performance.now() - started >= 195, 'answered before the 200 ms fault delay');
    assert.equal(mesh.stats().grpc.faultsDelayed - delayedBefore, 1);
  });

  it('mirrors a unary call to the mirror cluster with :authority -shadow, answering from the primary', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await call('stock-mirror')).backend, 'stock');
    await until(() => shadowHosts.length === 3, 'three mirror copies');
    assert.deepEqual(shadowHosts, Array(3).fill('stock-mirror-shadow:9090'));
    assert.equal(mesh.stats().grpc.mirrored, 3);
  });

  it('answers the primary while the mirror backend hangs or is down', async () => {
    const failuresBefore = mesh.stats().grpc.mirrorFailures;
    for (let i = 0; i < 3; i++) {
      assert.equal((await call('stock-mirror-hang')).backend, 'stock');
      assert.equal((await call('stock-mirror-down')).backend, 'stock');
    }
    await until(() => hangReceived === 3, 'the copies at the hanging backend');
    await until(
      () => mesh.stats().grpc.mirrorFailures - failuresBefore >= 3,
      'the failed copies to the down backend',
    );
  });
});
