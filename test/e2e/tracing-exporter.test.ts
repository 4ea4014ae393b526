// Issue 6 "Tracing" with `tracing.exporter`: the mesh's own tracer and batch processor, nothing
// registered globally. A real `weft control-plane` process; checkout (the caller mesh, its own
// in-memory exporter) serves a handler that calls inventory (the callee mesh, another in-memory
// exporter). Shows: one trace across both exporters with the right parents, the workload name as
// service.name, the batch flushed by mesh.close(), sampling 0 (nothing exported, the callee still
// sees traceparent flags 00), and tracing.propagators choosing the injected headers.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createMesh, type Mesh, type MeshServer, type TracingOptions } from '@weft/sdk';
import { request } from 'undici';
import { waitRoutable } from '../helpers/sdk-fixtures.js';
import { registeredServiceYaml } from '@weft/example-demo/mesh-yaml';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

const MESH_YAML = ['checkout', 'inventory']
  .map((host) => registeredServiceYaml(host))
  .join('\n---\n');

/** The trace headers inventory saw, as it answers them. */
interface SeenHeaders {
  traceparent?: string;
  b3?: string;
  'x-b3-traceid'?: string;
  'x-b3-spanid'?: string;
  'x-b3-sampled'?: string;
}

const TRACE_HEADERS = ['traceparent', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled'] as const;

/**
 * Batch settings that keep every span of a test in the caller's queue until mesh.close() flushes
 * it: no scheduled export within a test, no early export of a full batch.
 */
const HOLD_BATCH_ENV = {
  OTEL_BSP_SCHEDULE_DELAY: '600000',
  OTEL_BSP_MAX_QUEUE_SIZE: '100000',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100000',
};

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** `00-<trace>-<span>-<flags>` split, asserting the form. */
function traceparentOf(value: string | undefined): {
  traceId: string;
  spanId: string;
  flags: string;
} {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value ?? '');
  assert.ok(m, `traceparent ${String(value)}`);
  return { traceId: m[1] ?? '', spanId: m[2] ?? '', flags: m[3] ?? '' };
}

