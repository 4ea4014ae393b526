// The mesh's own tracer, used when the mesh starts the tracer provider itself (OTLP endpoint, no
// provider of the user's): the same spans as the OpenTelemetry SDK's tracer would make, at a
// fraction of the request-path cost. The sampling decision comes first (parent-based trace-id
// ratio, the same arithmetic as the SDK's TraceIdRatioBasedSampler, so a trace is kept or dropped
// alike by every service), and a sampled-out request gets a span context and nothing else; ids
// come from a pooled crypto-random buffer; a sampled span is one plain object that is its own
// ReadableSpan, handed at its end to the batch processor the SDK's provider shares (one exporter,
// one resource for the mesh's spans and the application's). Issue 6 "Tracing": "zero cost when
// tracing is off", the bench target ≤ 1.10.
import { randomFillSync } from 'node:crypto';
import {
  INVALID_SPANID,
  INVALID_TRACEID,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context as otelContext,
  trace,
} from '@opentelemetry/api';
import type {
  Attributes,
  AnyValue,
  Context,
  Exception,
  HrTime,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type {
  ReadableSpan,
  Sampler,
  SamplingDecision,
  SamplingResult,
  SpanProcessor,
  TimedEvent,
} from '@opentelemetry/sdk-trace';
import { preciseNow } from '@weft/xds-client';

/**
 * How the mesh's tracer samples: a span with a parent follows the parent's decision when
 * `parentBased`; a root span (or every span, without `parentBased`) is kept by trace-id ratio.
 */
export interface SamplingPolicy {
  readonly parentBased: boolean;
  /** 0-1. */
  readonly ratio: number;
  /** The sampler's name in logs and `mesh.stats()`, e.g. `parentbased_traceidratio 0.01`. */
  readonly description: string;
}

/** Where the mesh's recorded spans go, and what they carry. */
export interface SpanSink {
  readonly processor: SpanProcessor;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
}

/** Attributes kept per span (OpenTelemetry's default OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT). */
const ATTRIBUTE_COUNT_LIMIT = 128;
/** Events kept per span (OpenTelemetry's default OTEL_SPAN_EVENT_COUNT_LIMIT). */
const EVENT_COUNT_LIMIT = 128;
/** Random bytes drawn at once for ids: 170 trace/span id pairs per refill. */
const ID_POOL_BYTES = 4080;

/**
 * Trace and span ids as lower-case hex from one crypto-random buffer, hex-encoded once per refill
 * (one `randomFillSync` and one encoding per 170 requests; each id is then a slice of that
 * string). An all-zero id is invalid and is drawn again.
 */
export class IdPool {
  private readonly buffer = Buffer.allocUnsafe(ID_POOL_BYTES);
  private hex = '';
  /** Next unused hex character of `hex`. */
  private offset = 0;

  traceId(): string {
    for (;;) {
      const id = this.take(32);
      if (id !== '00000000000000000000000000000000') return id;
    }
  }

  spanId(): string {
    for (;;) {
      const id = this.take(16);
      if (id !== '0000000000000000') return id;
    }
  }

  private take(chars: number): string {
    if (this.offset + chars > this.hex.length) {
      randomFillSync(this.buffer);
      this.hex = this.buffer.toString('hex');
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += chars;
    return this.hex.slice(start, start + chars);
  }
}

/**
 * The upper bound of OpenTelemetry's TraceIdRatioBasedSampler for `ratio`: a trace is kept when
 * `traceIdWord` is below it (2³² for 1: always).
 */
export function ratioUpperBound(ratio: number): number {
  if (ratio >= 1) return 0x100000000;
  if (ratio <= 0 || Number.isNaN(ratio)) return 0;
  return Math.floor(ratio * 0xffffffff);
}

/**
 * The XOR of a (valid, lower- or upper-case hex) trace id's four 32-bit words: the number
 * TraceIdRatioBasedSampler compares, computed the same way so that a trace the mesh keeps is kept
 * by every SDK-sampled service at the same ratio.
 */
export function traceIdWord(traceId: string): number {
  let accumulation = 0;
  for (let i = 0; i < 32; i += 8) {
    let word = 0;
    for (let j = 0; j < 8; j++) {
      const c = traceId.charCodeAt(i + j);
      word = (word << 4) | (c < 58 ? c - 48 : c < 71 ? c - 55 : c - 87);
    }
    accumulation = (accumulation ^ word) >>> 0;
  }
  return accumulation;
}

/**
 * Whether `parent` can be a parent: a remote one (from headers) fully checked; a local one (a
 * span of this process, ours or the application's) only for the API's all-zero invalid ids.
 */
function usableParent(parent: SpanContext): boolean {
  if (parent.isRemote === true) return trace.isSpanContextValid(parent);
  return parent.traceId !== INVALID_TRACEID && parent.spanId !== INVALID_SPANID;
}

/** Milliseconds since the epoch of `performance.now()` readings. */
const TIME_ORIGIN = performance.timeOrigin;

/** Fractional epoch milliseconds (`preciseNow`; a test passes its own). */
export type SpanClock = () => number;

function hrTimeOf(epochMs: number): HrTime {
  const seconds = Math.trunc(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

/** `TimeInput` (HrTime, epoch ms or `performance.now()` ms, Date) as epoch ms. */
function epochMsOf(time: TimeInput): number {
  if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6;
  if (time instanceof Date) return time.getTime();
  // Below half the time origin: a performance.now() reading, as OpenTelemetry's
  // timeInputToHrTime reads it (an epoch time from before the process started stays one).
  return time < TIME_ORIGIN / 2 ? TIME_ORIGIN + time : time;
}

function isTimeInput(v: unknown): v is TimeInput {
  return (
    typeof v === 'number' ||
    v instanceof Date ||
    (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number')
  );
}

const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/** A recorded (sampled) span of the mesh: the API's Span while open, a ReadableSpan once ended. */
class MeshSpan implements Span, ReadableSpan {
  readonly attributes: Attributes = {};
  /** Most spans have no links or events: the shared empty lists until the first is added. */
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET_STATUS;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  /** Start and end, fractional epoch ms. */
  private readonly startMs: number;
  private endMs = 0;
  private attributeCount = 0;

  constructor(
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    private readonly sink: SpanSink,
    private readonly now: SpanClock,
    startTime: TimeInput | undefined,
  ) {
    this.startMs = startTime === undefined ? now() : epochMsOf(startTime);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  get startTime(): HrTime {
    return hrTimeOf(this.startMs);
  }

  get endTime(): HrTime {
    return hrTimeOf(this.endMs);
  }

  get duration(): HrTime {
    // The difference of the HrTimes, as the SDK's span (ms arithmetic can be 1 ns off it).
    const [startS, startNs] = this.startTime;
    const [endS, endNs] = this.endTime;
    return endNs < startNs
      ? [endS - startS - 1, endNs - startNs + 1e9]
      : [endS - startS, endNs - startNs];
  }

  get resource(): Resource {
    return this.sink.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.sink.scope;
  }

  setAttribute(key: string, value: AnyValue): this {
    // Nothing is set for undefined or null (as the SDK does).
    if (this.ended || value === undefined || value === null) return this;
    if (!(key in this.attributes)) {
      if (this.attributeCount >= ATTRIBUTE_COUNT_LIMIT) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount++;
    }
    this.attributes[key] = Array.isArray(value) ? value.slice() : value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    if (this.events.length >= EVENT_COUNT_LIMIT) {
      this.droppedEventsCount++;
      return this;
    }
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) time = attributesOrTime;
    else attributes = attributesOrTime;
    const at = time === undefined ? this.now() : epochMsOf(time);
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push({
      name,
      time: hrTimeOf(at),
      ...(attributes === undefined ? {} : { attributes: { ...attributes } }),
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links === NO_LINKS) this.links = [];
    this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET) return this;
    // OK is final; ERROR may still become OK; only ERROR has a description (OpenTelemetry's rules).
    if (this.status.code === SpanStatusCode.OK) return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      // The code first (ECONNREFUSED, WEFT_TIMEOUT…), else the name: the SDK's order.
      const type =
        exception.code !== undefined && exception.code !== 0 && exception.code !== ''
          ? String(exception.code)
          : exception.name;
      if (type !== undefined && type !== '') attributes['exception.type'] = type;
      if (exception.message !== undefined) attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    // An end before the start is the start (zero duration), as the SDK's span.
    this.endMs = Math.max(this.startMs, endTime === undefined ? this.now() : epochMsOf(endTime));
    this.ended = true;
    this.sink.processor.onEnd(this);
  }
}

/**
 * An OpenTelemetry Tracer over `sink` that samples by `policy` before anything is made: a
 * sampled-out span is the API's non-recording span around a fresh span context.
 */
export class MeshTracer implements Tracer {
  private readonly ids = new IdPool();
  private upperBound: number;
  private current: SamplingPolicy;

  constructor(
    private readonly sink: SpanSink,
    policy: SamplingPolicy,
    private readonly now: SpanClock = preciseNow,
  ) {
    this.current = policy;
    this.upperBound = ratioUpperBound(policy.ratio);
  }

  /** How root spans are sampled now. */
  get policy(): SamplingPolicy {
    return this.current;
  }

  /** Whether a span of `traceId` under `parent` (a usable one, or none) is sampled now. */
  samples(traceId: string, parent: SpanContext | undefined): boolean {
    if (parent !== undefined && this.current.parentBased) {
      return (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    }
    return traceIdWord(traceId) < this.upperBound;
  }

  /** Samples from now on by `policy` (the control plane's sampling arrived or changed). */
  setPolicy(policy: SamplingPolicy): void {
    this.current = policy;
    this.upperBound = ratioUpperBound(policy.ratio);
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = otelContext.active()): Span {
    let parent = options.root === true ? undefined : trace.getSpanContext(ctx);
    let traceId: string;
    let sampled: boolean;
    if (parent !== undefined && usableParent(parent)) {
      traceId = parent.traceId;
      sampled = this.samples(traceId, parent);
    } else {
      parent = undefined;
      traceId = this.ids.traceId();
      sampled = traceIdWord(traceId) < this.upperBound;
    }
    const spanContext: SpanContext = {
      traceId,
      spanId: this.ids.spanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: parent?.traceState,
    };
    if (!sampled) return trace.wrapSpanContext(spanContext);
    const span = new MeshSpan(
      name,
      options.kind ?? SpanKind.INTERNAL,
      spanContext,
      parent,
      this.sink,
      this.now,
      options.startTime,
    );
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    if (options.links !== undefined) span.addLinks(options.links);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length >= 2 ? (rest[0] as SpanOptions) : {};
    const parent = rest.length === 3 ? rest[1] : otelContext.active();
    const span = this.startSpan(name, options, parent);
    return otelContext.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}

// sdk-trace's SamplingDecision values, without loading sdk-trace with the SDK (it is imported
// only when the mesh starts a pipeline of its own).
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- SamplingDecision.NOT_RECORD
const NOT_RECORD = 0 as SamplingDecision;
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- .RECORD_AND_SAMPLED
const RECORD_AND_SAMPLED = 2 as SamplingDecision;

/**
 * An OpenTelemetry SDK Sampler that decides as `tracer` does now: given to the sdk-node provider
 * the mesh starts, so the application's own spans follow the same sampling (the control plane's
 * included) as the mesh's.
 */
export class MeshTracerSampler implements Sampler {
  constructor(private readonly tracer: MeshTracer) {}

  shouldSample(context: Context, traceId: string): SamplingResult {
    const parent = trace.getSpanContext(context);
    const usable = parent !== undefined && usableParent(parent) ? parent : undefined;
    return {
      decision: this.tracer.samples(traceId, usable) ? RECORD_AND_SAMPLED : NOT_RECORD,
    };
  }

  toString(): string {
    return `MeshTracerSampler{${this.tracer.policy.description}}`;
  }
}
