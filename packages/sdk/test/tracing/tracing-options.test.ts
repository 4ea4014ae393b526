// resolveTracingOptions from tables: propagators (tracing.propagators, OTEL_PROPAGATORS), the
// exporter and its exclusions, OTEL_TRACES_SAMPLER / _ARG into a SamplingPolicy, OTEL_BSP_*,
// OTEL_NODE_RESOURCE_DETECTORS and OTEL_SDK_DISABLED, each bad value an issue with its path.
import assert from 'node:assert/strict';
import { InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ConfigIssue } from '@weft/xds-client';
import type { SamplingPolicy } from '../../src/tracing/mesh-tracer.js';
import { DEFAULT_PROPAGATORS, resolveTracingOptions } from '../../src/tracing/tracing-options.js';
import type { ResolvedTracingOptions } from '../../src/tracing/tracing-options.js';

type Env = Readonly<Record<string, string>>;
type Auto = Extract<ResolvedTracingOptions, { mode: 'auto' }>;

function resolve(
  input: unknown,
  env: Env = {},
): { out: ResolvedTracingOptions; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  return { out: resolveTracingOptions(input, env, issues), issues };
}

/** The `auto` result of `input` / `env`, asserting the mode. */
function auto(input: unknown, env: Env = {}): { out: Auto; issues: ConfigIssue[] } {
  const { out, issues } = resolve(input, env);
  assert.equal(out.mode, 'auto');
  return { out, issues };
}

function paths(issues: readonly ConfigIssue[]): string[] {
  return issues.map((i) => i.path);
}

