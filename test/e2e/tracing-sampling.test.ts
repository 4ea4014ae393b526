// Issue 6 "Sampling configurable (MeshConfig / env)": the control plane's MeshConfig
// `tracing.sampling` (percent, Istio's default 1) reaches every client as the HCM's
// `tracing.random_sampling`; the mesh's own tracer samples trace roots by it — changed live by
// editing the config — unless local configuration (tracing.sampling, WEFT_TRACE_SAMPLING,
// OTEL_TRACES_SAMPLER) chose a sampler. A real `weft control-plane` process, a plain backend on
// loopback that echoes the traceparent it got, and the mesh's tracer exporting in memory.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createMesh, type Mesh, type MeshOptions } from '@weft/sdk';
import {
  eventually,
  startControlPlaneProcess,
  writeFileAtomic,
  type ControlPlaneProcess,
} from '../helpers/processes.js';
import { listenOnLoopback, staticServiceYaml } from '../helpers/sdk-fixtures.js';

function meshYaml(backendPort: number, samplingPercent: number | undefined): string {
  const service = staticServiceYaml({
    host: 'payment',
    port: 8080,
    protocol: 'HTTP',
    endpointPorts: [backendPort],
  });
  if (samplingPercent === undefined) return service;
  return `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh, namespace: weft-system }
spec:
  tracing: { sampling: ${samplingPercent} }
---
${service}`;
}

