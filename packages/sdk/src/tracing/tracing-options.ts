// createMesh's `tracing` option and its environment defaults, validated once into a frozen
// ResolvedTracingOptions (STYLE rules 15-17). Which tracer provider is used is decided at
// createMesh (mesh-tracing-setup.ts): this only reads the input.
import type { ConfigIssue } from '@weft/xds-client';
import type { TracerProvider } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { SamplingPolicy } from './mesh-tracer.js';

/** Env variable: sampling ratio (0-1) of the SDK's own provider. */
export const WEFT_TRACE_SAMPLING_ENV = 'WEFT_TRACE_SAMPLING' as const;

/**
 * Distributed tracing (client span per request, one child per attempt, server span per request
 * `mesh.serve()` handles; W3C and B3 propagation). `false` turns it off. Default: on when a
 * global OpenTelemetry tracer provider is registered, else when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set (the SDK starts its own provider), else off.
 */
export interface TracingOptions {
  /**
   * The provider to make spans with (e.g. one with an in-memory exporter in tests). Default: the
   * globally registered one; without one, the SDK's own (see `otlpEndpoint`).
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * OTLP/HTTP traces URL of the SDK's own provider (started with `@opentelemetry/sdk-node` when no
   * provider is registered), e.g. `http://collector:4318/v1/traces`. Default: the `OTEL_EXPORTER_OTLP_*`
   * variables. Not together with `tracerProvider`.
   */
  readonly otlpEndpoint?: string;
  /**
   * An OpenTelemetry SpanExporter (Zipkin, Jaeger, an in-memory one in tests…) for the mesh's own
   * spans: the mesh samples (`sampling`), batches (OTEL_BSP_*) and exports to it, registering
   * nothing globally. Not together with `tracerProvider` or `otlpEndpoint`.
   */
  readonly exporter?: SpanExporter;
  /**
   * Sampling ratio 0-1 of the SDK's own provider (parent-based: a sampled caller's trace is always
   * kept). Default: `WEFT_TRACE_SAMPLING`, else `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
   * as `@opentelemetry/sdk-node` reads them (its default: parent-based always-on). A provider you
   * pass or register samples by its own sampler: then this is an error.
   */
  readonly sampling?: number;
  /**
   * Trace header formats injected into outbound requests: `tracecontext` (W3C `traceparent`,
   * `tracestate`), `b3` (single `b3` header), `b3multi` (`x-b3-traceid`, `-spanid`, `-sampled`).
   * Inbound requests are read in every format, and a call made while handling one also carries the
   * formats that one came with (a B3 caller's trace goes on in B3). Default: OTEL_PROPAGATORS
   * (`baggage` and `none` allowed there), else `['tracecontext']` — each header costs every hop
   * bytes and parsing, so the mesh does not send three encodings of one context unasked; add
   * `b3multi` when B3-only peers (Zipkin, Envoy's Zipkin tracer) must see traces the mesh starts.
   */
  readonly propagators?: readonly TracePropagator[];
}

/** Validated `tracing`: what to do at createMesh. */
export type ResolvedTracingOptions =
  | { readonly mode: 'off' }
  /** Use this provider (passed in). */
  | {
      readonly mode: 'provider';
      /** Trace header formats injected on the way out (all are read on the way in). */
      readonly propagators: readonly TracePropagator[];
      readonly tracerProvider: TracerProvider;
      /** `WEFT_TRACE_SAMPLING` when set: not applied (the provider samples), said in a warning. */
      readonly ignoredSamplingEnv: string | undefined;
    }
  /**
   * Use the global provider if one is registered at createMesh; else start our own when
   * `otlpEndpoint` is set; else off.
   */
  | {
      readonly mode: 'auto';
      /** Trace header formats injected on the way out (all are read on the way in). */
      readonly propagators: readonly TracePropagator[];
      /** `tracing.exporter`: the mesh's spans go there (no sdk-node, nothing registered). */
      readonly exporter: SpanExporter | undefined;
      /** The URL given as `otlpEndpoint`; undefined: the exporter reads the OTEL_* variables. */
      readonly otlpEndpoint: string | undefined;
      /** The OTEL_EXPORTER_OTLP_* variable that is set, when `otlpEndpoint` is not given. */
      readonly otlpEnv: string | undefined;
      /** Undefined: sdk-node's default (OTEL_TRACES_SAMPLER). */
      readonly sampling: number | undefined;
      /** Where `sampling` came from, for the set-up log line. */
      readonly samplingSource: string;
      /**
       * Nothing local chose a sampler (no `sampling`, WEFT_TRACE_SAMPLING or OTEL_TRACES_SAMPLER):
       * the mesh's tracer samples by the control plane's `tracing.random_sampling` once it arrives.
       */
      readonly samplingFromControlPlane: boolean;
      /** OTEL_SERVICE_NAME is set (sdk-node reads it); else the workload name is the service name. */
      readonly serviceNameFromEnv: boolean;
      /**
       * How the mesh's own tracer samples (`sampling`, else OTEL_TRACES_SAMPLER / _ARG); undefined
       * for a sampler only the SDK has (e.g. `jaeger_remote`): the SDK's tracer makes the spans.
       */
      readonly policy: SamplingPolicy | undefined;
      /** The batch span processor's OTEL_BSP_* settings (sdk-node's names, read from `env`). */
      readonly batch: Readonly<Partial<Record<BatchSetting, number>>>;
      /** OTEL_NODE_RESOURCE_DETECTORS (lower case); undefined: sdk-node's default detectors. */
      readonly resourceDetectors: readonly string[] | undefined;
      /** OTEL_SDK_DISABLED=true: tracing off, as sdk-node would leave it. */
      readonly sdkDisabled: boolean;
    };

