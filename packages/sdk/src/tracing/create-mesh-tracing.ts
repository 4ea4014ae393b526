// Picks the tracer provider at createMesh and logs the choice: the one passed in, else the global
// one when registered, else our own (@opentelemetry/sdk-node with an OTLP/HTTP exporter) when an
// OTLP endpoint is configured, else none (tracing off, zero cost). sdk-node and the exporter are
// imported only when our own provider is started.
import { ProxyTracerProvider, context, propagation, trace } from '@opentelemetry/api';
import type { TracerProvider } from '@opentelemetry/api';
import type { Logger } from '@weft/xds-client';
import { MeshTracing, TRACER_NAME } from './mesh-tracing.js';
import type { ResolvedTracingOptions } from './tracing-options.js';

/**
 * Whether a tracer provider other than the API's no-op one is registered globally. API 1.10 has no
 * other way to ask than the (deprecated) proxy's delegate.
 */
/* eslint-disable @typescript-eslint/no-deprecated -- see above */
function globalProviderRegistered(): boolean {
  const provider: TracerProvider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider)) return true;
  const delegate = provider.getDelegate();
  return delegate !== new ProxyTracerProvider().getDelegate();
}
/* eslint-enable @typescript-eslint/no-deprecated */

/** Builds the mesh's tracing and logs `mesh tracing: …` with provider, exporter and sampler. */
export async function createMeshTracing(
  options: ResolvedTracingOptions,
  version: string,
  serviceName: string,
  logger: Logger,
): Promise<MeshTracing> {
  if (options.mode === 'off') {
    logger.info('mesh tracing: off', { reason: 'tracing: false' });
    return new MeshTracing(undefined, 'off');
  }
  if (options.mode === 'provider') {
    if (options.ignoredSamplingEnv !== undefined) {
      logger.warn('mesh tracing: options.tracerProvider samples by its own sampler', {
        ignored: options.ignoredSamplingEnv,
      });
    }
    logger.info('mesh tracing: set up', {
      provider: 'options.tracerProvider',
      exporter: "the provider's",
      sampler: "the provider's",
    });
    return new MeshTracing(
      options.tracerProvider.getTracer(TRACER_NAME, version),
      'options.tracerProvider',
    );
  }
  if (globalProviderRegistered()) {
    if (options.sampling !== undefined) {
      logger.warn('mesh tracing: a global tracer provider is registered; its sampler is used', {
        ignored: options.samplingSource,
      });
    }
    logger.info('mesh tracing: set up', {
      provider: 'global',
      exporter: "the provider's",
      sampler: "the provider's",
    });
    return new MeshTracing(trace.getTracer(TRACER_NAME, version), 'global');
  }
  if (options.otlpEndpoint === undefined && options.otlpEnv === undefined) {
    logger.info('mesh tracing: off', {
      reason: 'no global tracer provider, no tracing.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT',
      ...(options.sampling === undefined ? {} : { ignored: options.samplingSource }),
    });
    return new MeshTracing(undefined, 'off');
  }
  const [{ NodeSDK }, { OTLPTraceExporter }, { ParentBasedSampler, TraceIdRatioBasedSampler }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-trace'),
    ]);
  const exporter = new OTLPTraceExporter(
    options.otlpEndpoint === undefined ? {} : { url: options.otlpEndpoint },
  );
  const sampler =
    options.sampling === undefined
      ? undefined
      : new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampling) });
  const sdk = new NodeSDK({
    traceExporter: exporter,
    instrumentations: [],
    ...(sampler === undefined ? {} : { sampler }),
    ...(options.serviceNameFromEnv ? {} : { serviceName }),
  });
  sdk.start();
  const where = options.otlpEndpoint ?? `from ${options.otlpEnv ?? ''}`;
  const provider = `sdk-node (otlp ${where})`;
  logger.info('mesh tracing: set up', {
    provider: 'sdk-node (started by the mesh, registered globally)',
    exporter: `otlp/http ${where}`,
    sampler:
      options.sampling === undefined
        ? options.samplingSource
        : `parentbased_traceidratio ${options.sampling} (${options.samplingSource})`,
  });
  return new MeshTracing(trace.getTracer(TRACER_NAME, version), provider, async () => {
    try {
      await sdk.shutdown();
    } finally {
      // Registered by sdk.start(): leave the process as we found it.
      trace.disable();
      context.disable();
      propagation.disable();
      logger.info('mesh tracing: own provider shut down', { exporter: `otlp/http ${where}` });
    }
  });
}
