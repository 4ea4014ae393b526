// The observability part of the demo (issue 6): a request carrying a B3 header enters `front`,
// whose handler calls `journal` through the mesh. Both workloads trace with the mesh's own tracer
// (sampling from the control plane's MeshConfig `tracing.sampling`), so one trace links the
// caller's span, front's server and client spans and journal's server span; journal sees the
// trace answered in kind (W3C plus the caller's B3). Istio's standard metrics from front's
// admin listener show the same call.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createMesh, type Mesh } from '@weft/sdk';
import { request } from 'undici';
import { registeredServiceYaml } from './mesh-yaml.js';

const CALLER_SPAN_ID = 'e457b5a2e4d86bd1';
const JOURNAL_YAML = registeredServiceYaml('journal');
/** The demo's only MeshConfig: trust domain and the rest stay at their defaults. */
const MESH_CONFIG = `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh, namespace: weft-system }
spec:
  tracing: { sampling: 100 }
`;

async function tracedMesh(
  controlPlane: string,
  name: string,
  exporter: InMemorySpanExporter,
  admin: boolean,
): Promise<Mesh> {
  const mesh = await createMesh({
    controlPlane,
    node: { id: `${name}-1`, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    workload: { name, namespace: 'default' },
    // Batches every 50 ms instead of OpenTelemetry's 5 s, so the demo can show the spans at once.
    env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '50' },
    tracing: { exporter },
    ...(admin ? { admin: { port: 0 } } : {}),
  });
  await mesh.ready();
  return mesh;
}

function describe(span: ReadableSpan): string {
  const parent = span.parentSpanContext?.spanId ?? '(root)';
  return `${SpanKind[span.kind].padEnd(6)} ${span.name.padEnd(4)} ${String(span.resource.attributes['service.name']).padEnd(7)} span ${span.spanContext().spanId} ← parent ${parent}`;
}

/** Runs the observability demo against a running control plane serving `configDir`. */
export async function runObservabilityDemo(
  controlPlane: string,
  configDir: string,
  say: (line: string) => void,
): Promise<void> {
  await writeFile(join(configDir, 'observability.yaml'), JOURNAL_YAML);
  const spans = { front: new InMemorySpanExporter(), journal: new InMemorySpanExporter() };
  const journal = await tracedMesh(controlPlane, 'journal', spans.journal, false);
  const journalServer = await journal.serve(
    (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ traceparent: req.headers['traceparent'], b3: req.headers['b3'] ?? null }),
      );
    },
    { service: 'journal', port: 0, labels: { app: 'journal' }, drainMs: 0 },
  );
  const front = await tracedMesh(controlPlane, 'front', spans.front, true);
  const frontServer = await front.serve(
    (_req, res) => {
      front.fetch('http://journal:8080/entries').then(
        async (answer) => {
          res.statusCode = answer.status;
          res.end(await answer.text());
        },
        (err: unknown) => {
          // Not routable yet (journal's registration on its way through EDS): the caller retries.
          res.statusCode = 503;
          res.end(String(err));
        },
      );
    },
    { service: 'front', port: 0, drainMs: 0 },
  );
  say(
    "13. observability: a request with a B3 header → front (mesh.serve) → journal through the mesh; both trace with the mesh's own tracer",
  );
  // journal's endpoint reaches front through EDS after the registration debounce; each try is its
  // own trace (the caller's B3 context), so the one that got through is shown alone.
  let seen: { traceparent?: string; b3?: string | null } = {};
  let traceId = '';
  for (let i = 0; i < 100; i++) {
    traceId = randomBytes(16).toString('hex');
    const res = await request(`http://127.0.0.1:${frontServer.port}/checkout`, {
      headers: { b3: `${traceId}-${CALLER_SPAN_ID}-1` },
    });
    const body = await res.body.text();
    if (res.statusCode === 200) {
      seen = JSON.parse(body) as typeof seen;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  say(
    `   sampler: ${front.stats().tracing.sampler ?? '-'} — the control plane's default (Istio's 1 %); the caller's B3 says sampled, and a child follows its parent`,
  );
  say(`   journal received traceparent ${seen.traceparent ?? '-'}`);
  say(`   journal received b3          ${seen.b3 ?? '-'} (answered in kind)`);
  const spansOf = async (id: string, n: number): Promise<ReadableSpan[]> => {
    for (let i = 0; i < 50; i++) {
      const all = [...spans.front.getFinishedSpans(), ...spans.journal.getFinishedSpans()].filter(
        (s) => s.spanContext().traceId === id,
      );
      if (all.length >= n) return all;
      await new Promise((r) => setTimeout(r, 50));
    }
    return [];
  };
  say(`   trace ${traceId} (the caller's span ${CALLER_SPAN_ID}):`);
  const found = await spansOf(traceId, 3);
  found.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  for (const span of found) say(`     ${describe(span)}`);

  // Sampling is the control plane's: MeshConfig tracing.sampling 100 reaches both meshes live.
  await writeFile(join(configDir, 'observability.yaml'), `${MESH_CONFIG}---\n${JOURNAL_YAML}`);
  for (let i = 0; i < 100 && front.stats().tracing.sampler?.includes(' 1 (') !== true; i++) {
    await front.fetch('http://journal:8080/entries').then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
  }
  const root = await request(`http://127.0.0.1:${frontServer.port}/checkout`);
  const rootSeen = JSON.parse(await root.body.text()) as typeof seen;
  say(
    `   MeshConfig tracing.sampling: 100 → sampler ${front.stats().tracing.sampler ?? '-'}; a request with no trace headers: journal received ${rootSeen.traceparent ?? '-'} (sampled, a new trace)`,
  );
  const adminPort = front.admin?.port;
  if (adminPort !== undefined) {
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('istio_requests_total{') &&
          l.includes('reporter="source"') &&
          l.includes('response_code="200"'),
      );
    say(`   front /metrics: ${line ?? '(no istio_requests_total yet)'}`);
  }
  await frontServer.close();
  await journalServer.close();
  await Promise.all([front.close(), journal.close()]);
}
