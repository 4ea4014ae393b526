// End to end: a VirtualService with `retries` served by a real `weft control-plane` process; a
// grpc-js backend on loopback answers UNAVAILABLE to its first calls and a stock grpc-js client on
// xds:/// (through createMesh) still gets OK: the route's policy runs as grpc-js retries (gRFC A44).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { ECHO_SERVICE, EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import { createMesh, type Mesh } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

function yaml(port: number): string {
  return [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  ports:
    - { number: 9090, name: grpc, protocol: GRPC }
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
    - address: 127.0.0.1
      ports: { grpc: ${port} }
      locality: us-east-1/us-east-1a`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  http:
    - route:
        - destination: { host: stock }
      timeout: 5s
      retries: { attempts: 3, retryOn: "unavailable" }`,
  ].join('\n---\n');
}

describe('sdk grpc retries: xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let server: Server;
  let failNext = 0;
  let received = 0;
  let mesh: Mesh;
  let client: InstanceType<typeof EchoClient>;

  const call = (): Promise<{ backend?: string; code?: number }> =>
    new Promise((resolve) => {
      (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!(
        { message: 'hi' },
        { deadline: Date.now() + 10_000 },
        (err: ServiceError | null, res?: EchoResponse) => {
          if (err) resolve({ code: err.code });
          else resolve({ backend: res!.backend });
        },
      );
    });

  before(async () => {
    server = new Server();
    server.addService(ECHO_SERVICE, {
      Call: (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        received++;
        if (failNext > 0) {
          failNext--;
          cb({ code: status.UNAVAILABLE, details: 'warming up' });
          return;
        }
        cb(null, { backend: 'stock', message: 'hi' });
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(err);
        else resolve(p);
      });
    });
    dir = await mkdtemp(join(tmpdir(), 'weft-sdk-grpc-retries-'));
    await writeFile(join(dir, 'stock.yaml'), yaml(port));
    cp = await startControlPlaneProcess(dir);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'checkout-grpc-retries', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      env: {},
    });
    await mesh.ready();
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await mesh.close();
    await cp.stop();
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers OK when the backend returns UNAVAILABLE to its first 3 calls (attempts: 3)', async () => {
    assert.equal((await call()).backend, 'stock'); // warm the channel
    const before = received;
    failNext = 3;
    const result = await call();
    assert.equal(result.backend, 'stock');
    assert.equal(received - before, 4);
    assert.equal(mesh.stats().grpc.retries, 3);
  });

  it('ends UNAVAILABLE once the retries are used up', async () => {
    failNext = 4;
    assert.equal((await call()).code, status.UNAVAILABLE);
    assert.equal(mesh.stats().grpc.retriesExhausted, 1);
    failNext = 0;
  });
});
