// Picks the tracer provider at createMesh and logs the choice: the one passed in, else the global
// one when registered, else our own (@opentelemetry/sdk-node with an OTLP/HTTP exporter) when an
// OTLP endpoint is configured, else none (tracing off, zero cost). sdk-node and the exporter are
// imported only when our own provider is started; then the mesh's spans are made by its own tracer
// (mesh-tracer.ts) into sdk-node's batch processor, sampled alike.
import { ProxyTracerProvider, context, propagation, trace } from '@opentelemetry/api';
import type { TracerProvider } from '@opentelemetry/api';
import type * as Resources_ from '@opentelemetry/resources';
import type { Resource, ResourceDetector } from '@opentelemetry/resources';
import type * as SdkTrace_ from '@opentelemetry/sdk-trace';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Logger } from '@weft/xds-client';
import { MeshTracer, MeshTracerSampler } from './mesh-tracer.js';
import type { SamplingPolicy } from './mesh-tracer.js';
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
      propagators: propagatorList(options.propagators),
    });
    return new MeshTracing(
      options.tracerProvider.getTracer(TRACER_NAME, version),
      'options.tracerProvider',
      { propagators: options.propagators, logger },
    );
  }
  if (options.exporter !== undefined && options.policy !== undefined) {
    return exporterTracing(options, options.exporter, options.policy, version, serviceName, logger);
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
      propagators: propagatorList(options.propagators),
    });
    return new MeshTracing(trace.getTracer(TRACER_NAME, version), 'global', {
      propagators: options.propagators,
      logger,
    });
  }
  if (options.otlpEndpoint === undefined && options.otlpEnv === undefined) {
    logger.info('mesh tracing: off', {
      reason: 'no global tracer provider, no tracing.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT',
      ...(options.sampling === undefined ? {} : { ignored: options.samplingSource }),
    });
    return new MeshTracing(undefined, 'off');
  }
  if (options.sdkDisabled) {
    logger.info('mesh tracing: off', { reason: 'OTEL_SDK_DISABLED=true' });
    return new MeshTracing(undefined, 'off');
  }
  const [{ NodeSDK }, { OTLPTraceExporter }, sdkTrace, resources] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
  ]);
  const exporter = new OTLPTraceExporter(
    options.otlpEndpoint === undefined ? {} : { url: options.otlpEndpoint },
  );
  // One processor and one resource for the mesh's spans and the application's (sdk-node's provider).
  const { processor, resource } = meshPipeline(
    sdkTrace,
    resources,
    exporter,
    options,
    serviceName,
    logger,
  );
  const policy = options.policy;
  const scope = { name: TRACER_NAME, version };
  // The application's spans (sdk-node's provider) are sampled as the mesh's, live.
  const meshTracer =
    policy === undefined ? undefined : new MeshTracer({ processor, resource, scope }, policy);
  const sampler = meshTracer === undefined ? undefined : new MeshTracerSampler(meshTracer);
  const sdk = new NodeSDK({
    spanProcessors: [processor],
    resource,
    autoDetectResources: false,
    instrumentations: [],
    ...(sampler === undefined ? {} : { sampler }),
  });
  sdk.start();
  const where = options.otlpEndpoint ?? `from ${options.otlpEnv ?? ''}`;
  const provider = `sdk-node (otlp ${where})`;
  logger.info('mesh tracing: set up', {
    provider: 'sdk-node (started by the mesh, registered globally)',
    exporter: `otlp/http ${where}`,
    sampler:
      policy === undefined
        ? `${options.samplingSource}, applied by the OpenTelemetry SDK's tracer`
        : samplerText(options, policy),
    propagators: propagatorList(options.propagators),
  });
  const tracer = meshTracer ?? trace.getTracer(TRACER_NAME, version);
  const shutdown = async (): Promise<void> => {
    try {
      await sdk.shutdown();
    } finally {
      // Registered by sdk.start(): leave the process as we found it.
      trace.disable();
      context.disable();
      propagation.disable();
      logger.info('mesh tracing: own provider shut down', { exporter: `otlp/http ${where}` });
    }
  };
  return new MeshTracing(tracer, provider, {
    shutdown,
    propagators: options.propagators,
    samplingFromControlPlane: options.samplingFromControlPlane,
    logger,
  });
}

