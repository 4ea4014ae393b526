// End to end: a DestinationRule `outlierDetection` served by a real `weft control-plane` process;
// of three grpc-js backends one answers UNAVAILABLE to everything. UNAVAILABLE counts as a 5xx
// (503), so after two the backend is ejected and the stock grpc-js client on xds:/// never
// reaches it again; a retry on `unavailable` keeps every call OK. Issue 4, outlier detection.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
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
import { createMesh, OUTLIER_CHANNEL, type Mesh, type OutlierEvent } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

function yaml(ports: readonly number[]): string {
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
${ports
  .map(
    (port) => `    - address: 127.0.0.1
      ports: { grpc: ${port} }
      locality: us-east-1/us-east-1a`,
  )
  .join('\n')}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: stock, namespace: default }
spec:
  host: stock
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s }`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  http:
    - route:
        - destination: { host: stock }
      timeout: 5s
      retries: { attempts: 2, retryOn: "unavailable" }`,
  ].join('\n---\n');
}

describe('sdk grpc outlier detection: xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  const servers: Server[] = [];
  const ports: number[] = [];
  const hits = [0, 0, 0];
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
    for (let i = 0; i < 3; i++) {
      const server = new Server();
      server.addService(ECHO_SERVICE, {
        Call: (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
          hits[i] = (hits[i] ?? 0) + 1;
          if (i === 0) {
            cb({ code: status.UNAVAILABLE, details: 'bad instance' });
            return;
          }
          cb(null, { backend: `stock-${i}`, message: 'hi' });
        },
      });
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
          if (err) reject(err);
          else resolve(p);
        });
      });
      servers.push(server);
      ports.push(port);
    }
    dir = await mkdtemp(join(tmpdir(), 'weft-sdk-grpc-outlier-'));
    await writeFile(join(dir, 'stock.yaml'), yaml(ports));
    cp = await startControlPlaneProcess(dir);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'checkout-grpc-outlier', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
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
    for (const s of servers) s.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('ejects the backend that answers UNAVAILABLE and every call succeeds', async () => {
    const events: OutlierEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as OutlierEvent);
    };
    subscribe(OUTLIER_CHANNEL, onEvent);
    try {
      for (let i = 0; i < 30; i++) assert.ok((await call()).backend?.startsWith('stock-'));
      assert.equal(hits[0], 2);
      for (let i = 0; i < 30; i++) assert.ok((await call()).backend?.startsWith('stock-'));
      assert.equal(hits[0], 2);
      assert.deepEqual(
        events.map((e) => [e.action, e.endpoint, e.reason]),
        [['eject', `127.0.0.1:${ports[0]}`, 'consecutive-5xx']],
      );
    } finally {
      unsubscribe(OUTLIER_CHANNEL, onEvent);
    }
  });
});
