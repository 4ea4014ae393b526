// Issue 6 "Tracing", must show: checkout → inventory → payment, three mesh.serve servers (each
// with its own mesh) registered with a real `weft control-plane` process; a request with a B3
// header (then one with a W3C traceparent) enters checkout and every span shares its trace id
// with the right parent chain (an in-memory exporter in this process). A request sent once is one
// client span (it describes its attempt); a retried request shows the retry as an attempt span
// under the client span, and the first try as an event on it. x-request-id is generated once and
// follows the calls.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  credentials,
  type Client,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { SpanKind, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import {
  ECHO_SERVICE,
  EchoClient,
  type EchoRequest,
  type EchoResponse,
} from '@weft/example-demo/echo-service';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import { request } from 'undici';
import { waitRoutable } from '../helpers/sdk-fixtures.js';
import { registeredServiceYaml } from '@weft/example-demo/mesh-yaml';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

const MESH_YAML = [
  ...['checkout', 'inventory', 'payment', 'ledger'].map((host) => registeredServiceYaml(host)),
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  ports:
    - { number: 9090, name: grpc, protocol: GRPC }
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: echo }`,
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ledger, namespace: default }
spec:
  hosts: [ledger]
  http:
    - route:
        - destination: { host: ledger }
      timeout: 10s
      retries: { attempts: 2, retryOn: "5xx" }`,
].join('\n---\n');

const TRACE_ID = '80f198ee56343ba864fe8b2a57d3eff7';
const B3_PARENT = 'e457b5a2e4d86bd1';
const W3C_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const W3C_PARENT = '00f067aa0ba902b7';

