// The trace of one mesh HTTP request (tracing on): its client span, which describes the first
// attempt (one span for a request sent once), a child span per retry, and the W3C / B3 headers
// each try carries. Issue 6 "Tracing"; package README "Tracing".
import type { Span, Tracer } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import type { RouteDecision } from '../runtime/mesh-runtime.js';
import { endHttpSpan } from '../tracing/mesh-tracing.js';
import type { MeshTracing } from '../tracing/mesh-tracing.js';
import type { Attempt } from './attempt.js';
import { hasHeaderWhere, setHeaderPairs, withHeaders } from './request-headers.js';

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];

/** Made only with tracing on (a tracer); the span may be sampled out (nothing recorded). */
export class RequestTrace {
  private span: Span | undefined;
  /** The headers sent upstream are a copy the mesh made for this request (set in place). */
  private headersOwned = false;
  /** The caller's trace headers were dropped from the headers sent upstream (or it sent none). */
  private callerTraceDropped = false;

  constructor(
    private readonly tracing: MeshTracing,
    private readonly tracer: Tracer,
    method: string,
    authority: string,
    path: string,
  ) {
    this.span = tracing.startClientSpan(tracer, method, authority, path, 'http');
  }

  /** The request was routed by `decision`; `headersOwned`: its upstream headers are the mesh's copy. */
  routed(decision: RouteDecision, headersOwned: boolean): void {
    this.headersOwned = headersOwned;
    const span = this.span;
    if (span?.isRecording() !== true) return;
    span.setAttribute('weft.cluster', decision.clusterName);
    span.setAttribute('weft.route', decision.routeName);
  }

  /**
   * The trace of try number `attempts` (1-based): the first is described by the request's span, a
   * retry gets a child span and the first try's end becomes an event. The upstream sees the
   * carrier span as its parent: W3C and B3 headers replace the caller's (`callerHeaders`), set in
   * place in the mesh's copy of the headers. A sampled-out request passes its own span's context,
   * with no attempt spans. Returns the headers to send.
   */
  attempt(
    upstream: { readonly method: string; readonly headers?: UndiciHeaders },
    callerHeaders: UndiciHeaders,
    attempt: Attempt,
    attempts: number,
    previous: Attempt | undefined,
  ): UndiciHeaders {
    const { tracing, span } = this;
    if (span === undefined) return upstream.headers;
    let carrier = span;
    if (span.isRecording()) {
      const endpoint = attempt.lease.endpoint;
      if (attempts === 1) tracing.describeFirstAttempt(span, endpoint);
      else {
        if (attempts === 2) previous?.recordAsFirst(span, tracing);
        carrier = attempt.span = tracing.startAttemptSpan(
          this.tracer,
          span,
          upstream.method,
          attempts,
          endpoint,
        );
      }
    }
    const pairs = tracing.headersOf(carrier);
    if (!this.callerTraceDropped) {
      this.callerTraceDropped = true;
      const isTraceHeader = tracing.isTraceHeader;
      if (hasHeaderWhere(callerHeaders, isTraceHeader)) {
        this.headersOwned = true;
        return withHeaders(upstream.headers, pairs, isTraceHeader);
      }
    }
    if (this.headersOwned) {
      setHeaderPairs(upstream.headers as Record<string, string> | string[], pairs);
      return upstream.headers;
    }
    this.headersOwned = true;
    return withHeaders(upstream.headers, pairs, undefined);
  }

  /** Ends the request's span (once), after the try in flight (`current`) ended its own. */
  end(
    current: Attempt | undefined,
    attempts: number,
    statusCode: number | undefined,
    responseFlag: string,
    err: Error | undefined,
  ): void {
    const span = this.span;
    if (span === undefined) return;
    this.span = undefined;
    current?.endSpan(err);
    span.setAttribute('weft.attempts', attempts);
    endHttpSpan(span, statusCode, responseFlag, err, 400);
  }
}
