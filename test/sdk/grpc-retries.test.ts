// End to end: a VirtualService with `retries` served by a real `weft control-plane` process; a
// grpc-js backend on loopback answers UNAVAILABLE to its first calls and a stock grpc-js client on
// xds:/// (through createMesh) still gets OK: the route's policy runs as grpc-js retries (gRFC A44).
// With tracing on, a retried call is one client span (its first try described on it, how that
// try ended as an event) with a child span per retry.
import assert from 'node:assert/strict';
import {
  credentials,
  status,
  type sendUnaryData,
  type Server,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import type { Mesh } from '@weft/sdk';
import {
  echoCallOutcome,
  staticServiceYaml,
  startEchoServer,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: stock, namespace: default }
spec:
  hosts: [stock]
  http:
    - route:
        - destination: { host: stock }
      timeout: 5s
      retries: { attempts: 3, retryOn: "unavailable" }`;

describe('sdk grpc retries: xds:/// against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let failNext = 0;
  let received = 0;
  let mesh: Mesh;
  let client: InstanceType<typeof EchoClient>;
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const call = (): Promise<{ backend?: string; code?: number }> => echoCallOutcome(client);

  before(async () => {
    let port: number;
    ({ server, port } = await startEchoServer(
      (_call: ServerUnaryCall<unknown, EchoResponse>, cb: sendUnaryData<EchoResponse>) => {
        received++;
        if (failNext > 0) {
          failNext--;
          cb({ code: status.UNAVAILABLE, details: 'warming up' });
          return;
        }
        cb(null, { backend: 'stock', message: 'hi' });
      },
    ));
    fixture = await startMeshFixture(
      'checkout-grpc-retries',
      [
        staticServiceYaml({ host: 'stock', port: 9090, protocol: 'GRPC', endpointPorts: [port] }),
        VIRTUAL_SERVICE,
      ].join('\n---\n'),
      { tracing: { tracerProvider: provider } },
    );
    mesh = fixture.mesh;
    client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await fixture.close();
    server.forceShutdown();
    await provider.shutdown();
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

  it('traces a retried call as one client span: the first try an event on it, each retry a child span', async () => {
    assert.equal((await call()).backend, 'stock');
    exporter.reset();
    failNext = 2;
    assert.equal((await call()).backend, 'stock');
    const spans = exporter.getFinishedSpans();
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    assert.equal(clients.length, 1, spans.map((s) => s.name).join(', '));
    const [client] = clients;
    assert.ok(client);
    assert.equal(client.attributes['weft.attempts'], 3);
    assert.equal(client.attributes['rpc.grpc.status_code'], status.OK);
    assert.match(String(client.attributes['weft.upstream.host']), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      client.events.map((e) => [
        e.name,
        e.attributes?.['weft.attempt'],
        e.attributes?.['rpc.grpc.status_code'],
        e.attributes?.['error.type'],
      ]),
      [['weft.attempt.ended', 1, status.UNAVAILABLE, 'UNAVAILABLE']],
    );
    const retries = spans
      .filter((s) => s.parentSpanContext?.spanId === client.spanContext().spanId)
      .map((s) => [s.attributes['weft.attempt'], s.attributes['rpc.grpc.status_code']])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    assert.deepEqual(retries, [
      [2, status.UNAVAILABLE],
      [3, status.OK],
    ]);
  });
});