/** Answers with the JSON of `body()`. */
function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('e2e: distributed tracing across mesh.serve services (B3, W3C, retries)', function () {
  this.timeout(60_000);
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let dir: string;
  let cp: ControlPlaneProcess;
  const meshes: Mesh[] = [];
  const servers: MeshServer[] = [];
  let checkout: MeshServer;
  let ledgerCalls = 0;
  let inventoryMesh: Mesh;
  let grpcServer: Server | undefined;
  let grpcClient: Client | undefined;

  async function meshFor(name: string, tracing: boolean): Promise<Mesh> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: `${name}-1`, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name, namespace: 'default', serviceAccount: name },
      env: {},
      tracing: tracing ? { tracerProvider: provider } : false,
    });
    await mesh.ready();
    meshes.push(mesh);
    return mesh;
  }

  async function serve(
    mesh: Mesh,
    service: string,
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<MeshServer> {
    const s = await mesh.serve(
      (req, res) => {
        handler(req, res);
      },
      { service, port: 0, servicePort: 8080, labels: { app: service }, drainMs: 0 },
    );
    servers.push(s);
    return s;
  }

  /** Spans of `traceId` once there are `n` of them (server spans end when the response closes). */
  async function spansOf(traceId: string, n: number): Promise<ReadableSpan[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      if (spans.length >= n) return spans;
      if (Date.now() > deadline) {
        throw new Error(
          `expected ${n} spans of ${traceId}, got ${spans.length}: ${spans.map((s) => `${s.name}/${SpanKind[s.kind]}`).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-tracing-'));
    await writeFile(join(dir, 'mesh.yaml'), MESH_YAML);
    cp = await startControlPlaneProcess(dir);
    let checkoutMesh: Mesh;
    let paymentMesh: Mesh;
    [checkoutMesh, inventoryMesh, paymentMesh] = await Promise.all([
      meshFor('checkout', true),
      meshFor('inventory', true),
      meshFor('payment', true),
    ]);
    await serve(paymentMesh, 'payment', (req, res) => {
      json(res, 200, {
        service: 'payment',
        requestId: req.headers['x-request-id'],
        traceparent: req.headers['traceparent'],
        b3: req.headers['b3'],
        b3TraceId: req.headers['x-b3-traceid'],
      });
    });
    await serve(paymentMesh, 'ledger', (_req, res) => {
      ledgerCalls++;
      if (ledgerCalls === 1) json(res, 503, { error: 'first call fails' });
      else json(res, 200, { service: 'ledger' });
    });
    await serve(inventoryMesh, 'inventory', (req, res) => {
      void (async () => {
        const answer = await inventoryMesh.fetch('http://payment:8080/charge');
        json(res, answer.status, {
          service: 'inventory',
          requestId: req.headers['x-request-id'],
          payment: await answer.json(),
        });
      })().catch((err: unknown) => {
        json(res, 500, { error: String(err) });
      });
    });
    checkout = await serve(checkoutMesh, 'checkout', (req, res) => {
      void (async () => {
        const answer = await checkoutMesh.fetch('http://inventory:8080/reserve?item=42');
        json(res, answer.status, {
          service: 'checkout',
          requestId: req.headers['x-request-id'],
          inventory: await answer.json(),
        });
      })().catch((err: unknown) => {
        json(res, 500, { error: String(err) });
      });
    });
    await waitRoutable(checkoutMesh, 'http://inventory:8080/warm-up');
    await waitRoutable(paymentMesh, 'http://ledger:8080/warm-up'); // the first ledger call's 503 is retried
    ledgerCalls = 0;
    exporter.reset();
  });

  after(async () => {
    grpcClient?.close();
    grpcServer?.forceShutdown();
    await Promise.allSettled(servers.map((s) => s.close()));
    await Promise.allSettled(meshes.map((m) => m.close()));
    await cp.stop();
    await provider.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  /** Enters checkout from outside the mesh with `headers`; returns the JSON chain. */
  async function enterCheckout(headers: Record<string, string>): Promise<{
    requestId: string;
    inventory: { requestId: string; payment: Record<string, string> };
  }> {
    const res = await request(`http://127.0.0.1:${checkout.port}/checkout`, { headers });
    assert.equal(res.statusCode, 200);
    return (await res.body.json()) as {
      requestId: string;
      inventory: { requestId: string; payment: Record<string, string> };
    };
  }

  /** checkout(server) → client → inventory(server) → client → payment(server). */
  function assertChain(spans: ReadableSpan[], traceId: string, rootParent: string): void {
    assert.equal(spans.length, 5, spans.map((s) => s.name).join(', '));
    for (const s of spans) assert.equal(s.spanContext().traceId, traceId);
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    const byService = (svc: string): ReadableSpan => {
      const found = servers.find((s) => s.attributes['weft.service'] === svc);
      assert.ok(found, `no server span of ${svc}`);
      return found;
    };
    const checkoutSpan = byService('checkout');
    const inventorySpan = byService('inventory');
    const paymentSpan = byService('payment');
    assert.equal(parentOf(checkoutSpan), rootParent, 'checkout continues the caller’s span');
    assert.equal(checkoutSpan.parentSpanContext?.isRemote, true);

    const hop = (from: ReadableSpan, to: ReadableSpan, host: string): void => {
      const client = spans.find(
        (s) => s.kind === SpanKind.CLIENT && parentOf(s) === from.spanContext().spanId,
      );
      assert.ok(client, `no client span under ${String(from.attributes['weft.service'])}`);
      assert.equal(client.name, 'GET');
      assert.equal(client.attributes['server.address'], host);
      assert.equal(client.attributes['server.port'], 8080);
      assert.equal(client.attributes['http.request.method'], 'GET');
      assert.equal(client.attributes['http.response.status_code'], 200);
      assert.equal(client.attributes['weft.response_flags'], '-');
      assert.equal(client.attributes['weft.attempts'], 1);
      assert.match(String(client.attributes['weft.cluster']), new RegExp(`\\|\\|${host}`));
      // Sent once: the client span describes the attempt itself, no attempt span.
      assert.equal(client.attributes['weft.upstream.locality'], 'us-east-1/us-east-1a/');
      assert.match(String(client.attributes['weft.upstream.host']), /^127\.0\.0\.1:\d+$/);
      assert.equal(client.attributes['network.peer.address'], '127.0.0.1');
      assert.equal(client.events.length, 0);
      assert.equal(parentOf(to), client.spanContext().spanId, `${host}'s server span`);
    };
    hop(checkoutSpan, inventorySpan, 'inventory');
    hop(inventorySpan, paymentSpan, 'payment');
    assert.equal(checkoutSpan.attributes['http.response.status_code'], 200);
    assert.equal(inventorySpan.attributes['url.path'], '/reserve');
  }

  it('continues a B3 (single header) trace through checkout → inventory → payment', async () => {
    const body = await enterCheckout({
      b3: `${TRACE_ID}-${B3_PARENT}-1`,
      'x-request-id': 'req-b3-1',
    });
    // x-request-id followed the calls; the trace headers payment saw name the same trace.
    assert.equal(body.requestId, 'req-b3-1');
    assert.equal(body.inventory.requestId, 'req-b3-1');
    assert.equal(body.inventory.payment['requestId'], 'req-b3-1');
    assert.match(body.inventory.payment['traceparent'] ?? '', new RegExp(`^00-${TRACE_ID}-`));
    // Answered in kind: W3C (the default) and B3 single (what came in), not B3 multi.
    assert.match(body.inventory.payment['b3'] ?? '', new RegExp(`^${TRACE_ID}-`));
    assert.equal(body.inventory.payment['b3TraceId'], undefined);
    assertChain(await spansOf(TRACE_ID, 5), TRACE_ID, B3_PARENT);
  });

  it('continues a B3 multi-header trace the same way', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const body = await enterCheckout({
      'x-b3-traceid': traceId,
      'x-b3-spanid': 'b7ad6b7169203331',
      'x-b3-sampled': '1',
    });
    // Answered in kind two hops down: B3 multi and W3C, no B3 single.
    assert.equal(body.inventory.payment['b3TraceId'], traceId);
    assert.match(body.inventory.payment['traceparent'] ?? '', new RegExp(`^00-${traceId}-`));
    assert.equal(body.inventory.payment['b3'], undefined);
    assertChain(await spansOf(traceId, 5), traceId, 'b7ad6b7169203331');
  });

  it('continues a W3C traceparent trace and generates one x-request-id for the whole chain', async () => {
    const body = await enterCheckout({ traceparent: `00-${W3C_TRACE_ID}-${W3C_PARENT}-01` });
    // W3C only (the default propagators): no B3 encoding of the same context.
    assert.equal(body.inventory.payment['b3'], undefined);
    assert.equal(body.inventory.payment['b3TraceId'], undefined);
    assert.match(body.requestId, /^[0-9a-f-]{36}$/);
    assert.equal(body.inventory.requestId, body.requestId);
    assert.equal(body.inventory.payment['requestId'], body.requestId);
    assertChain(await spansOf(W3C_TRACE_ID, 5), W3C_TRACE_ID, W3C_PARENT);
  });

  it('shows a retried request as one client span with the first try as an event and the retry as an attempt span', async () => {
    const res = await meshes[0]!.fetch('http://ledger:8080/post');
    assert.equal(res.status, 200);
    await res.text();
    const clientSpans = (): ReadableSpan[] =>
      exporter
        .getFinishedSpans()
        .filter((s) => s.kind === SpanKind.CLIENT && s.attributes['server.address'] === 'ledger');
    const deadline = Date.now() + 10_000;
    while (clientSpans().length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const [client] = clientSpans();
    assert.ok(client);
    const traceId = client.spanContext().traceId;
    // client (first try) + the retry's attempt span + 2 ledger server spans
    const spans = await spansOf(traceId, 4);
    assert.equal(parentOf(client), undefined, 'a call outside any handler starts a trace');
    assert.equal(client.attributes['weft.attempts'], 2);
    assert.equal(client.attributes['http.response.status_code'], 200);
    // The first try: the client span's upstream attributes, and how it ended as an event.
    assert.match(String(client.attributes['weft.upstream.host']), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      client.events.map((e) => [
        e.name,
        e.attributes?.['weft.attempt'],
        e.attributes?.['http.response.status_code'],
        e.attributes?.['weft.response_flags'],
        e.attributes?.['weft.upstream.host'],
      ]),
      [['weft.attempt.ended', 1, 503, '-', client.attributes['weft.upstream.host']]],
    );
    const attempts = spans.filter(
      (s) => parentOf(s) === client.spanContext().spanId && s.kind !== SpanKind.SERVER,
    );
    assert.deepEqual(
      attempts.map((a) => [
        a.attributes['weft.attempt'],
        a.attributes['http.request.resend_count'],
        a.attributes['http.response.status_code'],
      ]),
      [[2, 1, 200]],
    );
    const [retry] = attempts;
    assert.ok(retry);
    const ledgerServers = spans.filter((s) => s.kind === SpanKind.SERVER);
    assert.deepEqual(
      ledgerServers.map((s) => parentOf(s)).sort(),
      [client.spanContext().spanId, retry.spanContext().spanId].sort(),
      'the first try’s server span is the client span’s child, the retry’s the attempt span’s',
    );
    const stats = meshes[0]!.stats().tracing;
    assert.equal(stats.enabled, true);
    assert.equal(stats.provider, 'options.tracerProvider');
    assert.ok(stats.spansStarted > 0);
  });

  it('follows a gRPC hop: client span, the server interceptor’s span, and an HTTP call its handler makes', async () => {
    // An echo gRPC server with inventory's interceptor; its handler calls payment over HTTP.
    const server = new Server({ interceptors: [inventoryMesh.grpcServerInterceptor()] });
    grpcServer = server;
    server.addService(ECHO_SERVICE, {
      Call: (
        call: ServerUnaryCall<EchoRequest, EchoResponse>,
        callback: sendUnaryData<EchoResponse>,
      ) => {
        const requestId = String(call.metadata.get('x-request-id')[0]);
        inventoryMesh
          .fetch('http://payment:8080/charge')
          .then(async (res) => {
            const payment = (await res.json()) as Record<string, string>;
            callback(null, { backend: 'echo', message: `${requestId} ${payment['requestId']}` });
          })
          .catch((err: unknown) => {
            callback(err as Error);
          });
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    await inventoryMesh.register({
      service: 'echo',
      port,
      protocol: 'grpc',
      servicePort: 9090,
      labels: { app: 'echo' },
    });
    // The newest mesh serves new xds:/// channels: a front-end mesh of its own.
    await meshFor('frontend', true);
    const client = new EchoClient('xds:///echo:9090', credentials.createInsecure());
    grpcClient = client;
    const call = (): Promise<EchoResponse> =>
      new Promise((resolve, reject) => {
        (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
          client,
          { message: 'hi' },
          { deadline: Date.now() + 5000 },
          (err: Error | null, res: EchoResponse) => (err ? reject(err) : resolve(res)),
        );
      });
    const deadline = Date.now() + 20_000;
    let answer: EchoResponse;
    for (;;) {
      try {
        answer = await call();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // One x-request-id from the gRPC client's call to payment's HTTP handler.
    const [grpcId, paymentId] = answer.message.split(' ');
    assert.match(grpcId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(paymentId, grpcId);
    exporter.reset();
    await call();
    const deadline2 = Date.now() + 10_000;
    let grpcClientSpan: ReadableSpan | undefined;
    while (grpcClientSpan === undefined && Date.now() < deadline2) {
      grpcClientSpan = exporter
        .getFinishedSpans()
        .find((s) => s.kind === SpanKind.CLIENT && s.attributes['rpc.system'] === 'grpc');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(grpcClientSpan, 'no gRPC client span');
    const traceId = grpcClientSpan.spanContext().traceId;
    // grpc client + grpc server + http client + payment server (each call sent once)
    const spans = await spansOf(traceId, 4);
    assert.equal(grpcClientSpan.name, 'weft.test.Echo/Call');
    assert.equal(grpcClientSpan.attributes['rpc.service'], 'weft.test.Echo');
    assert.equal(grpcClientSpan.attributes['rpc.method'], 'Call');
    assert.equal(grpcClientSpan.attributes['rpc.grpc.status_code'], 0);
    assert.match(String(grpcClientSpan.attributes['weft.cluster']), /echo/);
    // Sent once: the client span describes the attempt, no attempt span.
    assert.equal(
      spans.filter(
        (s) => parentOf(s) === grpcClientSpan.spanContext().spanId && s.kind !== SpanKind.SERVER,
      ).length,
      0,
    );
    assert.equal(grpcClientSpan.attributes['weft.upstream.host'], `127.0.0.1:${port}`);
    assert.equal(grpcClientSpan.attributes['weft.attempts'], 1);
    const grpcServerSpan = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.attributes['rpc.system'] === 'grpc',
    );
    assert.ok(grpcServerSpan, 'no gRPC server span');
    // grpc-js sends one set of metadata per call: the server's parent is the call's client span.
    assert.equal(parentOf(grpcServerSpan), grpcClientSpan.spanContext().spanId);
    const httpClient = spans.find(
      (s) => s.kind === SpanKind.CLIENT && s.attributes['server.address'] === 'payment',
    );
    assert.ok(httpClient, 'no HTTP client span from the gRPC handler');
    assert.equal(parentOf(httpClient), grpcServerSpan.spanContext().spanId);
    const paymentServer = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.attributes['weft.service'] === 'payment',
    );
    assert.ok(paymentServer);
    assert.equal(parentOf(paymentServer), httpClient.spanContext().spanId);
  });

  it('starts its own sdk-node provider with an OTLP/HTTP exporter when given an endpoint, and unregisters it on close', async () => {
    const posts: { path: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        posts.push({ path: req.url ?? '', body });
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const lines: { message: string; fields: unknown }[] = [];
    const log = (message: string, fields?: unknown): void => {
      lines.push({ message, fields });
    };
    try {
      const mesh = await createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        node: { id: 'otlp-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
        workload: { name: 'otlp', namespace: 'default' },
        env: {},
        logger: { debug: () => undefined, info: log, warn: log, error: log },
        tracing: { otlpEndpoint: url, sampling: 1 },
      });
      await mesh.ready();
      const res = await mesh.fetch('http://payment:8080/charge');
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, string>;
      assert.match(body['traceparent'] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.match(
        mesh.stats().tracing.provider,
        /^sdk-node \(otlp http:\/\/127\.0\.0\.1:\d+\/v1\/traces\)$/,
      );
      const setUp = lines.find((l) => l.message === 'mesh tracing: set up');
      assert.deepEqual(setUp?.fields, {
        provider: 'sdk-node (started by the mesh, registered globally)',
        exporter: `otlp/http ${url}`,
        sampler: 'parentbased_traceidratio 1 (tracing.sampling)',
        propagators: 'tracecontext',
      });
      assert.equal(mesh.stats().tracing.meshTracer, true);
      await mesh.close(); // flushes the batch to the collector
      // The mesh tracer's span went through sdk-node's batch processor and OTLP exporter: the
      // client span of the call, with the workload's name as service.name.
      const exported = posts
        .filter((p) => p.path === '/v1/traces')
        .map((p) => p.body)
        .join('');
      assert.ok(exported.includes('@weft/sdk'), exported);
      assert.ok(exported.includes('"service.name"') && exported.includes('"otlp"'), exported);
      assert.ok(exported.includes('"/charge"'), exported);
      // The global provider sdk-node registered is gone again.
      const probe = trace.getTracer('probe').startSpan('probe');
      assert.equal(probe.isRecording(), false);
      probe.end();
    } finally {
      collector.close();
    }
  });

  it('rejects bad tracing options, naming each field', async () => {
    await assert.rejects(
      createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        env: { WEFT_TRACE_SAMPLING: '2' },
        tracing: { otlpEndpoint: 'collector:4318', colour: 'blue' } as never,
      }),
      (err: Error & { issues?: { path: string; message: string }[] }) => {
        assert.deepEqual(
          err.issues?.map((i) => i.path),
          ['tracing.colour', 'tracing.otlpEndpoint', 'env.WEFT_TRACE_SAMPLING'],
        );
        return true;
      },
    );
    await assert.rejects(
      createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        env: {},
        tracing: { tracerProvider: provider, sampling: 0.5 },
      }),
      /tracing\.sampling: a tracerProvider you pass samples by its own sampler/,
    );
  });

  it('with tracing off: no spans, no trace headers, x-request-id still generated', async () => {
    const off = await meshFor('edge', false);
    const before = exporter.getFinishedSpans().length;
    const res = await off.fetch('http://payment:8080/charge');
    const body = (await res.json()) as Record<string, string | undefined>;
    assert.equal(res.status, 200);
    assert.match(body['requestId'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(body['traceparent'], undefined);
    assert.equal(body['b3'], undefined);
    assert.deepEqual(off.stats().tracing, {
      enabled: false,
      provider: 'off',
      spansStarted: 0,
      spansRecorded: 0,
      samplingRatio: undefined,
      meshTracer: false,
      propagators: ['tracecontext'],
      sampler: undefined,
    });
    // payment's own server span is a new root (no parent came in).
    const roots = exporter
      .getFinishedSpans()
      .slice(before)
      .filter((s) => s.kind === SpanKind.SERVER);
    assert.ok(roots.every((s) => parentOf(s) === undefined));
  });

  it('sampled out: W3C and B3 headers with sampled=0 and x-request-id, no attempt span, nothing recorded', async () => {
    const sampledOut = new TracerProvider({
      sampler: new AlwaysOffSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const edge = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'edge-sampled-out-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'edge', namespace: 'default', serviceAccount: 'edge' },
      env: {},
      tracing: { tracerProvider: sampledOut, propagators: ['tracecontext', 'b3', 'b3multi'] },
    });
    meshes.push(edge);
    await edge.ready();
    const before = exporter.getFinishedSpans().length;
    const res = await edge.fetch('http://payment:8080/charge');
    const body = (await res.json()) as Record<string, string | undefined>;
    assert.equal(res.status, 200);
    assert.match(body['requestId'] ?? '', /^[0-9a-f-]{36}$/);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(body['traceparent'] ?? '');
    assert.ok(m, `traceparent ${String(body['traceparent'])}`);
    const [, traceId, spanId] = m;
    assert.equal(body['b3'], `${traceId}-${spanId}-0`);
    assert.equal(body['b3TraceId'], traceId);
    // The client span only: a sampled-out request makes no attempt spans.
    assert.deepEqual(edge.stats().tracing, {
      enabled: true,
      provider: 'options.tracerProvider',
      spansStarted: 1,
      spansRecorded: 0,
      samplingRatio: undefined,
      meshTracer: false,
      propagators: ['tracecontext', 'b3', 'b3multi'],
      sampler: undefined,
    });
    // payment follows the caller's decision (parent-based): nothing of this trace is recorded.
    await new Promise((r) => setTimeout(r, 100));
    const recorded = exporter.getFinishedSpans().slice(before);
    assert.deepEqual(
      recorded.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name),
      [],
    );
    await sampledOut.shutdown();
  });
});