/** The mesh tracer's sampler and where it came from, for the set-up log line. */
function samplerText(
  options: Extract<ResolvedTracingOptions, { mode: 'auto' }>,
  policy: SamplingPolicy,
): string {
  if (options.samplingFromControlPlane) {
    return `${policy.description} until the control plane's tracing.random_sampling arrives`;
  }
  const source = options.sampling === undefined ? 'OTEL_TRACES_SAMPLER' : options.samplingSource;
  return `${policy.description} (${source})`;
}

/** `tracecontext,b3,b3multi` (or `none`) for the set-up log line. */
function propagatorList(propagators: readonly string[]): string {
  return propagators.length === 0 ? 'none' : propagators.join(',');
}

/**
 * `tracing.exporter`: the mesh's tracer into a batch processor of its own over the given exporter;
 * nothing is registered globally (the application's own spans are its business).
 */
async function exporterTracing(
  options: Extract<ResolvedTracingOptions, { mode: 'auto' }>,
  exporter: SpanExporter,
  policy: SamplingPolicy,
  version: string,
  serviceName: string,
  logger: Logger,
): Promise<MeshTracing> {
  const [sdkTrace, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
  ]);
  const { processor, resource } = meshPipeline(
    sdkTrace,
    resources,
    exporter,
    options,
    serviceName,
    logger,
  );
  const tracer = new MeshTracer(
    { processor, resource, scope: { name: TRACER_NAME, version } },
    policy,
  );
  logger.info('mesh tracing: set up', {
    provider: "the mesh's own (tracing.exporter, not registered globally)",
    exporter: exporter.constructor.name,
    sampler: samplerText(options, policy),
    propagators: propagatorList(options.propagators),
  });
  return new MeshTracing(tracer, `tracing.exporter (${exporter.constructor.name})`, {
    shutdown: async () => {
      await processor.shutdown();
      logger.info('mesh tracing: exporter shut down', { exporter: exporter.constructor.name });
    },
    propagators: options.propagators,
    samplingFromControlPlane: options.samplingFromControlPlane,
    logger,
  });
}

type Resources = typeof Resources_;
type SdkTrace = typeof SdkTrace_;

/**
 * The batch processor over `exporter` (OTEL_BSP_* settings) and the resource (meshResource) the
 * mesh's tracer hands its spans to.
 */
function meshPipeline(
  sdkTrace: SdkTrace,
  resources: Resources,
  exporter: SpanExporter,
  options: Extract<ResolvedTracingOptions, { mode: 'auto' }>,
  serviceName: string,
  logger: Logger,
): { processor: SpanProcessor; resource: Resource } {
  return {
    processor: new sdkTrace.BatchSpanProcessor({ exporter, ...options.batch }),
    resource: meshResource(
      resources,
      options.resourceDetectors,
      options.serviceNameFromEnv ? undefined : serviceName,
      logger,
    ),
  };
}

/**
 * The resource of the mesh's spans and sdk-node's: sdk-node's default resource and detectors
 * (OTEL_NODE_RESOURCE_DETECTORS: env, host, os, process, serviceinstance, all, none), and the
 * workload's name as `service.name` unless OTEL_SERVICE_NAME gives one.
 */
function meshResource(
  r: Resources,
  names: readonly string[] | undefined,
  serviceName: string | undefined,
  logger: Logger,
): Resource {
  const byName: Readonly<Record<string, ResourceDetector[]>> = {
    env: [r.resourceAttributesEnvDetector, r.serviceNameEnvDetector],
    host: [r.hostDetector],
    os: [r.osDetector],
    process: [r.processDetector],
    serviceinstance: [r.serviceInstanceIdDetector],
  };
  const all = [
    r.serviceInstanceIdDetector,
    r.processDetector,
    r.hostDetector,
    r.osDetector,
    r.resourceAttributesEnvDetector,
    r.serviceNameEnvDetector,
  ];
  let detectors: ResourceDetector[] = all;
  if (names !== undefined && !names.includes('all')) {
    detectors = [];
    for (const name of names) {
      if (name === 'none') continue;
      const found = byName[name];
      if (found === undefined) {
        logger.warn('mesh tracing: unknown resource detector in OTEL_NODE_RESOURCE_DETECTORS', {
          detector: name,
          known: [...Object.keys(byName), 'all', 'none'].join(', '),
        });
      } else detectors.push(...found);
    }
    if (names.includes('none')) detectors = [];
  }
  let resource = r.defaultResource().merge(r.detectResources({ detectors }));
  if (serviceName !== undefined) {
    resource = resource.merge(r.resourceFromAttributes({ 'service.name': serviceName }));
  }
  return resource;
}
