// One send of a mesh request to one endpoint: the undici handler its pool drives. Forwards to the
// caller through its MeshCall, which decides whether a response or failure ends the request or
// is retried. DESIGN.md "The request path", steps 5-6.
import type { Duplex } from 'node:stream';
import { WeftError } from '@weft/xds-client';
import type { Attributes, Span } from '@opentelemetry/api';
import { endHttpSpan } from '../tracing/mesh-tracing.js';
import type { MeshTracing } from '../tracing/mesh-tracing.js';
import type { AttemptDetail, AttemptOutcome, EndpointLease } from '../runtime/mesh-runtime.js';
import type { PooledHandler } from './endpoint-pools.js';
import type { MeshCall } from './mesh-call.js';

/** One attempt; ignores everything undici says after the request gave up on it (`abandoned`). */
export class Attempt implements PooledHandler {
  dequeue: (() => void) | undefined = undefined;
  settled: (() => void) | undefined = undefined;
  connected = false;
  responded = false;
  /** The request gave up on this attempt (timeout, or retried); ignore what comes later. */
  abandoned = false;
  abortUpstream: ((err?: Error) => void) | undefined = undefined;
  /** This try's span (tracing on, a retry: the first try is described by the request's span). */
  span: Span | undefined = undefined;
  private reported = false;
  private ended = false;
  /** The error this try ended with (`endSpan`), for the first try's event. */
  private endError: Error | undefined = undefined;
  private statusCode: number | undefined = undefined;

  constructor(
    private readonly call: MeshCall,
    readonly lease: EndpointLease,
  ) {}

  /** Tells the LB/health layer how the attempt went; at most once. */
  report(outcome: AttemptOutcome, detail?: AttemptDetail): void {
    if (this.reported) return;
    this.reported = true;
    this.lease.done(outcome, detail);
  }

  /**
   * Gives up on this attempt: later callbacks are ignored and the upstream request is aborted
   * (or taken out of the cluster's pending queue).
   */
  abandon(reason: Error): void {
    this.endSpan(this.statusCode === undefined ? reason : undefined);
    this.abandoned = true;
    this.dequeue?.();
    this.abortUpstream?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.abandoned) {
      abort(this.call.timeoutError ?? new WeftError('WEFT_CLOSED', 'request abandoned'));
      return;
    }
    this.abortUpstream = abort;
    this.connected = true;
    this.call.forwardConnect();
  }

  onResponseStarted(): void {
    if (!this.abandoned) this.call.responseStartedOnce();
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    if (this.abandoned) return false;
    if (statusCode >= 200 && !this.responded) {
      this.statusCode = statusCode;
      // A retriable status is not shown to the caller: the attempt is dropped and retried.
      if (this.call.retriedOnStatus(this, statusCode)) return false;
      this.responded = true;
      this.call.responseStarted(statusCode);
      this.report(statusCode >= 500 ? 'server-error' : 'success', { httpStatus: statusCode });
    }
    const extra = this.call.responseHeadersToAdd;
    const headers =
      extra === undefined || statusCode < 200
        ? rawHeaders
        : [...rawHeaders, ...extra.flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v)])];
    return this.call.handler.onHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    if (this.abandoned) return false;
    this.call.responseBytes += chunk.length;
    return this.call.handler.onData(chunk);
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    this.settled?.();
    if (this.abandoned) return;
    this.endSpan(undefined);
    this.call.finish(
      this.call.statusCode !== undefined && this.call.statusCode >= 500
        ? 'server-error'
        : 'success',
      undefined,
    );
    this.call.handler.onComplete(trailers);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.settled?.();
    if (this.abandoned) return;
    this.statusCode = statusCode;
    this.endSpan(undefined);
    this.responded = true;
    this.call.responseStarted(statusCode);
    this.report('success');
    this.call.finish('success', undefined);
    this.call.handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    if (this.abandoned) return;
    // undici 7 passes the chunk itself here (its types still say a size).
    const sent = chunkSize as unknown;
    this.call.bodyBytesSent +=
      typeof sent === 'number'
        ? sent
        : typeof sent === 'string'
          ? Buffer.byteLength(sent)
          : sent instanceof Uint8Array
            ? sent.byteLength
            : 0;
    this.call.handler.onBodySent?.(chunkSize, totalBytesSent);
  }

  onRequestSent(): void {
    if (!this.abandoned) this.call.handler.onRequestSent?.();
  }

  onError(err: Error): void {
    this.settled?.();
    if (this.abandoned) return;
    this.endSpan(err);
    this.call.attemptFailed(this, err);
  }

  /** This try ended (once): its span gets status, response flag and error. */
  endSpan(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = err;
    const span = this.span;
    if (span === undefined) return;
    this.span = undefined;
    endHttpSpan(span, this.statusCode, this.responseFlag(err), err, 500);
  }

  /** How this try (the first, which had no span of its own) ended, as an event on `request`. */
  recordAsFirst(request: Span, tracing: MeshTracing): void {
    const err = this.endError;
    const attributes: Attributes = {
      'weft.upstream.host': this.lease.endpoint.key,
      'weft.response_flags': this.responseFlag(err),
    };
    if (this.statusCode !== undefined) attributes['http.response.status_code'] = this.statusCode;
    if (err !== undefined) {
      const code = (err as { code?: unknown }).code;
      attributes['error.type'] = typeof code === 'string' ? code : err.name;
    }
    tracing.firstAttemptEnded(request, attributes);
  }

  /** The try's response flag: UF before connecting, else UC, for an error that has none. */
  private responseFlag(err: Error | undefined): string {
    if (err === undefined) return '-';
    if (err instanceof WeftError) return err.responseFlag;
    return this.connected ? 'UC' : 'UF';
  }
}