describe('e2e: tracing sampling from the control plane (MeshConfig tracing.sampling)', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let backend: Server;
  let backendPort: number;
  const meshes: Mesh[] = [];

  before(async () => {
    backend = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ traceparent: req.headers['traceparent'] ?? null }));
    });
    backendPort = await listenOnLoopback(backend);
    dir = await mkdtemp(join(tmpdir(), 'weft-tracing-sampling-'));
    await writeFile(join(dir, 'mesh.yaml'), meshYaml(backendPort, 100));
    cp = await startControlPlaneProcess(dir);
  });

  after(async () => {
    for (const m of meshes) await m.close().catch(() => undefined);
    await cp.stop();
    backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function meshWith(
    id: string,
    tracing: MeshOptions['tracing'],
    env: Record<string, string> = {},
  ): Promise<{ mesh: Mesh; lines: { message: string; fields: unknown }[] }> {
    const lines: { message: string; fields: unknown }[] = [];
    const log = (message: string, fields?: unknown): void => {
      lines.push({ message, fields });
    };
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: id, namespace: 'default' },
      env,
      logger: { debug: () => undefined, info: log, warn: log, error: log },
      tracing,
    });
    meshes.push(mesh);
    await mesh.ready();
    return { mesh, lines };
  }

  /** The sampled flag of the traceparent the backend received for one call. */
  async function sampledFlag(mesh: Mesh): Promise<string> {
    const res = await mesh.fetch('http://payment:8080/charge');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { traceparent: string | null };
    const m = /^00-[0-9a-f]{32}-[0-9a-f]{16}-(0[01])$/.exec(body.traceparent ?? '');
    assert.ok(m, `traceparent ${String(body.traceparent)}`);
    return m[1] ?? '';
  }

  it('samples every trace root at 100 %, then none once the MeshConfig says 0 (live)', async () => {
    const exporter = new InMemorySpanExporter();
    // Batches every 50 ms (OpenTelemetry's OTEL_BSP_SCHEDULE_DELAY, read from the mesh's env).
    const { mesh, lines } = await meshWith(
      'sampled-by-cp',
      { exporter },
      { OTEL_BSP_SCHEDULE_DELAY: '50', WEFT_ADMIN_PORT: '0' },
    );
    const metrics = async (): Promise<string> => {
      const port = mesh.admin?.port;
      assert.ok(port !== undefined, 'admin listener');
      return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    };
    assert.equal(await sampledFlag(mesh), '01');
    assert.equal(mesh.stats().tracing.sampler, 'parentbased_traceidratio 1 (control plane)');
    assert.ok(
      lines.some(
        (l) =>
          l.message === 'mesh tracing: sampling from the control plane' &&
          (l.fields as { percent?: number }).percent === 100,
      ),
    );

    // The same on /metrics: the ratio, the set-up, spans started and recorded.
    let text = await metrics();
    assert.match(text, /^weft_sdk_tracing_sampling_ratio\{node_id="sampled-by-cp"\} 1$/m);
    assert.match(
      text,
      /^weft_sdk_tracing_info\{provider="tracing\.exporter \(InMemorySpanExporter\)",sampler="parentbased_traceidratio 1 \(control plane\)",propagators="tracecontext",node_id="sampled-by-cp"\} 1$/m,
    );
    assert.match(text, /^weft_sdk_tracing_spans_started_total\{node_id="sampled-by-cp"\} 1$/m);
    assert.match(text, /^weft_sdk_tracing_spans_recorded_total\{node_id="sampled-by-cp"\} 1$/m);

    await writeFileAtomic(join(dir, 'mesh.yaml'), meshYaml(backendPort, 0));
    await eventually(
      () =>
        mesh.stats().tracing.sampler?.startsWith('parentbased_traceidratio 0 ') ? true : undefined,
      20_000,
      'the control plane sampling 0 to arrive',
    );
    for (let i = 0; i < 20; i++) assert.equal(await sampledFlag(mesh), '00');
    text = await metrics();
    assert.match(text, /^weft_sdk_tracing_sampling_ratio\{node_id="sampled-by-cp"\} 0$/m);
    assert.match(text, /^weft_sdk_tracing_spans_started_total\{node_id="sampled-by-cp"\} 21$/m);
    assert.match(text, /^weft_sdk_tracing_spans_recorded_total\{node_id="sampled-by-cp"\} 1$/m);

    // Back to Istio's default (1 %) when the MeshConfig goes away.
    await writeFileAtomic(join(dir, 'mesh.yaml'), meshYaml(backendPort, undefined));
    await eventually(
      () =>
        mesh.stats().tracing.sampler === 'parentbased_traceidratio 0.01 (control plane)'
          ? true
          : undefined,
      20_000,
      "Istio's default sampling to arrive",
    );
    await writeFileAtomic(join(dir, 'mesh.yaml'), meshYaml(backendPort, 100));
    await eventually(
      () =>
        mesh.stats().tracing.sampler === 'parentbased_traceidratio 1 (control plane)'
          ? true
          : undefined,
      20_000,
      'sampling 100 again',
    );
    // Only sampled calls were exported: the first one and this one, none of the twenty at 0 %.
    assert.equal(await sampledFlag(mesh), '01');
    const spans = await eventually(
      () => (exporter.getFinishedSpans().length >= 2 ? exporter.getFinishedSpans() : undefined),
      10_000,
      'the sampled spans to be exported',
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(exporter.getFinishedSpans().length, 2);
    assert.ok(spans.every((s) => s.attributes['server.address'] === 'payment'));
  });

  it('keeps a local choice (tracing.sampling, OTEL_TRACES_SAMPLER) and says the control plane’s is not applied', async () => {
    await writeFileAtomic(join(dir, 'mesh.yaml'), meshYaml(backendPort, 0));
    const exporter = new InMemorySpanExporter();
    const local = await meshWith('local-sampling', { exporter, sampling: 1 });
    const fromEnv = await meshWith(
      'env-sampling',
      { exporter },
      { OTEL_TRACES_SAMPLER: 'always_on' },
    );
    for (const { mesh, lines } of [local, fromEnv]) {
      assert.equal(await sampledFlag(mesh), '01');
      await eventually(
        () =>
          lines.some((l) => l.message === 'mesh tracing: control plane sampling not applied')
            ? true
            : undefined,
        20_000,
        'the not-applied log line',
      );
    }
    assert.equal(local.mesh.stats().tracing.sampler, 'parentbased_traceidratio 1');
    assert.equal(fromEnv.mesh.stats().tracing.sampler, 'always_on');
  });
});