describe('resolveTracingOptions', function () {
  describe('propagators', function () {
    const fromEnv: { name: string; value: string; expected: string[]; issues?: string[] }[] = [
      { name: 'unset: W3C only', value: '', expected: ['tracecontext'] },
      { name: 'blank', value: '   ', expected: ['tracecontext'] },
      { name: 'one', value: 'b3', expected: ['b3'] },
      {
        name: 'case and spaces',
        value: ' TraceContext , B3Multi ',
        expected: ['tracecontext', 'b3multi'],
      },
      {
        name: 'order kept, duplicates once',
        value: 'b3multi,tracecontext,b3multi,TRACECONTEXT',
        expected: ['b3multi', 'tracecontext'],
      },
      { name: 'empty entries', value: ',b3,,', expected: ['b3'] },
      { name: 'baggage passes through', value: 'tracecontext,baggage', expected: ['tracecontext'] },
      { name: 'baggage alone: no trace headers', value: 'baggage', expected: [] },
      { name: 'none', value: 'none', expected: [] },
      {
        name: 'an unknown one',
        value: 'tracecontext,xray',
        expected: ['tracecontext'],
        issues: ['env.OTEL_PROPAGATORS'],
      },
      {
        name: 'two unknown ones',
        value: 'jaeger,ottrace',
        expected: [],
        issues: ['env.OTEL_PROPAGATORS', 'env.OTEL_PROPAGATORS'],
      },
    ];
    for (const c of fromEnv) {
      it(`reads OTEL_PROPAGATORS: ${c.name}`, function () {
        const { out, issues } = auto(undefined, { OTEL_PROPAGATORS: c.value });
        assert.deepEqual(out.propagators, c.expected);
        assert.deepEqual(paths(issues), c.issues ?? []);
      });
    }

    const fromOptions: { name: string; value: unknown; expected: string[]; issues?: string[] }[] = [
      {
        name: 'all three',
        value: ['b3', 'b3multi', 'tracecontext'],
        expected: ['b3', 'b3multi', 'tracecontext'],
      },
      { name: 'empty: no trace headers', value: [], expected: [] },
      { name: 'duplicates once', value: ['b3', 'b3'], expected: ['b3'] },
      {
        name: 'not an array',
        value: 'tracecontext,b3',
        expected: ['tracecontext'],
        issues: ['tracing.propagators'],
      },
      { name: 'null', value: null, expected: ['tracecontext'], issues: ['tracing.propagators'] },
      {
        name: 'an unknown entry',
        value: ['tracecontext', 'zipkin'],
        expected: ['tracecontext'],
        issues: ['tracing.propagators[1]'],
      },
      {
        name: 'not a string',
        value: [1, 'b3'],
        expected: ['b3'],
        issues: ['tracing.propagators[0]'],
      },
      {
        name: 'upper case (the option takes the exact names)',
        value: ['B3'],
        expected: [],
        issues: ['tracing.propagators[0]'],
      },
      {
        name: 'baggage and none (OTEL_PROPAGATORS names, not formats the mesh injects)',
        value: ['baggage', 'b3', 'none'],
        expected: ['b3'],
        issues: ['tracing.propagators[0]', 'tracing.propagators[2]'],
      },
    ];
    for (const c of fromOptions) {
      it(`reads tracing.propagators: ${c.name}`, function () {
        const { out, issues } = auto({ propagators: c.value });
        assert.deepEqual(out.propagators, c.expected);
        assert.deepEqual(paths(issues), c.issues ?? []);
      });
    }

    it('prefers tracing.propagators to OTEL_PROPAGATORS (a bad env value is then not read)', function () {
      const { out, issues } = auto({ propagators: ['b3'] }, { OTEL_PROPAGATORS: 'xray' });
      assert.deepEqual(out.propagators, ['b3']);
      assert.deepEqual(issues, []);
    });

    it("defaults to ['tracecontext'], also with a tracerProvider", function () {
      assert.deepEqual(DEFAULT_PROPAGATORS, ['tracecontext']);
      assert.deepEqual(auto(undefined).out.propagators, ['tracecontext']);
      const { out, issues } = resolve({ tracerProvider: new TracerProvider() });
      assert.deepEqual(out.mode === 'provider' && out.propagators, ['tracecontext']);
      assert.deepEqual(issues, []);
    });

    it('reads propagators with a tracerProvider too', function () {
      const { out } = resolve(
        { tracerProvider: new TracerProvider() },
        { OTEL_PROPAGATORS: 'b3multi' },
      );
      assert.deepEqual(out.mode === 'provider' && out.propagators, ['b3multi']);
    });
  });

  describe('exporter', function () {
    it('takes an OpenTelemetry SpanExporter', function () {
      const exporter = new InMemorySpanExporter();
      const { out, issues } = auto({ exporter, sampling: 0.5 });
      assert.deepEqual(issues, []);
      assert.equal(out.exporter, exporter);
      assert.deepEqual(out.policy, {
        parentBased: true,
        ratio: 0.5,
        description: 'parentbased_traceidratio 0.5',
      });
      assert.ok(Object.isFrozen(out));
    });

    const bad: { name: string; input: Record<string, unknown>; issues: string[] }[] = [
      { name: 'an object without export', input: { exporter: {} }, issues: ['tracing.exporter'] },
      {
        name: 'export without shutdown',
        input: { exporter: { export: () => undefined } },
        issues: ['tracing.exporter'],
      },
      { name: 'a string', input: { exporter: 'otlp' }, issues: ['tracing.exporter'] },
      {
        name: 'with otlpEndpoint',
        input: { exporter: new InMemorySpanExporter(), otlpEndpoint: 'http://c:4318/v1/traces' },
        issues: ['tracing.otlpEndpoint'],
      },
      {
        name: 'with a tracerProvider',
        input: { exporter: new InMemorySpanExporter(), tracerProvider: new TracerProvider() },
        issues: ['tracing.exporter'],
      },
    ];
    for (const c of bad) {
      it(`rejects ${c.name}`, function () {
        const { out, issues } = resolve(c.input);
        assert.deepEqual(paths(issues), c.issues);
        if (out.mode === 'auto') assert.equal(out.otlpEndpoint, undefined);
      });
    }
  });

  describe('sampling policy', function () {
    const table: {
      name: string;
      env: Env;
      input?: Record<string, unknown>;
      policy: SamplingPolicy | undefined;
      issues?: string[];
    }[] = [
      {
        name: 'OTEL_TRACES_SAMPLER unset: parentbased_always_on',
        env: {},
        policy: { parentBased: true, ratio: 1, description: 'parentbased_always_on' },
      },
      {
        name: 'always_on',
        env: { OTEL_TRACES_SAMPLER: 'always_on' },
        policy: { parentBased: false, ratio: 1, description: 'always_on' },
      },
      {
        name: 'always_off',
        env: { OTEL_TRACES_SAMPLER: 'always_off' },
        policy: { parentBased: false, ratio: 0, description: 'always_off' },
      },
      {
        name: 'traceidratio with an ARG',
        env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
        policy: { parentBased: false, ratio: 0.25, description: 'traceidratio 0.25' },
      },
      {
        name: 'traceidratio without an ARG: 1, as the SDK',
        env: { OTEL_TRACES_SAMPLER: 'traceidratio' },
        policy: { parentBased: false, ratio: 1, description: 'traceidratio 1' },
      },
      {
        name: 'parentbased_always_on',
        env: { OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
        policy: { parentBased: true, ratio: 1, description: 'parentbased_always_on' },
      },
      {
        name: 'parentbased_always_off',
        env: { OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
        policy: { parentBased: true, ratio: 0, description: 'parentbased_always_off' },
      },
      {
        name: 'parentbased_traceidratio (upper case, spaces)',
        env: {
          OTEL_TRACES_SAMPLER: ' ParentBased_TraceIdRatio ',
          OTEL_TRACES_SAMPLER_ARG: ' 0.1 ',
        },
        policy: { parentBased: true, ratio: 0.1, description: 'parentbased_traceidratio 0.1' },
      },
      {
        name: 'the ARG of a sampler that takes none is not read',
        env: { OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'x' },
        policy: { parentBased: false, ratio: 1, description: 'always_on' },
      },
      {
        name: 'traceidratio with a word as ARG',
        env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' },
        policy: { parentBased: false, ratio: 1, description: 'traceidratio 1' },
        issues: ['env.OTEL_TRACES_SAMPLER_ARG'],
      },
      {
        name: 'traceidratio with an ARG above 1',
        env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' },
        policy: { parentBased: false, ratio: 1, description: 'traceidratio 1' },
        issues: ['env.OTEL_TRACES_SAMPLER_ARG'],
      },
      {
        name: 'parentbased_traceidratio with a negative ARG',
        env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '-0.1' },
        policy: { parentBased: true, ratio: 1, description: 'parentbased_traceidratio 1' },
        issues: ['env.OTEL_TRACES_SAMPLER_ARG'],
      },
      {
        name: 'jaeger_remote: only the SDK has it',
        env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' },
        policy: undefined,
      },
      {
        name: 'jaeger_remote with an exporter: the mesh tracer cannot sample by it',
        env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' },
        input: { exporter: new InMemorySpanExporter() },
        policy: undefined,
        issues: ['env.OTEL_TRACES_SAMPLER'],
      },
      {
        name: 'tracing.sampling wins over OTEL_TRACES_SAMPLER (parent-based ratio)',
        env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' },
        input: { exporter: new InMemorySpanExporter(), sampling: 0.3 },
        policy: { parentBased: true, ratio: 0.3, description: 'parentbased_traceidratio 0.3' },
      },
      {
        name: 'WEFT_TRACE_SAMPLING wins over OTEL_TRACES_SAMPLER',
        env: { WEFT_TRACE_SAMPLING: '0.2', OTEL_TRACES_SAMPLER: 'always_off' },
        policy: { parentBased: true, ratio: 0.2, description: 'parentbased_traceidratio 0.2' },
      },
      {
        name: 'a bad tracing.sampling',
        env: {},
        input: { sampling: 2 },
        policy: { parentBased: true, ratio: 1, description: 'parentbased_always_on' },
        issues: ['tracing.sampling'],
      },
      {
        name: 'a bad WEFT_TRACE_SAMPLING',
        env: { WEFT_TRACE_SAMPLING: 'often' },
        policy: { parentBased: true, ratio: 1, description: 'parentbased_always_on' },
        issues: ['env.WEFT_TRACE_SAMPLING'],
      },
    ];
    for (const c of table) {
      it(c.name, function () {
        const { out, issues } = auto(c.input, c.env);
        assert.deepEqual(out.policy, c.policy);
        assert.deepEqual(paths(issues), c.issues ?? []);
      });
    }

    it('says where the sampling came from', function () {
      assert.equal(auto({ sampling: 0.5 }).out.samplingSource, 'tracing.sampling');
      assert.equal(
        auto(undefined, { WEFT_TRACE_SAMPLING: '0.5' }).out.samplingSource,
        'WEFT_TRACE_SAMPLING',
      );
      assert.match(auto(undefined).out.samplingSource, /^OTEL_TRACES_SAMPLER/);
    });

    it('names WEFT_TRACE_SAMPLING as ignored next to a tracerProvider, and rejects tracing.sampling', function () {
      const provider = new TracerProvider();
      const { out } = resolve({ tracerProvider: provider }, { WEFT_TRACE_SAMPLING: '0.1' });
      assert.equal(out.mode === 'provider' && out.ignoredSamplingEnv, 'WEFT_TRACE_SAMPLING=0.1');
      assert.deepEqual(paths(resolve({ tracerProvider: provider, sampling: 0.1 }).issues), [
        'tracing.sampling',
      ]);
    });
  });

  describe('batch settings (OTEL_BSP_*)', function () {
    it('reads the four settings as BatchSpanProcessor names them', function () {
      const { out, issues } = auto(undefined, {
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_SCHEDULE_DELAY: '250',
        OTEL_BSP_EXPORT_TIMEOUT: ' 10000 ',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0',
      });
      assert.deepEqual(issues, []);
      assert.deepEqual(out.batch, {
        maxQueueSize: 4096,
        scheduledDelayMillis: 250,
        exportTimeoutMillis: 10_000,
        maxExportBatchSize: 0,
      });
    });

    it('leaves unset ones to the processor', function () {
      assert.deepEqual(auto(undefined, { OTEL_BSP_SCHEDULE_DELAY: '' }).out.batch, {});
    });

    for (const value of ['soon', '-1', '1.5', '1e400']) {
      it(`rejects OTEL_BSP_SCHEDULE_DELAY=${value}`, function () {
        const { out, issues } = auto(undefined, {
          OTEL_BSP_SCHEDULE_DELAY: value,
          OTEL_BSP_MAX_QUEUE_SIZE: '10',
        });
        assert.deepEqual(paths(issues), ['env.OTEL_BSP_SCHEDULE_DELAY']);
        assert.deepEqual(out.batch, { maxQueueSize: 10 });
      });
    }
  });

  describe('resource detectors and OTEL_SDK_DISABLED', function () {
    it('reads OTEL_NODE_RESOURCE_DETECTORS as lower-case names', function () {
      const { out } = auto(undefined, { OTEL_NODE_RESOURCE_DETECTORS: 'Env, HOST,,process' });
      assert.deepEqual(out.resourceDetectors, ['env', 'host', 'process']);
      assert.equal(auto(undefined).out.resourceDetectors, undefined);
    });

    const disabled: [string | undefined, boolean][] = [
      [undefined, false],
      ['true', true],
      [' TRUE ', true],
      ['false', false],
      ['1', false],
    ];
    for (const [value, expected] of disabled) {
      it(`reads OTEL_SDK_DISABLED=${String(value)} as ${String(expected)}`, function () {
        const env: Env = value === undefined ? {} : { OTEL_SDK_DISABLED: value };
        assert.equal(auto(undefined, env).out.sdkDisabled, expected);
      });
    }

    it('knows OTEL_SERVICE_NAME is set (then the workload name is not the service name)', function () {
      assert.equal(auto(undefined, { OTEL_SERVICE_NAME: 'svc' }).out.serviceNameFromEnv, true);
      assert.equal(auto(undefined).out.serviceNameFromEnv, false);
    });
  });

  describe('the tracing option itself', function () {
    it('is off for false and for a non-object (with an issue)', function () {
      assert.deepEqual(resolve(false), { out: { mode: 'off' }, issues: [] });
      assert.deepEqual(paths(resolve('on').issues), ['tracing']);
      assert.deepEqual(paths(resolve([]).issues), ['tracing']);
    });

    it('names unknown fields', function () {
      assert.deepEqual(paths(resolve({ sampler: 'always_on', propagator: ['b3'] }).issues), [
        'tracing.sampler',
        'tracing.propagator',
      ]);
    });
  });
});
