// Istio's standard metrics without a network: labels, one series per label set, the series
// budget (a warning once, then the "overflow" series), and the helpers of the access log.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, systemClock } from '@weft/xds-client';
import type { Logger } from '@weft/xds-client';
import { Registry } from 'prom-client';
import { resolveMeshOptions } from '../../src/mesh-options.js';
import { AccessLog, traceIdOf } from '../../src/telemetry/access-log.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import {
  IstioMetrics,
  hostOf,
  serviceNameAndNamespace,
  type IstioRequestRecord,
} from '../../src/telemetry/istio-metrics.js';

const SELF = { workload: 'checkout', namespace: 'shop', app: 'checkout', version: 'v2' };

function record(host: string, code = 200): IstioRequestRecord {
  return {
    reporter: 'source',
    protocol: 'http',
    host,
    responseCode: code,
    grpcStatus: '',
    responseFlags: '-',
    durationMs: 3,
    requestBytes: 10,
    responseBytes: 20,
  };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (m) => warnings.push(m),
    error: () => undefined,
  };
}

async function requestsTotal(
  registry: Registry,
): Promise<{ labels: Record<string, string | number | undefined>; value: number }[]> {
  const metric = await registry.getSingleMetric('istio_requests_total')?.get();
  return (metric?.values ?? []).map((v) => ({ labels: { ...v.labels }, value: v.value }));
}

