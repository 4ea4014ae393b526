// Trace header propagation: which formats a request came with, the W3C / B3 headers that carry a
// span context out (formatted here: once per attempt), and the OpenTelemetry propagators that read
// them in. Issue 6 "Tracing"; package README "Tracing", "Propagation".
import { TraceFlags } from '@opentelemetry/api';
import type { SpanContext, TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import type { TracePropagator } from './tracing-options.js';

/** Trace header formats as bits: W3C trace context, B3 single header, B3 multi header. */
export const FORMAT_W3C = 1;
export const FORMAT_B3_SINGLE = 2;
export const FORMAT_B3_MULTI = 4;
const FORMAT_BITS: Readonly<Record<TracePropagator, number>> = {
  tracecontext: FORMAT_W3C,
  b3: FORMAT_B3_SINGLE,
  b3multi: FORMAT_B3_MULTI,
};

/** The FORMAT_* bits of the trace headers in `carrier` (lower-case names). */
export function traceFormatsOf(carrier: Readonly<Record<string, unknown>>): number {
  let formats = 0;
  if (carrier['traceparent'] !== undefined) formats |= FORMAT_W3C;
  if (carrier['b3'] !== undefined) formats |= FORMAT_B3_SINGLE;
  if (carrier['x-b3-traceid'] !== undefined) formats |= FORMAT_B3_MULTI;
  return formats;
}

/** The FORMAT_* bits of `propagators`. */
export function formatBitsOf(propagators: readonly TracePropagator[]): number {
  return propagators.reduce((bits, p) => bits | FORMAT_BITS[p], 0);
}

/**
 * Name/value pairs of the trace headers that carry `sc` in the `formats` (FORMAT_* bits): W3C
 * `traceparent` (and `tracestate`), B3 single `b3`, B3 multi `x-b3-*`, as the W3C and B3
 * propagators write them.
 */
export function traceHeaderPairs(sc: SpanContext, formats: number): string[] {
  const sampled = (sc.traceFlags & (TraceFlags.SAMPLED as number)) !== 0;
  const { traceId, spanId } = sc;
  const out: string[] = [];
  if ((formats & FORMAT_W3C) !== 0) {
    out.push('traceparent', '00-' + traceId + '-' + spanId + (sampled ? '-01' : '-00'));
    const state = sc.traceState?.serialize();
    if (state !== undefined && state !== '') out.push('tracestate', state);
  }
  if ((formats & FORMAT_B3_SINGLE) !== 0) {
    out.push('b3', traceId + '-' + spanId + (sampled ? '-1' : '-0'));
  }
  if ((formats & FORMAT_B3_MULTI) !== 0) {
    out.push('x-b3-traceid', traceId, 'x-b3-spanid', spanId, 'x-b3-sampled', sampled ? '1' : '0');
  }
  return out;
}

/**
 * W3C trace context and B3 (single or multi header) in; W3C wins. One B3Propagator reads both B3
 * forms (a second one, as for injecting both, would parse B3 twice per inbound request).
 */
export function createMeshExtractor(): TextMapPropagator {
  return new CompositePropagator({
    propagators: [new B3Propagator(), new W3CTraceContextPropagator()],
  });
}

/** Lower-case names of the headers the mesh injects: W3C, B3 multi and B3 single (`headersOf`). */
export function injectedFields(): Set<string> {
  const fields = [
    ...new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }).fields(),
    ...new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }).fields(),
    ...new W3CTraceContextPropagator().fields(),
  ];
  return new Set(fields.map((f) => f.toLowerCase()));
}
