// Spans and propagation of one mesh: a client span per outbound request (which also describes
// its first attempt) with a child span per retry attempt, a server span per request a
// `mesh.serve()` server handles, W3C and B3 headers in and out (trace-propagation.ts), and
// x-request-id. The inbound request's context (span, request id, trace header formats) follows its
// handler through an AsyncLocalStorage, so outbound calls made while handling it are its children.
// With no tracer (tracing off) no span or propagation work is done: only x-request-id.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  defaultTextMapGetter,
  trace,
} from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { EndpointLocality, UpstreamEndpoint } from '../runtime/mesh-runtime.js';
import { silentLogger } from '@weft/xds-client';
import type { Logger } from '@weft/xds-client';
import { MeshTracer } from './mesh-tracer.js';
import {
  createMeshExtractor,
  formatBitsOf,
  injectedFields,
  traceFormatsOf,
  traceHeaderPairs,
} from './trace-propagation.js';
import { DEFAULT_PROPAGATORS } from './tracing-options.js';
import type { TracePropagator } from './tracing-options.js';

/** The request id header (Envoy's): generated when absent, propagated to outbound calls. */
export const REQUEST_ID_HEADER = 'x-request-id' as const;
/** Instrumentation scope name of the SDK's spans. */
export const TRACER_NAME = '@weft/sdk' as const;

/** Tracing state in `mesh.stats().tracing`; a plain object. */
export interface TracingStats {
  /** Whether spans are made (a tracer provider is in use). */
  readonly enabled: boolean;
  /** `off`, `options.tracerProvider`, `global`, or `sdk-node (otlp …)`. */
  readonly provider: string;
  /** Spans started: client, attempt and server spans (sampled or not). */
  readonly spansStarted: number;
  /** Of those, the sampled (recording) ones. */
  readonly spansRecorded: number;
  /** The mesh's own tracer makes the spans (its own provider), not an OpenTelemetry SDK tracer. */
  readonly meshTracer: boolean;
  /** Trace header formats injected on the way out. */
  readonly propagators: readonly TracePropagator[];
  /** How the mesh's tracer samples trace roots now (`parentbased_traceidratio 0.01 (control plane)`); undefined for another tracer. */
  readonly sampler: string | undefined;
  /** The mesh tracer's root sampling ratio 0-1; undefined for another tracer. */
  readonly samplingRatio: number | undefined;
}

/** MeshTracing's settings besides the tracer. */
export interface MeshTracingOptions {
  /** Flushes and stops a provider the mesh started itself. */
  readonly shutdown?: () => Promise<void>;
  /** Trace header formats injected (default DEFAULT_PROPAGATORS). */
  readonly propagators?: readonly TracePropagator[];
  /**
   * The mesh's tracer takes its root sampling from the control plane (the listeners' HCM
   * `tracing.random_sampling`): nothing local (tracing.sampling, WEFT_TRACE_SAMPLING,
   * OTEL_TRACES_SAMPLER) chose one. Otherwise the control plane's value is logged as not applied.
   */
  readonly samplingFromControlPlane?: boolean;
  /** Where the `mesh tracing` log lines go. */
  readonly logger?: Logger;
}

/** What a handler of `mesh.serve()` runs inside. */
interface InboundScope {
  readonly requestId: string;
  /** The server span's context; undefined with tracing off. */
  readonly context: Context | undefined;
  /** The trace header formats the inbound request came with (FORMAT_* bits): answered in kind. */
  readonly formats: number;
}

/** Event on a request's span: how its first attempt ended, recorded once a second one starts. */
export const FIRST_ATTEMPT_ENDED_EVENT = 'weft.attempt.ended' as const;

/** Start options of every client span the mesh's own tracer makes (attributes set after). */
const CLIENT_SPAN = Object.freeze({ kind: SpanKind.CLIENT });

/** Bound of the authority cache (cleared when full: authorities come from callers). */
const MAX_CACHED_AUTHORITIES = 1024;