describe('e2e: tracing.exporter (the mesh’s own tracer) across two mesh.serve services', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let inventoryMesh: Mesh;
  let inventory: MeshServer;
  const inventoryExporter = new InMemorySpanExporter();

  async function meshFor(
    name: string,
    tracing: TracingOptions,
    env: Readonly<Record<string, string>>,
  ): Promise<Mesh> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: {
        id: `${name}-${Math.random().toString(36).slice(2, 8)}`,
        locality: { region: 'r1', zone: 'z1' },
      },
      workload: { name, namespace: 'default', serviceAccount: name },
      env,
      tracing,
    });
    await mesh.ready();
    return mesh;
  }

  async function serve(
    mesh: Mesh,
    service: string,
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<MeshServer> {
    return mesh.serve(handler, {
      service,
      port: 0,
      servicePort: 8080,
      labels: { app: service },
      drainMs: 0,
    });
  }

  /** inventory's recorded spans of `traceId` once there are `n` (its batch delay is short). */
  async function inventorySpans(traceId: string, n: number): Promise<ReadableSpan[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const spans = inventoryExporter
        .getFinishedSpans()
        .filter((s) => s.spanContext().traceId === traceId);
      if (spans.length >= n) return spans;
      if (Date.now() > deadline) throw new Error(`expected ${n} inventory spans of ${traceId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Calls inventory through `mesh`; returns the trace headers it saw. */
  async function callInventory(mesh: Mesh): Promise<SeenHeaders> {
    const res = await mesh.fetch('http://inventory:8080/reserve');
    assert.equal(res.status, 200);
    return (await res.json()) as SeenHeaders;
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'weft-tracing-exporter-'));
    await writeFile(join(dir, 'mesh.yaml'), MESH_YAML);
    cp = await startControlPlaneProcess(dir);
    // inventory exports soon after each span (it outlives the tests; its spans are polled for).
    inventoryMesh = await meshFor(
      'inventory',
      { exporter: inventoryExporter, sampling: 1 },
      { OTEL_BSP_SCHEDULE_DELAY: '20' },
    );
    inventory = await serve(inventoryMesh, 'inventory', (req, res) => {
      const seen: Record<string, unknown> = {};
      for (const h of TRACE_HEADERS) seen[h] = req.headers[h];
      json(res, 200, seen);
    });
  });

  after(async function () {
    await inventory.close().catch(() => undefined);
    await inventoryMesh.close().catch(() => undefined);
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('puts checkout’s server and client spans and inventory’s server span in one trace, exported when the mesh closes', async function () {
    const exporter = new InMemorySpanExporter();
    // InMemorySpanExporter.shutdown() (at mesh.close()) starts a new list: keep this one, which the
    // flush at close fills.
    const exported = exporter.getFinishedSpans();
    const checkoutMesh = await meshFor('checkout', { exporter, sampling: 1 }, HOLD_BATCH_ENV);
    const checkout = await serve(checkoutMesh, 'checkout', (_req, res) => {
      void (async () => {
        const answer = await checkoutMesh.fetch('http://inventory:8080/reserve');
        json(res, answer.status, { inventory: await answer.json() });
      })().catch((err: unknown) => {
        json(res, 500, { error: String(err) });
      });
    });
    let traceId: string;
    try {
      await waitRoutable(checkoutMesh, 'http://inventory:8080/warm-up');
      // From outside the mesh, no trace headers: checkout's server span starts the trace.
      const res = await request(`http://127.0.0.1:${checkout.port}/checkout`);
      assert.equal(res.statusCode, 200);
      const body = (await res.body.json()) as { inventory: SeenHeaders };
      const seen = traceparentOf(body.inventory.traceparent);
      traceId = seen.traceId;
      assert.equal(seen.flags, '01');
      assert.deepEqual(checkoutMesh.stats().tracing, {
        enabled: true,
        provider: 'tracing.exporter (InMemorySpanExporter)',
        sampler: 'parentbased_traceidratio 1',
        spansStarted: checkoutMesh.stats().tracing.spansStarted,
        // Sampling 1: every span the mesh started is recorded.
        spansRecorded: checkoutMesh.stats().tracing.spansStarted,
        samplingRatio: 1,
        meshTracer: true,
        propagators: ['tracecontext'],
      });
      assert.equal(exporter.getFinishedSpans().length, 0, 'held in the batch until close');
      // inventory's own exporter has its server span, child of the span that sent the request.
      const [inventoryServer] = await inventorySpans(seen.traceId, 1);
      assert.ok(inventoryServer);
      assert.equal(inventoryServer.kind, SpanKind.SERVER);
      assert.equal(parentOf(inventoryServer), seen.spanId);
      assert.equal(inventoryServer.parentSpanContext?.isRemote, true);
      assert.equal(inventoryServer.resource.attributes['service.name'], 'inventory');
    } finally {
      await checkout.close();
      await checkoutMesh.close();
    }
    // close() flushed checkout's batch: the server span and the client span of this trace.
    const spans = exported.filter((s) => s.spanContext().traceId === traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    const client = spans.find((s) => s.kind === SpanKind.CLIENT);
    assert.ok(server && client, spans.map((s) => `${s.name}/${SpanKind[s.kind]}`).join(', '));
    assert.equal(spans.length, 2);
    assert.equal(parentOf(server), undefined, 'a request without trace headers starts a trace');
    assert.equal(parentOf(client), server.spanContext().spanId);
    assert.equal(client.attributes['server.address'], 'inventory');
    assert.equal(client.attributes['http.response.status_code'], 200);
    assert.equal(server.resource.attributes['service.name'], 'checkout');
    assert.equal(client.resource.attributes['service.name'], 'checkout');
    assert.equal(client.instrumentationScope.name, '@weft/sdk');
    // inventory's server span is the client span's child, in the same trace.
    const [inventoryServer] = await inventorySpans(traceId, 1);
    assert.ok(inventoryServer);
    assert.equal(parentOf(inventoryServer), client.spanContext().spanId);
    // The warm-up calls were exported too (each its own trace): nothing was left in the queue.
    assert.ok(exported.length > spans.length);
  });

  it('with sampling 0 exports nothing, and inventory still sees a traceparent with flags 00', async function () {
    const exporter = new InMemorySpanExporter();
    const exported = exporter.getFinishedSpans();
    const edge = await meshFor('checkout', { exporter, sampling: 0 }, HOLD_BATCH_ENV);
    let seen: SeenHeaders;
    try {
      await waitRoutable(edge, 'http://inventory:8080/warm-up');
      seen = await callInventory(edge);
      assert.ok(edge.stats().tracing.spansStarted > 0, 'spans were started (sampled out)');
    } finally {
      await edge.close();
    }
    const { traceId, flags } = traceparentOf(seen.traceparent);
    assert.equal(flags, '00');
    assert.equal(seen.b3, undefined);
    assert.equal(exported.length, 0, 'nothing exported, even after the flush at close');
    // inventory follows the caller's decision (parent-based): nothing of the trace is recorded.
    // Its batch exports every 20 ms; give it many times that.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      inventoryExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId),
      [],
    );
  });

  it("with propagators ['tracecontext', 'b3multi'] injects traceparent and x-b3-*, not b3", async function () {
    const exporter = new InMemorySpanExporter();
    const edge = await meshFor(
      'checkout',
      { exporter, sampling: 1, propagators: ['tracecontext', 'b3multi'] },
      {},
    );
    let seen: SeenHeaders;
    try {
      await waitRoutable(edge, 'http://inventory:8080/warm-up');
      seen = await callInventory(edge);
      assert.deepEqual(edge.stats().tracing.propagators, ['tracecontext', 'b3multi']);
    } finally {
      await edge.close();
    }
    const w3c = traceparentOf(seen.traceparent);
    assert.equal(w3c.flags, '01');
    assert.equal(seen['x-b3-traceid'], w3c.traceId);
    assert.equal(seen['x-b3-spanid'], w3c.spanId);
    assert.equal(seen['x-b3-sampled'], '1');
    assert.equal(seen.b3, undefined);
    // inventory read the context (W3C wins): its server span continues the same span.
    const [inventoryServer] = await inventorySpans(w3c.traceId, 1);
    assert.ok(inventoryServer);
    assert.equal(parentOf(inventoryServer), w3c.spanId);
  });
});