describe('IstioMetrics', function () {
  it('labels a client request like Istio and reuses its series', async () => {
    const registry = new Registry();
    const metrics = new IstioMetrics({ registry, logger: recordingLogger(), self: SELF });
    metrics.record(record('inventory'));
    metrics.record(record('inventory'));
    const values = await requestsTotal(registry);
    assert.equal(values.length, 1);
    assert.equal(values[0]!.value, 2);
    assert.deepEqual(values[0]!.labels, {
      reporter: 'source',
      source_workload: 'checkout',
      source_workload_namespace: 'shop',
      source_principal: 'unknown',
      source_app: 'checkout',
      source_version: 'v2',
      destination_workload: 'unknown',
      destination_workload_namespace: 'unknown',
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: 'unknown',
      destination_service: 'inventory',
      destination_service_name: 'inventory',
      destination_service_namespace: 'shop',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
    assert.deepEqual(metrics.stats(), { series: 1, maxSeries: 1000, overflowed: 0 });
  });

  it('folds label sets past the budget into one overflow series, warning once', async () => {
    const registry = new Registry();
    const logger = recordingLogger();
    const metrics = new IstioMetrics({ registry, logger, self: SELF, maxSeries: 3 });
    for (let i = 0; i < 10; i++) metrics.record(record(`svc-${i}`));
    metrics.record(record('svc-0')); // a known series still counts in its own
    metrics.record(record('svc-9', 503)); // a new one past the budget: overflow
    const values = await requestsTotal(registry);
    assert.equal(values.length, 4, '3 series + the overflow series');
    const overflow = values.find((v) => v.labels['destination_service'] === 'overflow');
    assert.ok(overflow);
    assert.equal(overflow.value, 8);
    assert.equal(overflow.labels['reporter'], 'source');
    assert.equal(overflow.labels['response_code'], 'overflow');
    assert.equal(values.find((v) => v.labels['destination_service'] === 'svc-0')?.value, 2);
    assert.deepEqual(metrics.stats(), { series: 4, maxSeries: 3, overflowed: 8 });
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /label budget/);
    const histogram = await registry.getSingleMetric('istio_request_duration_milliseconds')?.get();
    const counts =
      histogram?.values.filter((v) =>
        (v as { metricName?: string }).metricName?.endsWith('_count'),
      ) ?? [];
    assert.equal(counts.length, 4, 'the histograms share the budget');
  });

  it('labels a mesh.serve() request as reporter=destination', async () => {
    const registry = new Registry();
    const metrics = new IstioMetrics({ registry, logger: recordingLogger(), self: SELF });
    metrics.record({ ...record('payment'), reporter: 'destination' });
    const [v] = await requestsTotal(registry);
    assert.ok(v !== undefined);
    assert.equal(v.labels['destination_workload'], 'checkout');
    assert.equal(v.labels['destination_version'], 'v2');
    assert.equal(v.labels['source_workload'], 'unknown');
    assert.equal(v.labels['connection_security_policy'], 'none');
  });

  it('derives the service name and namespace from the host', () => {
    assert.deepEqual(serviceNameAndNamespace('inventory', 'shop'), ['inventory', 'shop']);
    assert.deepEqual(serviceNameAndNamespace('inventory.prod', 'shop'), ['inventory', 'prod']);
    assert.deepEqual(serviceNameAndNamespace('inventory.prod.svc.cluster.local', 'shop'), [
      'inventory',
      'prod',
    ]);
    assert.deepEqual(serviceNameAndNamespace('api.example.com', 'shop'), ['api', 'shop']);
    assert.equal(hostOf('inventory:8080'), 'inventory');
    assert.equal(hostOf('inventory'), 'inventory');
    assert.equal(hostOf('[::1]:8080'), '[::1]');
  });
});

describe('access log', function () {
  it('reads the trace id of a W3C traceparent', () => {
    assert.equal(
      traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    assert.equal(traceIdOf('garbage'), undefined);
    assert.equal(traceIdOf(undefined), undefined);
  });

  it('writes one JSON line per entry, batched, and counts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-access-log-'));
    try {
      const path = join(dir, 'a.log');
      const log = new AccessLog({ path }, recordingLogger(), systemClock);
      const entry = { method: 'GET', path: '/x', response_code: 200 } as unknown as AccessLogEntry;
      log.write(entry);
      log.write({ ...entry, path: '/y' });
      await log.close();
      const lines = (await readFile(path, 'utf8')).trim().split('\n');
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { path: string }).path),
        ['/x', '/y'],
      );
      assert.deepEqual(log.stats(), { written: 2, dropped: 0, errors: 0 });
      log.write(entry);
      assert.equal(log.stats().dropped, 1, 'after close lines are dropped and counted');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('createMesh telemetry options', function () {
  const CP = { controlPlane: '127.0.0.1:15010' } as const;

  it('turns Istio metrics on with an admin listener only, and reads WEFT_ACCESS_LOG', async () => {
    assert.equal((await resolveMeshOptions({ ...CP, env: {} })).istioMetrics, false);
    const on = await resolveMeshOptions({ ...CP, env: {}, admin: { port: 0 } });
    assert.deepEqual(on.istioMetrics, { maxSeries: 1000 });
    const off = await resolveMeshOptions({
      ...CP,
      env: {},
      admin: { port: 0 },
      istioMetrics: false,
    });
    assert.equal(off.istioMetrics, false);
    assert.equal(
      (await resolveMeshOptions({ ...CP, env: { WEFT_ACCESS_LOG: 'stdout' } })).accessLog,
      'stdout',
    );
    assert.deepEqual(
      (await resolveMeshOptions({ ...CP, env: { WEFT_ACCESS_LOG: '/tmp/a.log' } })).accessLog,
      { path: '/tmp/a.log' },
    );
    assert.equal(
      (await resolveMeshOptions({ ...CP, env: { WEFT_ACCESS_LOG: 'off' } })).accessLog,
      undefined,
    );
  });

  it('rejects bad telemetry options naming the field', async () => {
    await assert.rejects(
      resolveMeshOptions({
        ...CP,
        env: {},
        istioMetrics: { maxSeries: 0 },
        accessLog: { file: 'x' } as unknown as { path: string },
      }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.issues.map((i) => i.path);
        assert.deepEqual(paths.sort(), [
          'accessLog.file',
          'accessLog.path',
          'istioMetrics.maxSeries',
        ]);
        return true;
      },
    );
  });
});
