// MeshTracer against the OpenTelemetry SDK it stands in for: the same sampling decisions as
// TraceIdRatioBasedSampler / ParentBasedSampler, the same ReadableSpan for the same operations as
// an sdk-trace TracerProvider's span, valid ids, span limits, and export through OTel's own
// processors. Issue 6 "Tracing".
import assert from 'node:assert/strict';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  trace,
} from '@opentelemetry/api';
import type { Context, HrTime, Span, SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  StackContextManager,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { IdPool, MeshTracer, MeshTracerSampler } from '../../src/tracing/mesh-tracer.js';
import type { SamplingPolicy, SpanSink } from '../../src/tracing/mesh-tracer.js';
import { seededRandom } from '../helpers/seeded-random.js';

const RESOURCE = resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3' });
const SCOPE = { name: '@weft/sdk', version: '0.1.0' };
const PARENT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN_ID = 'b7ad6b7169203331';

/** A span processor that keeps what ends, for the tests that need no exporter. */
class EndedSpans implements SpanProcessor {
  readonly ended: ReadableSpan[] = [];
  onStart(): void {
    // Nothing at start: MeshTracer hands spans over at their end only.
  }
  onEnd(span: ReadableSpan): void {
    this.ended.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function policy(parentBased: boolean, ratio: number): SamplingPolicy {
  return { parentBased, ratio, description: `test ${ratio}` };
}

function sinkOf(processor: SpanProcessor): SpanSink {
  return { processor, resource: RESOURCE, scope: SCOPE };
}

/** A context whose span is a remote parent of `traceId`, sampled or not. */
function remoteParent(traceId: string, sampled: boolean, traceState?: TraceState): Context {
  const parent: SpanContext = {
    traceId,
    spanId: PARENT_SPAN_ID,
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(traceState === undefined ? {} : { traceState }),
  };
  return trace.setSpanContext(ROOT_CONTEXT, parent);
}

/** `n` random 32-hex-digit trace ids (seeded: the same every run), none all zeros. */
function randomTraceIds(n: number, seed: number): string[] {
  const random = seededRandom(seed);
  const word = (): string =>
    Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  const ids: string[] = [];
  while (ids.length < n) {
    const id = word() + word() + word() + word();
    if (id !== '0'.repeat(32)) ids.push(id);
  }
  return ids;
}

function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

const RATIOS = [0, 0.01, 0.25, 0.5, 0.999, 1];

describe('MeshTracer', function () {
  describe('sampling', function () {
    for (const ratio of RATIOS) {
      it(`keeps root spans exactly as TraceIdRatioBasedSampler(${ratio}) does`, function () {
        const sampler = new TraceIdRatioBasedSampler(ratio);
        for (const parentBased of [true, false]) {
          const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(parentBased, ratio));
          let kept = 0;
          for (let i = 0; i < 2000; i++) {
            const span = tracer.startSpan('root', {}, ROOT_CONTEXT);
            const { traceId } = span.spanContext();
            const expected =
              sampler.shouldSample(ROOT_CONTEXT, traceId).decision ===
              SamplingDecision.RECORD_AND_SAMPLED;
            assert.equal(isSampled(span), expected, `trace ${traceId} at ${ratio}`);
            assert.equal(span.isRecording(), expected);
            if (expected) kept++;
            span.end();
          }
          if (ratio === 0) assert.equal(kept, 0);
          if (ratio === 1) assert.equal(kept, 2000);
        }
      });

      it(`without parentBased, decides a child by the parent's trace id at ${ratio}, as the SDK's sampler`, function () {
        const sampler = new TraceIdRatioBasedSampler(ratio);
        const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(false, ratio));
        for (const [i, traceId] of randomTraceIds(2000, 7 + ratio * 1000).entries()) {
          // Half under a sampled parent, half under a not-sampled one: the ratio decides both.
          const ctx = remoteParent(traceId, i % 2 === 0);
          const span = tracer.startSpan('child', {}, ctx);
          const expected =
            sampler.shouldSample(ctx, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
          assert.equal(span.spanContext().traceId, traceId);
          assert.equal(isSampled(span), expected, `trace ${traceId} at ${ratio}`);
          span.end();
        }
      });

      it(`with parentBased, follows a sampled or not-sampled parent whatever the ratio (${ratio})`, function () {
        const sdk = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
        const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(true, ratio));
        for (const [i, traceId] of randomTraceIds(2000, 11 + ratio * 1000).entries()) {
          const parentSampled = i % 2 === 0;
          const ctx = remoteParent(traceId, parentSampled);
          const span = tracer.startSpan('child', { kind: SpanKind.SERVER }, ctx);
          const expected =
            sdk.shouldSample(ctx, traceId, 'child', SpanKind.SERVER, {}, []).decision ===
            SamplingDecision.RECORD_AND_SAMPLED;
          assert.equal(expected, parentSampled, 'the SDK follows the parent too');
          assert.equal(isSampled(span), parentSampled, `trace ${traceId} at ${ratio}`);
          assert.equal(span.spanContext().traceId, traceId);
          span.end();
        }
      });
    }

    it('starts a new trace for `root: true` and for an invalid parent span context', function () {
      const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(true, 1));
      const rooted = tracer.startSpan('r', { root: true }, remoteParent(PARENT_TRACE_ID, true));
      assert.notEqual(rooted.spanContext().traceId, PARENT_TRACE_ID);
      const invalid = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '0'.repeat(32),
        spanId: PARENT_SPAN_ID,
        traceFlags: TraceFlags.SAMPLED,
      });
      const fresh = tracer.startSpan('f', {}, invalid) as Span & ReadableSpan;
      assert.notEqual(fresh.spanContext().traceId, '0'.repeat(32));
      assert.equal(fresh.parentSpanContext, undefined);
    });
  });

  describe('MeshTracerSampler (the sdk-node provider the mesh starts samples as its tracer)', function () {
    it('decides as the tracer does, with the SDK’s SamplingDecision values, and follows setPolicy', function () {
      const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(true, 0.25));
      const sampler = new MeshTracerSampler(tracer);
      const ids = randomTraceIds(2000, 7);
      const decide = (id: string, ctx: Context = ROOT_CONTEXT): SamplingDecision =>
        sampler.shouldSample(ctx, id).decision;
      for (const ratio of RATIOS) {
        tracer.setPolicy(policy(true, ratio));
        const reference = new TraceIdRatioBasedSampler(ratio);
        for (const id of ids) {
          assert.equal(
            decide(id),
            reference.shouldSample(ROOT_CONTEXT, id).decision ===
              SamplingDecision.RECORD_AND_SAMPLED
              ? SamplingDecision.RECORD_AND_SAMPLED
              : SamplingDecision.NOT_RECORD,
            `ratio ${ratio}, trace ${id}`,
          );
        }
        // Parent-based: a parent's flag decides whatever the ratio.
        assert.equal(
          decide(ids[0]!, remoteParent(ids[0]!, true)),
          SamplingDecision.RECORD_AND_SAMPLED,
        );
        assert.equal(decide(ids[0]!, remoteParent(ids[0]!, false)), SamplingDecision.NOT_RECORD);
      }
      tracer.setPolicy(policy(false, 0));
      assert.equal(decide(ids[0]!, remoteParent(ids[0]!, true)), SamplingDecision.NOT_RECORD);
      assert.equal(sampler.toString(), 'MeshTracerSampler{test 0}');
    });
  });

  describe('spans, compared with an sdk-trace TracerProvider span', function () {
    /**
     * Epoch ms with sub-millisecond parts (steps of 2⁻¹² ms, exact doubles at this magnitude) that
     * round differently in nanoseconds: a duration worked out from the ms difference would be 1 ns
     * off the difference of the HrTimes.
     */
    const T0 = 1_700_000_000_123 + 4 / 4096;
    const T1 = T0 + 2.5;
    const T2 = T0 + 3 + 1 / 4096;
    const T3 = T0 + 7 + 3 / 4096;
    const T4 = 1_700_000_000_133 + 8 / 4096;

    interface Compared {
      span: ReadableSpan;
      live: Span;
    }

    /**
     * The same operations on a span started under a sampled remote parent; `explicitTimes` passes
     * the times the SDK's span would otherwise read from its own clock.
     */
    function exercise(startSpan: (ctx: Context) => Span, explicitTimes: boolean): Span {
      const parent = remoteParent(PARENT_TRACE_ID, true, new TraceState('vendor=opaque'));
      const live = startSpan(parent);
      live.setAttribute('http.response.status_code', 503);
      live.setAttribute('server.port', 8081); // replaces the start attribute
      live.setAttributes({ 'weft.attempts': 2, 'weft.response_flags': 'UF', tags: ['a', 'b'] });
      if (explicitTimes) live.addEvent('weft.attempt.ended', { 'weft.attempt': 1 }, T1);
      else live.addEvent('weft.attempt.ended', { 'weft.attempt': 1 });
      live.addEvent('retry.backoff', T2);
      live.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream reset' });
      live.setStatus({ code: SpanStatusCode.OK });
      live.updateName('GET /reserve');
      if (explicitTimes) live.recordException(ERR, T3);
      else live.recordException(ERR);
      if (explicitTimes) live.end(T4);
      else live.end();
      return live;
    }

    /** One error for both spans (its stack is part of the event). */
    const ERR = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });

    const START_OPTIONS = {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'GET',
        'server.address': 'inventory',
        'server.port': 8080,
      },
    };

    function sdkSpan(): Compared {
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({
        resource: RESOURCE,
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const tracer = provider.getTracer(SCOPE.name, SCOPE.version);
      const live = exercise(
        (ctx) => tracer.startSpan('GET', { ...START_OPTIONS, startTime: T0 }, ctx),
        true,
      );
      const [span] = exporter.getFinishedSpans();
      assert.ok(span);
      return { span, live };
    }

    function meshSpan(): Compared {
      const exporter = new InMemorySpanExporter();
      const clock = [T0, T1, T3, T4];
      const now = (): number => {
        const t = clock.shift();
        assert.ok(t !== undefined, 'the clock was read more often than expected');
        return t;
      };
      const tracer = new MeshTracer(
        sinkOf(new SimpleSpanProcessor({ exporter })),
        policy(true, 1),
        now,
      );
      const live = exercise((ctx) => tracer.startSpan('GET', START_OPTIONS, ctx), false);
      assert.deepEqual(clock, [], 'start, the event without a time, the exception, end');
      const [span] = exporter.getFinishedSpans();
      assert.ok(span);
      return { span, live };
    }

    it('exports the same name, kind, attributes, status, events, parent, trace, resource and scope', function () {
      const sdk = sdkSpan().span;
      const mesh = meshSpan().span;
      assert.equal(mesh.name, sdk.name);
      assert.equal(mesh.kind, sdk.kind);
      assert.deepEqual(mesh.attributes, sdk.attributes);
      assert.equal(mesh.droppedAttributesCount, sdk.droppedAttributesCount);
      assert.deepEqual(mesh.status, sdk.status);
      assert.deepEqual(
        mesh.events.map((e) => [e.name, e.attributes ?? {}]),
        sdk.events.map((e) => [e.name, e.attributes ?? {}]),
      );
      assert.equal(mesh.droppedEventsCount, sdk.droppedEventsCount);
      assert.deepEqual(mesh.parentSpanContext, sdk.parentSpanContext);
      assert.equal(mesh.spanContext().traceId, sdk.spanContext().traceId);
      assert.equal(mesh.spanContext().traceFlags, sdk.spanContext().traceFlags);
      assert.equal(
        mesh.spanContext().traceState?.serialize(),
        sdk.spanContext().traceState?.serialize(),
      );
      assert.notEqual(mesh.spanContext().spanId, PARENT_SPAN_ID);
      assert.deepEqual(mesh.resource.attributes, sdk.resource.attributes);
      assert.equal(mesh.instrumentationScope.name, sdk.instrumentationScope.name);
      assert.equal(mesh.instrumentationScope.version, sdk.instrumentationScope.version);
      assert.equal(mesh.instrumentationScope.schemaUrl, sdk.instrumentationScope.schemaUrl);
      assert.equal(mesh.ended, true);
      assert.equal(sdk.ended, true);
    });

    it('has the same start, end, event times and duration, to the nanosecond (injected clock)', function () {
      const sdk = sdkSpan().span;
      const mesh = meshSpan().span;
      const times = (s: ReadableSpan): HrTime[] => [
        s.startTime,
        s.endTime,
        s.duration,
        ...s.events.map((e) => e.time),
      ];
      assert.deepEqual(times(mesh), times(sdk));
      assert.deepEqual(mesh.duration, [0, 10_000_976]);
    });

    it('is no longer recording once ended, as the SDK span', function () {
      const sdk = sdkSpan().live;
      const mesh = meshSpan().live;
      assert.equal(mesh.isRecording(), false);
      assert.equal(sdk.isRecording(), false);
    });

    it('keeps a status description only for ERROR, as the SDK', function () {
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const ended = new EndedSpans();
      const tracer = new MeshTracer(sinkOf(ended), policy(true, 1));
      for (const t of [tracer, provider.getTracer('t')]) {
        const span = t.startSpan('s', {}, ROOT_CONTEXT);
        span.setStatus({ code: SpanStatusCode.OK, message: 'fine' });
        span.end();
      }
      assert.deepEqual(ended.ended[0]?.status, exporter.getFinishedSpans()[0]?.status);
      assert.deepEqual(ended.ended[0]?.status, { code: SpanStatusCode.OK });
    });

    it('ends a span given an end before its start at its start, as the SDK', function () {
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const ended = new EndedSpans();
      for (const t of [new MeshTracer(sinkOf(ended), policy(true, 1)), provider.getTracer('t')]) {
        t.startSpan('s', { startTime: T0 }, ROOT_CONTEXT).end(T0 - 1);
      }
      const [mesh] = ended.ended;
      const [sdk] = exporter.getFinishedSpans();
      assert.ok(mesh && sdk);
      assert.deepEqual(
        [mesh.startTime, mesh.endTime, mesh.duration],
        [sdk.startTime, sdk.endTime, sdk.duration],
      );
      assert.deepEqual(mesh.duration, [0, 0]);
    });
  });

  describe('ids', function () {
    it('makes 10k unique lower-case hex trace and span ids of the right length, never all zeros', function () {
      const pool = new IdPool();
      const traceIds = new Set<string>();
      const spanIds = new Set<string>();
      for (let i = 0; i < 10_000; i++) {
        const t = pool.traceId();
        const s = pool.spanId();
        assert.match(t, /^[0-9a-f]{32}$/);
        assert.match(s, /^[0-9a-f]{16}$/);
        assert.notEqual(t, '0'.repeat(32));
        assert.notEqual(s, '0'.repeat(16));
        traceIds.add(t);
        spanIds.add(s);
      }
      assert.equal(traceIds.size, 10_000);
      assert.equal(spanIds.size, 10_000);
    });

    it('gives a sampled-out span a valid span context with flags 0 and nothing recorded', function () {
      const ended = new EndedSpans();
      const tracer = new MeshTracer(sinkOf(ended), policy(true, 0));
      const root = tracer.startSpan('root', {}, ROOT_CONTEXT);
      assert.equal(root.isRecording(), false);
      assert.equal(trace.isSpanContextValid(root.spanContext()), true);
      assert.equal(root.spanContext().traceFlags, TraceFlags.NONE);
      const traceState = new TraceState('vendor=opaque');
      const child = tracer.startSpan('c', {}, remoteParent(PARENT_TRACE_ID, false, traceState));
      assert.equal(child.isRecording(), false);
      assert.equal(trace.isSpanContextValid(child.spanContext()), true);
      assert.equal(child.spanContext().traceId, PARENT_TRACE_ID);
      assert.notEqual(child.spanContext().spanId, PARENT_SPAN_ID);
      assert.equal(child.spanContext().traceFlags, TraceFlags.NONE);
      assert.equal(child.spanContext().traceState?.serialize(), 'vendor=opaque');
      child.setAttribute('a', 1);
      root.end();
      child.end();
      assert.equal(ended.ended.length, 0);
    });
  });

  describe('limits', function () {
    it('drops and counts the 129th distinct attribute, as the SDK, and still updates kept ones', function () {
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const ended = new EndedSpans();
      const tracers = [new MeshTracer(sinkOf(ended), policy(true, 1)), provider.getTracer('t')];
      for (const t of tracers) {
        const span = t.startSpan('s', {}, ROOT_CONTEXT);
        for (let i = 0; i < 128; i++) span.setAttribute(`k${i}`, i);
        span.setAttribute('k128', 128);
        span.setAttributes({ k129: 129, k0: 'updated' });
        span.end();
      }
      const mesh = ended.ended[0];
      const sdk = exporter.getFinishedSpans()[0];
      assert.ok(mesh && sdk);
      assert.equal(Object.keys(mesh.attributes).length, 128);
      assert.equal(mesh.attributes['k128'], undefined);
      assert.equal(mesh.attributes['k0'], 'updated');
      assert.equal(mesh.droppedAttributesCount, 2);
      assert.deepEqual(mesh.attributes, sdk.attributes);
      assert.equal(mesh.droppedAttributesCount, sdk.droppedAttributesCount);
    });

    it('ignores changes after end and hands the span over once when ended twice', function () {
      let t = 1_700_000_000_000;
      const ended = new EndedSpans();
      const tracer = new MeshTracer(sinkOf(ended), policy(true, 1), () => (t += 5));
      const span = tracer.startSpan('s', { attributes: { a: 1 } }, ROOT_CONTEXT);
      span.end();
      span.setAttribute('b', 2);
      span.setAttributes({ c: 3 });
      span.addEvent('late');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
      span.updateName('renamed');
      span.recordException(new Error('late'));
      span.end();
      assert.equal(ended.ended.length, 1);
      const [readable] = ended.ended;
      assert.ok(readable);
      assert.deepEqual(readable.attributes, { a: 1 });
      assert.deepEqual(readable.events, []);
      assert.deepEqual(readable.status, { code: SpanStatusCode.UNSET });
      assert.equal(readable.name, 's');
      assert.deepEqual(readable.endTime, [1_700_000_000, 10_000_000], 'the first end stays');
    });
  });

  describe('startActiveSpan', function () {
    let registered = false;
    before(function () {
      // @opentelemetry/context-async-hooks is not a dependency of the sdk package; sdk-trace's
      // StackContextManager (synchronous) is enough for a synchronous fn.
      registered = context.setGlobalContextManager(new StackContextManager().enable());
      assert.ok(registered, 'another context manager is registered globally');
    });
    after(function () {
      if (registered) context.disable();
    });

    it('passes fn the span, makes it the active span inside, and returns what fn returns', function () {
      const ended = new EndedSpans();
      const tracer = new MeshTracer(sinkOf(ended), policy(true, 1));
      let inside = undefined as Span | undefined;
      const out = tracer.startActiveSpan('outer', (span) => {
        inside = trace.getActiveSpan();
        // A span started inside is the active one's child.
        const child = tracer.startSpan('inner') as Span & ReadableSpan;
        assert.equal(child.parentSpanContext?.spanId, span.spanContext().spanId);
        child.end();
        span.end();
        return span;
      });
      assert.ok(inside);
      assert.equal(inside, out);
      assert.equal(trace.getActiveSpan(), undefined, 'restored after fn');
      assert.deepEqual(
        ended.ended.map((s) => s.name),
        ['inner', 'outer'],
      );
    });

    it('takes options and an explicit parent context', function () {
      const tracer = new MeshTracer(sinkOf(new EndedSpans()), policy(true, 1));
      const result = tracer.startActiveSpan(
        'server',
        { kind: SpanKind.SERVER, attributes: { 'url.path': '/x' } },
        remoteParent(PARENT_TRACE_ID, true),
        (span) => {
          const readable = span as Span & ReadableSpan;
          assert.equal(trace.getActiveSpan(), span);
          assert.equal(readable.kind, SpanKind.SERVER);
          assert.equal(readable.attributes['url.path'], '/x');
          assert.equal(readable.parentSpanContext?.spanId, PARENT_SPAN_ID);
          assert.equal(span.spanContext().traceId, PARENT_TRACE_ID);
          span.end();
          return 42;
        },
      );
      assert.equal(result, 42);
    });
  });

  describe('export through OpenTelemetry processors', function () {
    it('reaches an InMemorySpanExporter through a BatchSpanProcessor after forceFlush', async function () {
      const exporter = new InMemorySpanExporter();
      // A delay no test waits for: only forceFlush sends the batch.
      const processor = new BatchSpanProcessor({ exporter, scheduledDelayMillis: 600_000 });
      const tracer = new MeshTracer(sinkOf(processor), policy(true, 0.5));
      let sampled = 0;
      for (let i = 0; i < 50; i++) {
        const span = tracer.startSpan(`s${i}`, { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
        if (span.isRecording()) sampled++;
        span.setAttribute('i', i);
        span.end();
      }
      assert.ok(sampled > 0 && sampled < 50, `sampled ${sampled} of 50`);
      assert.equal(exporter.getFinishedSpans().length, 0);
      await processor.forceFlush();
      const spans = exporter.getFinishedSpans();
      assert.equal(spans.length, sampled);
      for (const s of spans) {
        assert.equal(s.kind, SpanKind.CLIENT);
        assert.equal(s.resource.attributes['service.name'], 'checkout');
        assert.equal(s.instrumentationScope.name, '@weft/sdk');
        assert.equal(s.spanContext().traceFlags, TraceFlags.SAMPLED);
        assert.equal(s.ended, true);
      }
      await processor.shutdown();
    });
  });
});
