// Prometheus metrics of tracing, read at scrape time from `mesh.stats().tracing` (issue 6:
// sampling configurable and visible; how many spans the mesh makes and keeps).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TracingStats } from '../tracing/mesh-tracing.js';

/**
 * Registers into `registry`:
 * - `weft_sdk_tracing_info{provider,sampler,propagators}` 1 (`sampler` `-` unless the mesh's own
 *   tracer makes the spans; `propagators` comma-joined, `none` for none);
 * - `weft_sdk_tracing_sampling_ratio`: the mesh tracer's ratio for trace roots (no sample for a
 *   provider of the application's, whose sampler decides);
 * - `weft_sdk_tracing_spans_started_total`, `weft_sdk_tracing_spans_recorded_total` (sampled).
 */
export function registerTracingMetrics(registry: Registry, tracing: () => TracingStats): void {
  new Gauge({
    name: 'weft_sdk_tracing_info',
    help: 'Tracing set-up: provider, sampler of the mesh tracer, propagators injected (value 1)',
    labelNames: ['provider', 'sampler', 'propagators'],
    registers: [registry],
    collect() {
      this.reset();
      const t = tracing();
      this.set(
        {
          provider: t.provider,
          sampler: t.sampler ?? '-',
          propagators: t.propagators.length === 0 ? 'none' : t.propagators.join(','),
        },
        1,
      );
    },
  });
  new Gauge({
    name: 'weft_sdk_tracing_sampling_ratio',
    help: "Ratio of trace roots the mesh's tracer samples (0-1)",
    registers: [registry],
    collect() {
      this.reset();
      const ratio = tracing().samplingRatio;
      if (ratio !== undefined) this.set(ratio);
    },
  });
  for (const [field, name, help] of [
    ['spansStarted', 'started', 'Spans the mesh started (client, attempt, server), sampled or not'],
    ['spansRecorded', 'recorded', 'Spans the mesh started that were sampled (recorded)'],
  ] as const) {
    new Counter({
      name: `weft_sdk_tracing_spans_${name}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(tracing()[field]);
      },
    });
  }
}