/** Settings of the batch span processor, as BatchSpanProcessor names them. */
export type BatchSetting =
  'maxQueueSize' | 'scheduledDelayMillis' | 'exportTimeoutMillis' | 'maxExportBatchSize';

const BATCH_ENV: Readonly<Record<string, BatchSetting>> = {
  OTEL_BSP_MAX_QUEUE_SIZE: 'maxQueueSize',
  OTEL_BSP_SCHEDULE_DELAY: 'scheduledDelayMillis',
  OTEL_BSP_EXPORT_TIMEOUT: 'exportTimeoutMillis',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'maxExportBatchSize',
};

/** OTEL_TRACES_SAMPLER values the mesh's tracer samples by itself: whether parent-based, fixed ratio. */
const SAMPLERS: Readonly<Record<string, { parentBased: boolean; ratio: number | 'arg' }>> = {
  always_on: { parentBased: false, ratio: 1 },
  always_off: { parentBased: false, ratio: 0 },
  traceidratio: { parentBased: false, ratio: 'arg' },
  parentbased_always_on: { parentBased: true, ratio: 1 },
  parentbased_always_off: { parentBased: true, ratio: 0 },
  parentbased_traceidratio: { parentBased: true, ratio: 'arg' },
};

function envString(env: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = env[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The mesh tracer's sampling: `sampling` (parent-based ratio) when given, else OTEL_TRACES_SAMPLER
 * and OTEL_TRACES_SAMPLER_ARG as the OpenTelemetry SDK reads them (default parentbased_always_on).
 */
function samplingPolicyOf(
  sampling: number | undefined,
  env: Readonly<Record<string, unknown>>,
  issues: ConfigIssue[],
): SamplingPolicy | undefined {
  if (sampling !== undefined) {
    return {
      parentBased: true,
      ratio: sampling,
      description: `parentbased_traceidratio ${sampling}`,
    };
  }
  const name = (envString(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase();
  const known = SAMPLERS[name];
  if (known === undefined) return undefined;
  let ratio = 1;
  if (known.ratio === 'arg') {
    const arg = envString(env, 'OTEL_TRACES_SAMPLER_ARG');
    if (arg !== undefined) ratio = ratioOf(arg, 'env.OTEL_TRACES_SAMPLER_ARG', issues) ?? 1;
  } else {
    ratio = known.ratio;
  }
  return {
    parentBased: known.parentBased,
    ratio,
    description: known.ratio === 'arg' ? `${name} ${ratio}` : name,
  };
}

function batchSettingsOf(
  env: Readonly<Record<string, unknown>>,
  issues: ConfigIssue[],
): Readonly<Partial<Record<BatchSetting, number>>> {
  const out: Partial<Record<BatchSetting, number>> = {};
  for (const [name, setting] of Object.entries(BATCH_ENV)) {
    const v = envString(env, name);
    if (v === undefined) continue;
    const n = Number(v);
    if (Number.isInteger(n) && n >= 0) out[setting] = n;
    else
      issues.push({
        path: `env.${name}`,
        message: `expected a whole number ≥ 0, got ${JSON.stringify(v)}`,
      });
  }
  return out;
}

const TRACING_KEYS = new Set([
  'tracerProvider',
  'otlpEndpoint',
  'exporter',
  'sampling',
  'propagators',
]);

/** Trace header formats the mesh injects: W3C trace context, B3 single header, B3 multi header. */
export type TracePropagator = 'tracecontext' | 'b3' | 'b3multi';
/**
 * Injected when neither `tracing.propagators` nor OTEL_PROPAGATORS says otherwise: W3C, as
 * OpenTelemetry's default. A request handled for an inbound one also carries the formats that one
 * came with (MeshTracing.headersOf), so B3 callers' traces go on in B3.
 */
export const DEFAULT_PROPAGATORS: readonly TracePropagator[] = Object.freeze(['tracecontext']);
const PROPAGATORS = new Set<string>(['tracecontext', 'b3', 'b3multi'] satisfies TracePropagator[]);

/**
 * The formats to inject: `tracing.propagators`, else OTEL_PROPAGATORS (OpenTelemetry's names;
 * `baggage` is allowed and needs nothing from the mesh: a caller's `baggage` header passes through
 * untouched; `none` injects no trace headers), else DEFAULT_PROPAGATORS (W3C).
 */
function propagatorsOf(
  input: unknown,
  env: Readonly<Record<string, unknown>>,
  issues: ConfigIssue[],
): readonly TracePropagator[] {
  let names: readonly unknown[];
  let path: string;
  if (input !== undefined) {
    if (!Array.isArray(input)) {
      issues.push({
        path: 'tracing.propagators',
        message: `expected a list of tracecontext, b3, b3multi, got ${typeName(input)}`,
      });
      return DEFAULT_PROPAGATORS;
    }
    names = input;
    path = 'tracing.propagators';
  } else {
    const v = env['OTEL_PROPAGATORS'];
    if (typeof v !== 'string' || v.trim() === '') return DEFAULT_PROPAGATORS;
    // OpenTelemetry's names; B3's single-header propagator is `b3`, its multi-header one `b3multi`.
    names = v
      .split(',')
      .map((n) => n.trim().toLowerCase())
      .filter((n) => n !== '');
    path = 'env.OTEL_PROPAGATORS';
  }
  const out: TracePropagator[] = [];
  for (const [i, name] of names.entries()) {
    if (typeof name === 'string' && PROPAGATORS.has(name)) {
      if (!out.includes(name as TracePropagator)) out.push(name as TracePropagator);
    } else if (input !== undefined || (name !== 'baggage' && name !== 'none')) {
      // `baggage` and `none` are OTEL_PROPAGATORS names only: the option lists header formats.
      issues.push({
        path: input === undefined ? path : `${path}[${i}]`,
        message: `unsupported propagator ${JSON.stringify(name)}: the mesh injects tracecontext, b3 and b3multi (and passes baggage through)`,
      });
    }
  }
  return Object.freeze(out);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function ratioOf(v: unknown, path: string, issues: ConfigIssue[]): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 1) return n;
  issues.push({
    path,
    message: `expected a sampling ratio 0-1, got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`,
  });
  return undefined;
}

/** Reads `tracing` (pushing each issue onto `issues`) with the environment's defaults. */
export function resolveTracingOptions(
  input: unknown,
  env: Readonly<Record<string, unknown>>,
  issues: ConfigIssue[],
): ResolvedTracingOptions {
  if (input === false) return { mode: 'off' };
  if (
    input !== undefined &&
    (typeof input !== 'object' || input === null || Array.isArray(input))
  ) {
    issues.push({ path: 'tracing', message: `expected object or false, got ${typeName(input)}` });
    return { mode: 'off' };
  }
  const o = (input ?? {}) as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(o)) {
    if (!TRACING_KEYS.has(key)) issues.push({ path: `tracing.${key}`, message: 'unknown field' });
  }
  const provider = o['tracerProvider'];
  if (provider !== undefined) {
    if (
      typeof provider !== 'object' ||
      provider === null ||
      typeof (provider as { getTracer?: unknown }).getTracer !== 'function'
    ) {
      issues.push({
        path: 'tracing.tracerProvider',
        message: 'expected an OpenTelemetry TracerProvider (getTracer)',
      });
      return { mode: 'off' };
    }
    for (const other of ['otlpEndpoint', 'exporter']) {
      if (o[other] !== undefined) {
        issues.push({
          path: `tracing.${other}`,
          message: `give tracerProvider or ${other}, not both`,
        });
      }
    }
    if (o['sampling'] !== undefined) {
      issues.push({
        path: 'tracing.sampling',
        message: 'a tracerProvider you pass samples by its own sampler: configure it there',
      });
    }
    const envSampling = env[WEFT_TRACE_SAMPLING_ENV];
    return {
      mode: 'provider',
      propagators: propagatorsOf(o['propagators'], env, issues),
      tracerProvider: provider as TracerProvider,
      ignoredSamplingEnv:
        typeof envSampling === 'string' && envSampling !== ''
          ? `${WEFT_TRACE_SAMPLING_ENV}=${envSampling}`
          : undefined,
    };
  }
  let exporter: SpanExporter | undefined;
  const exporterIn = o['exporter'];
  if (exporterIn !== undefined) {
    if (
      typeof exporterIn !== 'object' ||
      exporterIn === null ||
      typeof (exporterIn as { export?: unknown }).export !== 'function' ||
      typeof (exporterIn as { shutdown?: unknown }).shutdown !== 'function'
    ) {
      issues.push({
        path: 'tracing.exporter',
        message: 'expected an OpenTelemetry SpanExporter (export, shutdown)',
      });
    } else {
      exporter = exporterIn as SpanExporter;
    }
    if (o['otlpEndpoint'] !== undefined) {
      issues.push({
        path: 'tracing.otlpEndpoint',
        message: 'give exporter or otlpEndpoint, not both',
      });
    }
  }
  let otlpEndpoint: string | undefined;
  let otlpEnv: string | undefined;
  const endpointIn = exporter === undefined ? o['otlpEndpoint'] : undefined;
  if (endpointIn !== undefined) {
    if (typeof endpointIn !== 'string' || !/^https?:\/\/\S+$/.test(endpointIn)) {
      issues.push({
        path: 'tracing.otlpEndpoint',
        message: `expected an http(s) URL, got ${typeof endpointIn === 'string' ? JSON.stringify(endpointIn) : typeName(endpointIn)}`,
      });
    } else {
      otlpEndpoint = endpointIn;
    }
  } else {
    // sdk-node's OTLP exporter reads these itself; we only need to know one is set.
    for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
      const v = env[name];
      if (typeof v === 'string' && v !== '') {
        otlpEnv = name;
        break;
      }
    }
  }
  let sampling: number | undefined;
  let samplingSource = 'OTEL_TRACES_SAMPLER (sdk-node default: parentbased_always_on)';
  if (o['sampling'] !== undefined) {
    sampling = ratioOf(o['sampling'], 'tracing.sampling', issues);
    samplingSource = 'tracing.sampling';
  } else {
    const v = env[WEFT_TRACE_SAMPLING_ENV];
    if (v !== undefined && v !== '') {
      sampling = ratioOf(v, `env.${WEFT_TRACE_SAMPLING_ENV}`, issues);
      samplingSource = WEFT_TRACE_SAMPLING_ENV;
    }
  }
  const policy = samplingPolicyOf(sampling, env, issues);
  if (exporter !== undefined && policy === undefined) {
    issues.push({
      path: 'env.OTEL_TRACES_SAMPLER',
      message: `${envString(env, 'OTEL_TRACES_SAMPLER') ?? ''} is not a sampler the mesh's tracer has (always_on, always_off, traceidratio and their parentbased_ forms): set tracing.sampling`,
    });
  }
  return Object.freeze({
    mode: 'auto',
    samplingFromControlPlane:
      sampling === undefined && envString(env, 'OTEL_TRACES_SAMPLER') === undefined,
    exporter,
    propagators: propagatorsOf(o['propagators'], env, issues),
    otlpEndpoint,
    otlpEnv,
    sampling,
    samplingSource,
    serviceNameFromEnv:
      typeof env['OTEL_SERVICE_NAME'] === 'string' && env['OTEL_SERVICE_NAME'] !== '',
    policy,
    batch: batchSettingsOf(env, issues),
    resourceDetectors: envString(env, 'OTEL_NODE_RESOURCE_DETECTORS')
      ?.toLowerCase()
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== ''),
    sdkDisabled: envString(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true',
  });
}
