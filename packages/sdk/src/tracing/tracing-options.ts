// createMesh's `tracing` option and its environment defaults, validated once into a frozen
// ResolvedTracingOptions (STYLE rules 15-17). Which tracer provider is used is decided at
// createMesh (mesh-tracing-setup.ts): this only reads the input.
import type { ConfigIssue } from '@weft/xds-client';
import type { TracerProvider } from '@opentelemetry/api';

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
   * Sampling ratio 0-1 of the SDK's own provider (parent-based: a sampled caller's trace is always
   * kept). Default: `WEFT_TRACE_SAMPLING`, else `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
   * as `@opentelemetry/sdk-node` reads them (its default: parent-based always-on). A provider you
   * pass or register samples by its own sampler: then this is an error.
   */
  readonly sampling?: number;
}

/** Validated `tracing`: what to do at createMesh. */
export type ResolvedTracingOptions =
  | { readonly mode: 'off' }
  /** Use this provider (passed in). */
  | {
      readonly mode: 'provider';
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
      /** The URL given as `otlpEndpoint`; undefined: the exporter reads the OTEL_* variables. */
      readonly otlpEndpoint: string | undefined;
      /** The OTEL_EXPORTER_OTLP_* variable that is set, when `otlpEndpoint` is not given. */
      readonly otlpEnv: string | undefined;
      /** Undefined: sdk-node's default (OTEL_TRACES_SAMPLER). */
      readonly sampling: number | undefined;
      /** Where `sampling` came from, for the set-up log line. */
      readonly samplingSource: string;
      /** OTEL_SERVICE_NAME is set (sdk-node reads it); else the workload name is the service name. */
      readonly serviceNameFromEnv: boolean;
    };

const TRACING_KEYS = new Set(['tracerProvider', 'otlpEndpoint', 'sampling']);

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
    if (o['otlpEndpoint'] !== undefined) {
      issues.push({
        path: 'tracing.otlpEndpoint',
        message: 'give tracerProvider or otlpEndpoint, not both',
      });
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
      tracerProvider: provider as TracerProvider,
      ignoredSamplingEnv:
        typeof envSampling === 'string' && envSampling !== ''
          ? `${WEFT_TRACE_SAMPLING_ENV}=${envSampling}`
          : undefined,
    };
  }
  let otlpEndpoint: string | undefined;
  let otlpEnv: string | undefined;
  const endpointIn = o['otlpEndpoint'];
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
  return Object.freeze({
    mode: 'auto',
    otlpEndpoint,
    otlpEnv,
    sampling,
    samplingSource,
    serviceNameFromEnv:
      typeof env['OTEL_SERVICE_NAME'] === 'string' && env['OTEL_SERVICE_NAME'] !== '',
  });
}
