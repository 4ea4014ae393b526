// The per-request telemetry of one mesh: Istio's standard metrics and access logs, fed once per
// request at its end by the HTTP dispatcher (reporter=source), the gRPC channel (source) and
// mesh.serve() servers (destination). Absent (undefined) when both are off: zero cost then.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as GrpcStatus,
} from '@grpc/grpc-js';
import type { Metadata, ServerInterceptor } from '@grpc/grpc-js';
import { WEFT_ERROR_CODES, WeftError } from '@weft/xds-client';
import type { Clock, Logger, WeftErrorCode } from '@weft/xds-client';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { GrpcCallEvent } from '../grpc/grpc-mesh-channel.js';
import type { HttpRequestEvent } from '../http/http-request-event.js';
import { AccessLog, traceIdOf } from './access-log.js';
import type { AccessLogEntry, AccessLogStats, AccessLogTarget } from './access-log.js';
import { IstioMetrics, hostOf } from './istio-metrics.js';
import { IsoTimeFormatter } from './iso-time-formatter.js';
import type { IstioMetricsStats, IstioPeer } from './istio-metrics.js';

/** Header lookup by lower-case name. */

/** What the inbound guard knows of a served request (mesh.serve); read when it finishes. */
export interface InboundRequestFacts {
  /** The peer's SPIFFE id on mTLS. */
  readonly principal: string | undefined;
  readonly mtls: boolean;
  /** `RBAC` when the request was denied by an AuthorizationPolicy; else the usual flags. */
  readonly responseFlag: string | undefined;
}

export type HeaderLookup = (lowerCaseName: string) => string | undefined;

export interface MeshTelemetryOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly self: IstioPeer;
  /** Where Istio's metrics register; undefined: no metrics. */
  readonly registry: Registry | undefined;
  readonly maxSeries: number;
  /** Undefined: no access log. */
  readonly accessLog: AccessLogTarget | undefined;
}

/** `mesh.stats().telemetry`. */
export interface MeshTelemetryStats {
  /** Undefined when Istio metrics are off. */
  readonly istioMetrics: IstioMetricsStats | undefined;
  /** Undefined when the access log is off. */
  readonly accessLog: AccessLogStats | undefined;
  /** Requests whose recording threw (logged once); they were served all the same. */
  readonly errors: number;
}

/** What gRPC's call end passes besides its event. */
export interface GrpcCallBytes {
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly header: HeaderLookup | undefined;
}

function traceIdFrom(header: HeaderLookup | undefined): string {
  if (header === undefined) return '-';
  return (
    traceIdOf(header('traceparent')) ?? header('x-b3-traceid') ?? b3TraceId(header('b3')) ?? '-'
  );
}

