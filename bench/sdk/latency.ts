// Measurement loops shared by the request-path benchmarks: sequential latency and concurrent
// throughput of an async call, interleaved between variants so machine noise hits all alike.
import { performance } from 'node:perf_hooks';
import { quantile } from '../helpers/report.js';

/** One variant of a benchmark: a name and the call it makes. */
export interface Variant {
  readonly name: string;
  readonly call: () => Promise<unknown>;
}

/** Latency and throughput of one variant. */
export interface VariantResult {
  readonly name: string;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly rps: number;
}

/** Runs `n` sequential calls and returns their durations in µs. */
async function sequential(call: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** Calls per second with `concurrency` callers for `durationMs`. */
export async function throughput(
  call: () => Promise<unknown>,
  concurrency: number,
  durationMs: number,
): Promise<number> {
  const end = performance.now() + durationMs;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await call();
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - t0) / 1000);
}

/**
 * Measures every variant: warm-up, then `rounds` rounds in which each variant runs `perRound`
 * sequential calls (order rotated per round), then a throughput run each.
 */
export async function measure(
  variants: readonly Variant[],
  options: {
    warmup: number;
    rounds: number;
    perRound: number;
    concurrency: number;
    throughputMs: number;
  },
): Promise<VariantResult[]> {
  for (const v of variants) await sequential(v.call, options.warmup);
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
    for (const v of order)
      samples.get(v.name)!.push(...(await sequential(v.call, options.perRound)));
  }
  const results: VariantResult[] = [];
  for (const v of variants) {
    const s = samples.get(v.name)!;
    const rps = await throughput(v.call, options.concurrency, options.throughputMs);
    results.push({
      name: v.name,
      p50Us: quantile(s, 0.5),
      p99Us: quantile(s, 0.99),
      meanUs: s.reduce((a, b) => a + b, 0) / s.length,
      rps,
    });
  }
  return results;
}

/** Options of {@link measure}. */
export type MeasureOptions = Parameters<typeof measure>[1];

/**
 * Measures `pooled` variants with `options`, then `perConnection` ones (a new connection per
 * call: each is far slower, so a fifth of the warm-up and of the calls per round).
 */
export async function measurePooledAndNew(
  pooled: readonly Variant[],
  perConnection: readonly Variant[],
  options: MeasureOptions,
): Promise<{ pooled: VariantResult[]; perConnection: VariantResult[] }> {
  for (const v of [...pooled, ...perConnection]) await v.call(); // every variant answers
  const pooledResults = await measure(pooled, options);
  const perConnectionResults = await measure(perConnection, {
    ...options,
    warmup: Math.round(options.warmup / 5),
    perRound: Math.round(options.perRound / 5),
  });
  return { pooled: pooledResults, perConnection: perConnectionResults };
}

/** A table row of `a` over `b`: p50 and p99 ratios, and throughput as b / a (> 1 = `a` slower). */
export function ratioRow(
  results: readonly VariantResult[],
  a: string,
  b: string,
): (string | number)[] {
  const by = new Map(results.map((r) => [r.name, r]));
  const x = by.get(a);
  const y = by.get(b);
  if (x === undefined || y === undefined) throw new Error(`no result named ${x ? b : a}`);
  return [
    `${a} / ${b}`,
    +(x.p50Us / y.p50Us).toFixed(3),
    +(x.p99Us / y.p99Us).toFixed(3),
    +(y.rps / x.rps).toFixed(3),
  ];
}

/** A table row of one result: name, p50, p99 and mean µs, req/s. */
export function resultRow(r: VariantResult): (string | number)[] {
  return [
    r.name,
    Math.round(r.p50Us),
    Math.round(r.p99Us),
    Math.round(r.meanUs),
    Math.round(r.rps),
  ];
}
