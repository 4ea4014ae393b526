import assert from 'node:assert/strict';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { RetryPolicyUpdate } from '@weft/xds-client';
import { request } from 'undici';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import { MeshTracing } from '../../src/tracing/mesh-tracing.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { startServer, type TestServer } from './helpers/http-servers.js';

const RETRY_5XX: RetryPolicyUpdate = {
  retryOn: ['5xx'],
  numRetries: 1,
  perTryTimeoutMs: undefined,
  baseIntervalMs: 1,
  maxIntervalMs: 1,
  retriableStatusCodes: [],
};

const CALLER_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** The span id of a W3C traceparent header value. */
function spanIdOf(traceparent: unknown): string | undefined {
  return typeof traceparent === 'string' ? traceparent.split('-')[2] : undefined;
}

describe('MeshDispatcher trace headers (tracing on)', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let provider: TracerProvider;
  let exporter: InMemorySpanExporter;
  let servers: TestServer[];

  beforeEach(function () {
    exporter = new InMemorySpanExporter();
    provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracing = new MeshTracing(provider.getTracer('test'), 'options.tracerProvider', {
      propagators: ['tracecontext', 'b3', 'b3multi'],
    });
    runtime = new FakeMeshRuntime();
    dispatcher = new MeshDispatcher({ runtime, random: () => 0.5, tracing });
    servers = [];
  });

  afterEach(async function () {
    await dispatcher.destroy().catch(() => undefined);
    await Promise.all(servers.map((s) => s.close()));
    await provider.shutdown();
  });

  /** Routes `inventory` to one server answering 503 to its first request, then 200. */
  async function flakyInventory(): Promise<TestServer> {
    let seen = 0;
    const s = await startServer('a', (_req, res) => {
      seen++;
      res.statusCode = seen === 1 ? 503 : 200;
      res.end();
    });
    servers.push(s);
    runtime.setRoute('inventory', {
      cluster: 'outbound|80||inventory',
      retryPolicy: RETRY_5XX,
      ports: () => [s.port],
    });
    return s;
  }

  for (const shape of ['record', 'array'] as const) {
    it(`replaces the caller's trace headers once per try, the retry's with its attempt span (${shape} headers)`, async function () {
      const s = await flakyInventory();
      const given =
        shape === 'record'
          ? { Traceparent: CALLER_TRACEPARENT, 'x-app': '1' }
          : ['Traceparent', CALLER_TRACEPARENT, 'x-app', '1'];
      const copy = structuredClone(given);
      const res = await request('http://inventory/', { dispatcher, headers: given });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      assert.deepEqual(given, copy, "the caller's headers are not mutated");
      assert.equal(s.received.length, 2);
      const spans = exporter.getFinishedSpans();
      const client = spans.find((sp) => sp.name === 'GET');
      const retry = spans.find((sp) => sp.name === 'GET attempt');
      assert.ok(client && retry, spans.map((sp) => sp.name).join(', '));
      assert.equal(spans.length, 2);
      const [first, second] = s.received;
      assert.ok(first && second);
      const traceId = client.spanContext().traceId;
      for (const r of [first, second]) {
        // Exactly one value each (node would join a repeated header with ', '), the mesh's.
        assert.match(
          String(r.headers['traceparent']),
          new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
        );
        assert.equal(r.headers['x-app'], '1');
      }
      assert.equal(spanIdOf(first.headers['traceparent']), client.spanContext().spanId);
      assert.equal(spanIdOf(second.headers['traceparent']), retry.spanContext().spanId);
      assert.equal(second.headers['x-b3-spanid'], retry.spanContext().spanId);
      assert.equal(first.headers['x-request-id'], second.headers['x-request-id']);
    });
  }

  it('adds trace headers to a request without headers (the shared host-only object stays clean)', async function () {
    const s = await flakyInventory();
    for (let i = 0; i < 2; i++) {
      const res = await request('http://inventory/', { dispatcher });
      await res.body.dump();
    }
    // 1st request: 503 + retry; 2nd: one try. Every upstream request carries its own ids.
    assert.equal(s.received.length, 3);
    const ids = s.received.map((r) => r.headers['x-request-id']);
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[1], ids[2]);
    const parents = s.received.map((r) => spanIdOf(r.headers['traceparent']));
    assert.equal(new Set(parents).size, 3);
  });
});