function b3TraceId(b3: string | undefined): string | undefined {
  if (b3 === undefined) return undefined;
  const id = b3.split('-')[0];
  return id !== undefined && /^[0-9a-f]{16,32}$/.test(id) ? id : undefined;
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

export class MeshTelemetry {
  readonly metrics: IstioMetrics | undefined;
  readonly accessLog: AccessLog | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Access log start times (a cached `YYYY-MM-DDTHH:mm:ss.` per second). */
  private readonly startTime = new IsoTimeFormatter();
  private errors = 0;

  constructor(options: MeshTelemetryOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.metrics =
      options.registry === undefined
        ? undefined
        : new IstioMetrics({
            registry: options.registry,
            logger: options.logger,
            self: options.self,
            maxSeries: options.maxSeries,
          });
    this.accessLog =
      options.accessLog === undefined
        ? undefined
        : new AccessLog(options.accessLog, options.logger, options.clock);
  }

  /** An outbound HTTP request ended (mesh dispatcher). Never throws. */
  httpClientEnded(event: HttpRequestEvent, header: HeaderLookup): void {
    try {
      this.recordHttpClient(event, header);
    } catch (err) {
      this.failed(err);
    }
  }

  /** An outbound gRPC call ended (mesh channel). Never throws. */
  grpcClientEnded(event: GrpcCallEvent, bytes: GrpcCallBytes): void {
    try {
      this.recordGrpcClient(event, bytes);
    } catch (err) {
      this.failed(err);
    }
  }

  /** Telemetry must not break a request: logged once, counted in stats().errors. */
  private failed(err: unknown): void {
    this.errors++;
    if (this.errors === 1)
      this.logger.error('telemetry: recording a request failed', { error: String(err) });
  }

  private recordHttpClient(event: HttpRequestEvent, header: HeaderLookup): void {
    const err = event.error;
    const code = event.statusCode ?? (err instanceof WeftError ? err.httpStatus : 0);
    this.metrics?.record({
      reporter: 'source',
      protocol: 'http',
      host: hostOf(event.authority),
      responseCode: code,
      grpcStatus: '',
      responseFlags: event.responseFlag,
      durationMs: event.durationMs,
      requestBytes: event.requestBytes,
      responseBytes: event.responseBytes,
    });
    this.accessLog?.write({
      start_time: this.startTime.format(this.clock.now() - event.durationMs),
      reporter: 'source',
      method: event.method,
      path: event.path,
      protocol: 'HTTP/1.1',
      authority: event.authority,
      response_code: code,
      grpc_status: '-',
      response_flags: event.responseFlag,
      bytes_received: event.responseBytes,
      bytes_sent: event.requestBytes,
      duration: event.durationMs,
      upstream_host: event.endpoint ?? '-',
      upstream_cluster: event.cluster ?? '-',
      route_name: '-',
      x_request_id: header('x-request-id') ?? '-',
      trace_id: traceIdFrom(header),
      downstream_peer_uri_san: '-',
      upstream_peer_uri_san: '-',
    });
  }

  private recordGrpcClient(event: GrpcCallEvent, bytes: GrpcCallBytes): void {
    // A call the mesh refused before any pick never got an HTTP/2 response: Envoy's local reply.
    const local =
      event.weftCode === undefined
        ? undefined
        : (WEFT_ERROR_CODES as Readonly<Record<string, (typeof WEFT_ERROR_CODES)[WeftErrorCode]>>)[
            event.weftCode
          ];
    const code = local === undefined ? 200 : local.httpStatus;
    const flags =
      local === undefined || event.responseFlag !== '-' ? event.responseFlag : local.responseFlag;
    this.metrics?.record({
      reporter: 'source',
      protocol: 'grpc',
      host: hostOf(event.authority),
      responseCode: code,
      grpcStatus: String(event.code),
      responseFlags: flags,
      durationMs: event.durationMs,
      requestBytes: bytes.requestBytes,
      responseBytes: bytes.responseBytes,
    });
    this.accessLog?.write({
      start_time: this.startTime.format(this.clock.now() - event.durationMs),
      reporter: 'source',
      method: 'POST',
      path: event.method,
      protocol: 'HTTP/2',
      authority: event.authority,
      response_code: code,
      grpc_status: String(event.code),
      response_flags: flags,
      bytes_received: bytes.responseBytes,
      bytes_sent: bytes.requestBytes,
      duration: event.durationMs,
      upstream_host: event.endpoint ?? '-',
      upstream_cluster: event.clusterName ?? '-',
      route_name: event.routeName ?? '-',
      x_request_id: bytes.header?.('x-request-id') ?? '-',
      trace_id: traceIdFrom(bytes.header),
      downstream_peer_uri_san: '-',
      upstream_peer_uri_san: '-',
    });
  }

  /**
   * Wraps a mesh.serve() listener: counts each inbound request (reporter=destination) when its
   * response finishes or its connection closes first (response flag DC, Envoy's downstream
   * connection termination). Request bytes: the request's content-length (a chunked body is
   * not read here, it belongs to the handler); response bytes: what the handler wrote.
   */
  wrapServer(
    listener: RequestListener,
    service: string,
    inbound?: (req: IncomingMessage, res: ServerResponse) => InboundRequestFacts | undefined,
  ): RequestListener {
    return (req: IncomingMessage, res: ServerResponse): void => {
      const start = this.clock.now();
      let sent = 0;
      const write = res.write.bind(res) as (...a: unknown[]) => boolean;
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      res.write = ((...args: unknown[]): boolean => {
        sent += byteLength(args[0], args[1]);
        return write(...args);
      }) as typeof res.write;
      res.end = ((...args: unknown[]): ServerResponse => {
        if (typeof args[0] !== 'function') sent += byteLength(args[0], args[1]);
        return end(...args);
      }) as typeof res.end;
      let done = false;
      const finished = (): void => {
        if (done) return;
        done = true;
        try {
          this.serverEnded(req, res, service, start, sent, inbound?.(req, res));
        } catch (err) {
          this.failed(err);
        }
      };
      res.once('finish', finished);
      res.once('close', finished);
      listener(req, res);
    };
  }

  /**
   * A grpc-js server interceptor (grpc-js >= 1.10: `new Server({ interceptors: [i] })`) counting
   * each inbound call of `service` with reporter=destination when its status is sent, or when the
   * client cancels it (CANCELLED, flag DC). Message bytes are not measured at this level
   * (messages are already deserialized): the bytes histograms observe 0 for these calls.
   */
  grpcServerInterceptor(service: string): ServerInterceptor {
    return (method, call) => {
      const start = this.clock.now();
      let metadata: Metadata | undefined = undefined;
      let done = false;
      const ended = (code: number, flags: string): void => {
        if (done) return;
        done = true;
        try {
          this.grpcServerEnded(service, method.path, call.getHost(), metadata, start, code, flags);
        } catch (err) {
          this.failed(err);
        }
      };
      const listener = new ServerListenerBuilder()
        .withOnReceiveMetadata((md, next) => {
          metadata = md;
          next(md);
        })
        .withOnCancel(() => {
          ended(GrpcStatus.CANCELLED, 'DC');
        })
        .build();
      const responder = new ResponderBuilder()
        .withStart((next) => {
          next(listener);
        })
        .withSendStatus((status, next) => {
          ended(status.code, '-');
          next(status);
        })
        .build();
      return new ServerInterceptingCall(call, responder);
    };
  }

  stats(): MeshTelemetryStats {
    return {
      istioMetrics: this.metrics?.stats(),
      accessLog: this.accessLog?.stats(),
      errors: this.errors,
    };
  }

  async close(): Promise<void> {
    await this.accessLog?.close();
  }

  private grpcServerEnded(
    service: string,
    path: string,
    authority: string,
    metadata: Metadata | undefined,
    start: number,
    code: number,
    flags: string,
  ): void {
    const durationMs = this.clock.now() - start;
    this.metrics?.record({
      reporter: 'destination',
      protocol: 'grpc',
      host: service,
      responseCode: 200,
      grpcStatus: String(code),
      responseFlags: flags,
      durationMs,
      requestBytes: 0,
      responseBytes: 0,
    });
    if (this.accessLog === undefined) return;
    const header: HeaderLookup = (name) => {
      const v = metadata?.get(name)[0];
      return typeof v === 'string' ? v : undefined;
    };
    this.writeInbound(service, start, header, {
      method: 'POST',
      path,
      protocol: 'HTTP/2',
      authority,
      response_code: 200,
      grpc_status: String(code),
      response_flags: flags,
      bytes_received: 0,
      bytes_sent: 0,
      duration: durationMs,
    });
  }

  /** One access-log line of an inbound (reporter=destination) request to `service`. */
  private writeInbound(
    service: string,
    start: number,
    header: HeaderLookup,
    fields: Pick<
      AccessLogEntry,
      | 'method'
      | 'path'
      | 'protocol'
      | 'authority'
      | 'response_code'
      | 'grpc_status'
      | 'response_flags'
      | 'bytes_received'
      | 'bytes_sent'
      | 'duration'
    >,
    peerUriSan?: string,
  ): void {
    this.accessLog?.write({
      start_time: this.startTime.format(start),
      reporter: 'destination',
      ...fields,
      upstream_host: '-',
      upstream_cluster: `inbound|${service}`,
      route_name: '-',
      x_request_id: header('x-request-id') ?? '-',
      trace_id: traceIdFrom(header),
      downstream_peer_uri_san: peerUriSan ?? '-',
      upstream_peer_uri_san: '-',
    });
  }

  private serverEnded(
    req: IncomingMessage,
    res: ServerResponse,
    service: string,
    start: number,
    sent: number,
    facts: InboundRequestFacts | undefined,
  ): void {
    const durationMs = this.clock.now() - start;
    const complete = res.writableFinished;
    const code = complete || res.headersSent ? res.statusCode : 0;
    const flags = facts?.responseFlag ?? (complete ? '-' : 'DC');
    const length = Number(req.headers['content-length']);
    const received = Number.isFinite(length) && length > 0 ? length : 0;
    this.metrics?.record({
      reporter: 'destination',
      protocol: 'http',
      host: service,
      responseCode: code,
      grpcStatus: '',
      responseFlags: flags,
      durationMs,
      requestBytes: received,
      responseBytes: sent,
      ...(facts === undefined ? {} : { peer: { principal: facts.principal, mtls: facts.mtls } }),
    });
    if (this.accessLog === undefined) return;
    const header: HeaderLookup = (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    this.writeInbound(
      service,
      start,
      header,
      {
        method: req.method ?? '-',
        path: req.url ?? '-',
        protocol: `HTTP/${req.httpVersion}`,
        authority: req.headers.host ?? '-',
        response_code: code,
        grpc_status: '-',
        response_flags: flags,
        bytes_received: received,
        bytes_sent: sent,
        duration: durationMs,
      },
      facts?.principal,
    );
  }
}

/**
 * `weft_sdk_telemetry_series`, `weft_sdk_telemetry_series_overflowed_total` (requests counted in
 * an overflow series) and `weft_sdk_access_log_{written,dropped,errors}_total`, read at scrape time.
 */
export function registerTelemetryMetrics(registry: Registry, telemetry: MeshTelemetry): void {
  new Gauge({
    name: 'weft_sdk_telemetry_series',
    help: 'Label sets of the Istio standard metrics in use (overflow series included)',
    registers: [registry],
    collect() {
      this.set(telemetry.metrics?.stats().series ?? 0);
    },
  });
  new Counter({
    name: 'weft_sdk_telemetry_series_overflowed_total',
    help: 'Requests counted in an "overflow" series because the label budget was used up',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(telemetry.metrics?.stats().overflowed ?? 0);
    },
  });
  for (const field of ['written', 'dropped', 'errors'] as const) {
    new Counter({
      name: `weft_sdk_access_log_${field}_total`,
      help: `Access log lines ${field === 'errors' ? 'lost to write errors' : field}`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(telemetry.accessLog?.stats()[field] ?? 0);
      },
    });
  }
}