/** `host` and `port` of an authority `host[:port]` (IPv6 in brackets). */
function splitAuthority(authority: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (m === null) return { host: authority, port: undefined };
  return { host: m[1] ?? authority, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Ends `span` with the HTTP status / error / response flag of what it covered. */
export function endHttpSpan(
  span: Span,
  statusCode: number | undefined,
  responseFlag: string | undefined,
  err: Error | undefined,
  errorFrom: number,
): void {
  // A sampled-out span records nothing: no attributes or status to work out.
  if (!span.isRecording()) {
    span.end();
    return;
  }
  if (statusCode !== undefined) span.setAttribute('http.response.status_code', statusCode);
  if (responseFlag !== undefined) span.setAttribute('weft.response_flags', responseFlag);
  if (err !== undefined) {
    const code = (err as { code?: unknown }).code;
    span.setAttribute('error.type', typeof code === 'string' ? code : err.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
  } else if (statusCode !== undefined && statusCode >= errorFrom) {
    span.setAttribute('error.type', String(statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** One mesh's tracer, propagator and inbound context. */
export class MeshTracing {
  /** Undefined: tracing off (no spans, no trace headers). */
  readonly tracer: Tracer | undefined;
  /** Reads the inbound W3C / B3 headers (injection is `headersOf`). */
  private readonly propagator: TextMapPropagator | undefined;
  /** Lower-case names of the headers the mesh injects (dropped from callers' headers). */
  private readonly fields: ReadonlySet<string>;
  private readonly scope = new AsyncLocalStorage<InboundScope>();
  /** Authorities split into host and port, for client and server span attributes. */
  private readonly authorities = new Map<string, { host: string; port: number | undefined }>();
  /** Formatted localities (attempt span attribute), by the endpoints' locality objects. */
  private readonly localities = new WeakMap<EndpointLocality, string>();
  private spansStarted = 0;
  /** Of those, spans sampled (recording). */
  private spansRecorded = 0;
  /**
   * The tracer is the mesh's own: it samples before attributes matter and its span contexts are
   * valid by construction, so attributes are set only on recording spans and ids are not re-checked.
   */
  private readonly own: boolean;
  /** FORMAT_* bits of the configured propagators: injected into every outbound request. */
  private readonly formats: number;

  private readonly shutdownProvider: (() => Promise<void>) | undefined;
  private readonly propagators: readonly TracePropagator[];
  private readonly samplingFromControlPlane: boolean;
  private readonly logger: Logger;
  /** The last control-plane sampling percent seen (applied or not), to log changes once. */
  private controlPlanePercent: number | undefined;

  constructor(
    tracer: Tracer | undefined,
    private readonly providerName: string,
    options: MeshTracingOptions = {},
  ) {
    this.tracer = tracer;
    this.shutdownProvider = options.shutdown;
    this.propagators = options.propagators ?? DEFAULT_PROPAGATORS;
    this.samplingFromControlPlane = options.samplingFromControlPlane ?? false;
    this.logger = options.logger ?? silentLogger;
    const propagators = this.propagators;
    this.own = tracer instanceof MeshTracer;
    this.propagator = tracer === undefined ? undefined : createMeshExtractor();
    this.fields = tracer === undefined ? new Set() : injectedFields();
    this.formats = formatBitsOf(propagators);
  }

  /** The inbound request's id while handling it, else a new one. */
  requestId(): string {
    return this.scope.getStore()?.requestId ?? randomUUID();
  }

  /** A client span for one outbound request, child of the request being handled (or the active span). */
  startClientSpan(
    tracer: Tracer,
    method: string,
    authority: string,
    path: string,
    protocol: 'http' | 'grpc',
  ): Span {
    this.spansStarted++;
    const parent = this.scope.getStore()?.context ?? otelContext.active();
    if (this.own) {
      // The mesh's tracer samples by trace id: a sampled-out request builds no attributes.
      const span = tracer.startSpan(protocol === 'grpc' ? path : method, CLIENT_SPAN, parent);
      if (span.isRecording()) {
        this.spansRecorded++;
        const attributes: Attributes = {};
        const name = this.describeClientSpan(attributes, method, authority, path, protocol);
        span.setAttributes(attributes);
        if (protocol === 'grpc') span.updateName(name);
      }
      return span;
    }
    const attributes: Attributes = {};
    const name = this.describeClientSpan(attributes, method, authority, path, protocol);
    return this.recorded(tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent));
  }

  /** Puts a client span's attributes into `attributes`; returns the span's name. */
  private describeClientSpan(
    attributes: Attributes,
    method: string,
    authority: string,
    path: string,
    protocol: 'http' | 'grpc',
  ): string {
    const { host, port } = this.split(authority);
    attributes['server.address'] = host;
    if (port !== undefined) attributes['server.port'] = port;
    if (protocol === 'grpc') {
      // path is /package.Service/Method
      const [, service = '', rpcMethod = ''] = path.split('/');
      attributes['rpc.system'] = 'grpc';
      attributes['rpc.service'] = service;
      attributes['rpc.method'] = rpcMethod;
      return `${service}/${rpcMethod}`;
    }
    attributes['http.request.method'] = method;
    attributes['url.path'] = path.split('?', 1)[0] ?? path;
    return method;
  }

  /** Counts `span` as recorded when it is; returns it. */
  private recorded(span: Span): Span {
    if (span.isRecording()) this.spansRecorded++;
    return span;
  }

  /** `authority` split into host and port (cached). */
  private split(authority: string): { host: string; port: number | undefined } {
    let split = this.authorities.get(authority);
    if (split === undefined) {
      if (this.authorities.size >= MAX_CACHED_AUTHORITIES) this.authorities.clear();
      split = splitAuthority(authority);
      this.authorities.set(authority, split);
    }
    return split;
  }

  /**
   * The first attempt's details on the request's own span (a recording one): a request sent once
   * makes one span, not a client span plus an attempt span; the upstream sees the request's span
   * as its parent. Attempts after the first get spans of their own (`startAttemptSpan`).
   */
  describeFirstAttempt(request: Span, endpoint: UpstreamEndpoint): void {
    request.setAttribute('weft.upstream.host', endpoint.key);
    request.setAttribute('weft.upstream.locality', this.localityOf(endpoint.locality));
    request.setAttribute('network.peer.address', endpoint.address);
    request.setAttribute('network.peer.port', endpoint.port);
  }

  /**
   * Records on the request's span how its first attempt ended (FIRST_ATTEMPT_ENDED_EVENT with
   * `weft.attempt` 1 and `attributes`), when a second attempt starts.
   */
  firstAttemptEnded(request: Span, attributes: Attributes): void {
    attributes['weft.attempt'] = 1;
    request.addEvent(FIRST_ATTEMPT_ENDED_EVENT, attributes);
  }

  /**
   * A child of `request` (a recording span: a sampled-out request has no attempt spans) for try
   * number `attempt` (1-based, from 2: the first is described by `request` itself) on `endpoint`. The attributes are set on the started span, not
   * passed to startSpan: the SDK's tracer cleans start attributes twice (for the sampler, then
   * for the span) and no sampler decides on them (the parent's decision stands for a child).
   */
  startAttemptSpan(
    tracer: Tracer,
    request: Span,
    name: string,
    attempt: number,
    endpoint: UpstreamEndpoint,
  ): Span {
    this.spansStarted++;
    const span = tracer.startSpan(
      `${name} attempt`,
      { kind: SpanKind.INTERNAL },
      trace.setSpan(ROOT_CONTEXT, request),
    );
    this.recorded(span);
    span.setAttribute('weft.attempt', attempt);
    span.setAttribute('http.request.resend_count', attempt - 1);
    span.setAttribute('weft.cluster', endpoint.clusterName);
    span.setAttribute('weft.upstream.host', endpoint.key);
    span.setAttribute('weft.upstream.locality', this.localityOf(endpoint.locality));
    span.setAttribute('network.peer.address', endpoint.address);
    span.setAttribute('network.peer.port', endpoint.port);
    return span;
  }

  /** `region/zone/subZone` of `locality`, formatted once per locality object. */
  private localityOf(locality: EndpointLocality): string {
    let text = this.localities.get(locality);
    if (text === undefined) {
      text = `${locality.region}/${locality.zone}/${locality.subZone}`;
      this.localities.set(locality, text);
    }
    return text;
  }

  /**
   * Name/value pairs of the trace headers that carry `span`: the configured formats, and those the
   * inbound request being handled came with (a B3 caller's trace goes on in B3) — W3C
   * `traceparent` (and `tracestate`), B3 single `b3`, B3 multi `x-b3-*`, as the W3C and B3
   * propagators write them (formatted here: this runs once per attempt).
   */
  headersOf(span: Span): string[] {
    const sc = span.spanContext();
    if (!this.own && !trace.isSpanContextValid(sc)) return [];
    return traceHeaderPairs(sc, this.formats | (this.scope.getStore()?.formats ?? 0));
  }

  /**
   * Whether `lowerCaseName` is a header the propagator writes (a caller's copy is replaced). A
   * bound function: handed to header scans once per traced request.
   */
  readonly isTraceHeader = (lowerCaseName: string): boolean => this.fields.has(lowerCaseName);

  /**
   * Wraps a `mesh.serve()` listener: x-request-id (kept, or generated and set on the request), and
   * with tracing on a server span from the inbound W3C/B3 headers, ended when the response closes.
   */
  serverListener(listener: RequestListener, service: string): RequestListener {
    const scope = this.scope;
    const tracer = this.tracer;
    const propagator = this.propagator;
    if (tracer === undefined || propagator === undefined) {
      return function meshServeRequest(req: IncomingMessage, res: ServerResponse): void {
        scope.run(
          { requestId: requestIdOf(req), context: undefined, formats: 0 },
          listener,
          req,
          res,
        );
      };
    }
    return (req: IncomingMessage, res: ServerResponse): void => {
      const requestId = requestIdOf(req);
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const { host, port } = this.split(req.headers.host ?? service);
      const attributes: Attributes = {
        'http.request.method': method,
        'url.path': url.split('?', 1)[0] ?? url,
        'server.address': host,
        'weft.service': service,
      };
      if (port !== undefined) attributes['server.port'] = port;
      this.spansStarted++;
      const span = this.recorded(
        tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent),
      );
      res.once('close', () => {
        endHttpSpan(
          span,
          res.headersSent ? res.statusCode : undefined,
          undefined,
          res.writableFinished ? undefined : new Error('response closed before it finished'),
          500,
        );
      });
      scope.run(
        { requestId, context: trace.setSpan(parent, span), formats: traceFormatsOf(req.headers) },
        listener,
        req,
        res,
      );
    };
  }

  /** The remote parent in `carrier`'s W3C / B3 headers (ROOT_CONTEXT when none or tracing off). */
  extract(carrier: Readonly<Record<string, unknown>>): Context {
    return this.propagator?.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) ?? ROOT_CONTEXT;
  }

  /** A server span of an inbound request (gRPC server interceptor). */
  startServerSpan(tracer: Tracer, name: string, attributes: Attributes, parent: Context): Span {
    this.spansStarted++;
    return this.recorded(tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent));
  }

  /**
   * Runs `fn` as part of an inbound request: outbound calls it makes carry its id, its span and its
   * trace header `formats` (`traceFormatsOf`).
   */
  runInbound<R>(requestId: string, context: Context | undefined, formats: number, fn: () => R): R {
    return this.scope.run({ requestId, context, formats }, fn);
  }

  /**
   * A listener in force carries the control plane's sampling (`percent` of trace roots, HCM
   * `tracing.random_sampling`; undefined: none). The mesh's tracer samples by it unless local
   * configuration chose a sampler; a provider of the application's samples by its own sampler.
   * Each change is logged once.
   */
  controlPlaneSampling(percent: number | undefined, listener: string): void {
    if (percent === undefined || percent === this.controlPlanePercent) return;
    this.controlPlanePercent = percent;
    const tracer = this.tracer;
    if (!(tracer instanceof MeshTracer)) {
      if (tracer !== undefined) {
        this.logger.info('mesh tracing: control plane sampling not applied', {
          percent,
          listener,
          reason: `${this.providerName} samples by its own sampler`,
        });
      }
      return;
    }
    if (!this.samplingFromControlPlane) {
      this.logger.info('mesh tracing: control plane sampling not applied', {
        percent,
        listener,
        reason: `local configuration chose ${tracer.policy.description}`,
      });
      return;
    }
    const ratio = percent / 100;
    tracer.setPolicy({
      parentBased: true,
      ratio,
      description: `parentbased_traceidratio ${ratio} (control plane)`,
    });
    this.logger.info('mesh tracing: sampling from the control plane', { percent, listener });
  }

  stats(): TracingStats {
    return {
      enabled: this.tracer !== undefined,
      provider: this.providerName,
      spansStarted: this.spansStarted,
      spansRecorded: this.spansRecorded,
      meshTracer: this.own,
      propagators: this.propagators,
      sampler: this.tracer instanceof MeshTracer ? this.tracer.policy.description : undefined,
      samplingRatio: this.tracer instanceof MeshTracer ? this.tracer.policy.ratio : undefined,
    };
  }

  /** Flushes and stops the provider the mesh started itself (none otherwise). */
  async close(): Promise<void> {
    await this.shutdownProvider?.();
  }
}

/** The request's x-request-id; a new one is generated and set on `req` when absent. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && given !== '') return given;
  const id = randomUUID();
  req.headers[REQUEST_ID_HEADER] = id;
  return id;
}
