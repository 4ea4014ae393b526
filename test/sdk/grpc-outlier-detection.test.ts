// End to end: a DestinationRule `outlierDetection` served by a real `weft control-plane` process;
// of three grpc-js backends one answers UNAVAILABLE to everything. UNAVAILABLE counts as a 5xx
// (503), so after two the backend is ejected and the stock grpc-js client on xds:/// never
// reaches it again; a retry on `unavailable` keeps every call OK. Issue 4, outlier detection.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  credentials,
  status,
  type sendUnaryData,
  type Server,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import { OUTLIER_CHANNEL, type OutlierEvent } from '@weft/sdk';
import {
  echoCallOutcome,
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

const RULES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: stock, namespace: default }
spec:
  host: stock
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  http:
    - route:
        - destination: { host: stock }
      timeout: 5s
      retries: { attempts: 2, retryOn: "unavailable" }`;

describe('sdk grpc outlier detection: xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  const servers: Server[] = [];
  const ports: number[] = [];
  const hits = [0, 0, 0];
  let client: InstanceType<typeof EchoClient>;
  const call = (): Promise<{ backend?: string; code?: number }> => echoCallOutcome(client);

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const { server, port } = await startEchoServer(
        (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
          hits[i] = (hits[i] ?? 0) + 1;
          if (i === 0) {
            cb({ code: status.UNAVAILABLE, details: 'bad instance' });
            return;
          }
          cb(null, { backend: `stock-${i}`, message: 'hi' });
        },
      );
      servers.push(server);
      ports.push(port);
    }
    fixture = await startMeshFixture(
      'checkout-grpc-outlier',
      [
        staticServiceYaml({ host: 'stock', port: 9090, protocol: 'GRPC', endpointPorts: ports }),
        RULES,
      ].join('\n---\n'),
    );
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await fixture.close();
    for (const s of servers) s.forceShutdown();
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
