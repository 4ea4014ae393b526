// The weft_cp_* metrics on admin /metrics: exact values after a known ADS sequence over real
// loopback streams, per-control-plane registries, convergence timed on the injected clock.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry, register as globalRegistry } from 'prom-client';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '@weft/xds-client';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import { defaultMeshTranslator } from '../../src/control-plane-translator.js';
import { AdsProbe, GRPC_NODE, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import {
  brokenServiceEntryYaml,
  makeConfigDir,
  removeDir,
  serviceEntryYaml,
} from '../helpers/config-dir.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { scrape, series, valueOf, type Exposition } from '../helpers/prometheus-text.js';

const TYPES = ['cds', 'eds', 'lds', 'rds', 'sds'] as const;
const KINDS = ['envoy', 'grpc', 'weft'] as const;
const INVENTORY_CLUSTER = 'outbound|8080||inventory';
const PAYMENT_CLUSTER = 'outbound|9090||payment';

/** `{type="cds"}: 0, ...` for every ADS type, overridden by `values`. */
function byType(values: Partial<Record<(typeof TYPES)[number], number>>): Record<string, number> {
  return Object.fromEntries(TYPES.map((t) => [`type="${t}"`, values[t] ?? 0]));
}

/** Bytes a response carried: the encoded Any values (what weft_cp_xds_push_bytes_total sums). */
function payloadBytes(response: Message): number {
  return (response.resources as Message[]).reduce(
    (n, r) => n + ((r.resource ?? r).value as Buffer).byteLength,
    0,
  );
}

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);
}

describe('ControlPlaneMetrics', () => {
  const dirs: string[] = [];
  const planes: ControlPlane[] = [];
  const probes: AdsProbe[] = [];

  afterEach(async () => {
    for (const p of probes.splice(0)) p.close();
    for (const cp of planes.splice(0)) await cp.close();
    for (const d of dirs.splice(0)) await removeDir(d);
  });

  async function start(
    files: Record<string, string>,
    options: Partial<Parameters<typeof startControlPlane>[0]> = {},
  ): Promise<{ cp: ControlPlane; dir: string }> {
    const dir = await makeConfigDir(files);
    dirs.push(dir);
    const cp = await startControlPlane({
      configDir: dir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
      ...options,
    });
    planes.push(cp);
    return { cp, dir };
  }

  function probe(cp: ControlPlane, mode: 'sotw' | 'delta' = 'sotw'): AdsProbe {
    const p = new AdsProbe(cp.xdsPort, mode);
    probes.push(p);
    return p;
  }

  async function metrics(cp: ControlPlane): Promise<Exposition> {
    const res = await scrape(cp.adminPort);
    assert.equal(res.status, 200);
    return res.exposition;
  }

  describe('after connect, ACKs of CDS/EDS/LDS/RDS, a NACK, an invalid edit and a valid edit', () => {
    let fake: FakeClock;
    let cp: ControlPlane;
    let dir: string;
    const sent: Record<string, number> = { cds: 0, eds: 0, lds: 0, rds: 0 };
    const bytes: Record<string, number> = { cds: 0, eds: 0, lds: 0, rds: 0 };
    let contentType = '';
    let m: Exposition;

    before(async () => {
      fake = createFakeClock();
      ({ cp, dir } = await start(
        {
          'inventory.yaml': serviceEntryYaml('inventory', 8080, '10.0.0.1'),
          'payment.yaml': serviceEntryYaml('payment', 9090, '10.0.0.2'),
        },
        { clock: fake.clock },
      ));
      const client = probe(cp);
      const record = (type: keyof typeof sent, response: Message): Message => {
        sent[type] = (sent[type] ?? 0) + 1;
        bytes[type] = (bytes[type] ?? 0) + payloadBytes(response);
        return response;
      };
      /** Sends `request` plus the ACK of `answered` (if any), returns the next response. */
      const ack = async (typeUrl: string, names: string[], res: Message): Promise<void> => {
        const acked = once(cp, 'ack');
        client.send({
          type_url: typeUrl,
          resource_names: names,
          version_info: res.version_info,
          response_nonce: res.nonce,
        });
        await acked;
      };

      // Generation 1 applied at t=0; the client connects at t=0. Each ACK comes 100 ms later
      // than the one before: convergence lds 0.1 s, rds 0.2 s, cds 0.3 s, eds 0.4 s.
      const lds = record(
        'lds',
        await client.request({ type_url: LDS, resource_names: [], node: WEFT_NODE }),
      );
      await fake.fake.tickAsync(100);
      await ack(LDS, [], lds);
      const rds = record(
        'rds',
        await client.request({ type_url: RDS, resource_names: ['inventory:8080'] }),
      );
      await fake.fake.tickAsync(100);
      await ack(RDS, ['inventory:8080'], rds);
      const cds = record('cds', await client.request({ type_url: CDS, resource_names: [] }));
      await fake.fake.tickAsync(100);
      await ack(CDS, [], cds);
      const eds1 = record(
        'eds',
        await client.request({ type_url: EDS, resource_names: [INVENTORY_CLUSTER] }),
      );
      await fake.fake.tickAsync(100);

      // Widening the EDS subscription ACKs eds1 and gets eds2, which the client NACKs.
      const acked = once(cp, 'ack');
      const eds2 = record(
        'eds',
        await client.request({
          type_url: EDS,
          resource_names: [INVENTORY_CLUSTER, PAYMENT_CLUSTER],
          version_info: eds1.version_info,
          response_nonce: eds1.nonce,
        }),
      );
      await acked;
      const nacked = once(cp, 'nack');
      client.send({
        type_url: EDS,
        resource_names: [INVENTORY_CLUSTER, PAYMENT_CLUSTER],
        version_info: eds1.version_info,
        response_nonce: eds2.nonce,
        error_detail: { code: 3, message: 'test: rejected on purpose' },
      });
      await nacked;

      // An invalid edit: rejected by the loader, nothing built, nothing pushed.
      await writeFile(join(dir, 'payment.yaml'), brokenServiceEntryYaml('payment'));
      assert.equal((await cp.reload()).ok, false);

      // A valid edit at t=1000 (generation 2): only inventory's endpoints change, one EDS push,
      // ACKed 50 ms later.
      await fake.fake.tickAsync(600);
      await writeFile(join(dir, 'payment.yaml'), serviceEntryYaml('payment', 9090, '10.0.0.2'));
      await writeFile(join(dir, 'inventory.yaml'), serviceEntryYaml('inventory', 8080, '10.0.0.9'));
      assert.deepEqual(await cp.reload(), {
        ok: true,
        version: 2,
        files: ['inventory.yaml', 'payment.yaml'],
      });
      const eds3 = record('eds', await client.next());
      assert.equal(eds3.type_url, EDS);
      await fake.fake.tickAsync(50);
      await ack(EDS, [INVENTORY_CLUSTER, PAYMENT_CLUSTER], eds3);
      assert.equal(client.received.length, 0, 'no other push than EDS');

      const res = await scrape(cp.adminPort);
      assert.equal(res.status, 200);
      contentType = res.contentType ?? '';
      m = res.exposition;
    });

    it('serves /metrics in the content type of the control plane registry', () => {
      assert.equal(contentType, cp.metricsRegistry.contentType);
      assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    });

    it('declares each family with its Prometheus type', () => {
      const types = Object.fromEntries([...m.types].filter(([n]) => n.startsWith('weft_cp_')));
      assert.deepEqual(types, {
        weft_cp_xds_clients: 'gauge',
        weft_cp_xds_pushes_total: 'counter',
        weft_cp_xds_push_bytes_total: 'counter',
        weft_cp_xds_acks_total: 'counter',
        weft_cp_xds_nacks_total: 'counter',
        weft_cp_config_applied_total: 'counter',
        weft_cp_config_rejected_total: 'counter',
        weft_cp_config_generation: 'gauge',
        weft_cp_push_convergence_seconds: 'histogram',
        weft_cp_snapshot_build_seconds: 'histogram',
        weft_cp_registered_endpoints: 'gauge',
        weft_cp_registry_expirations_total: 'counter',
        weft_cp_xds_connections_total: 'counter',
        weft_cp_mtls_refusals_total: 'counter',
      });
    });

    it('counts the one connected stream by kind and transport, every other combination at 0', () => {
      const expected: Record<string, number> = {};
      for (const kind of KINDS)
        for (const transport of ['delta', 'sotw'])
          expected[`kind="${kind}",transport="${transport}"`] =
            kind === 'weft' && transport === 'sotw' ? 1 : 0;
      assert.deepEqual(series(m, 'weft_cp_xds_clients'), expected);
    });

    it('counts every response sent, by type', () => {
      assert.deepEqual(sent, { cds: 1, eds: 3, lds: 1, rds: 1 });
      assert.deepEqual(series(m, 'weft_cp_xds_pushes_total'), byType(sent));
    });

    it('counts the encoded Any bytes of the responses, equal to what the client received', () => {
      for (const type of ['cds', 'eds', 'lds', 'rds'] as const) assert.ok((bytes[type] ?? 0) > 0);
      assert.deepEqual(series(m, 'weft_cp_xds_push_bytes_total'), byType(bytes));
    });

    it('counts ACKs by type (a subscription change that carries a nonce is an ACK)', () => {
      assert.deepEqual(
        series(m, 'weft_cp_xds_acks_total'),
        byType({ cds: 1, eds: 2, lds: 1, rds: 1 }),
      );
    });

    it('counts the NACK by type and client kind', () => {
      const expected: Record<string, number> = {};
      for (const kind of KINDS)
        for (const type of TYPES)
          expected[`kind="${kind}",type="${type}"`] = kind === 'weft' && type === 'eds' ? 1 : 0;
      assert.deepEqual(series(m, 'weft_cp_xds_nacks_total'), expected);
    });

    it('counts applied and rejected configs and reports the generation being served', () => {
      assert.deepEqual(series(m, 'weft_cp_config_applied_total'), { '': 2 });
      assert.deepEqual(series(m, 'weft_cp_config_rejected_total'), {
        'reason="inconsistent"': 0,
        'reason="invalid-config"': 1,
      });
      assert.deepEqual(series(m, 'weft_cp_config_generation'), { '': 2 });
      assert.equal(cp.version, 2);
    });

    it('observes convergence once per ACKed push, timed from the apply on the injected clock', () => {
      assert.deepEqual(
        series(m, 'weft_cp_push_convergence_seconds_count'),
        byType({ cds: 1, eds: 2, lds: 1, rds: 1 }),
      );
      const sums = series(m, 'weft_cp_push_convergence_seconds_sum');
      assertClose(sums['type="lds"']!, 0.1, 'lds');
      assertClose(sums['type="rds"']!, 0.2, 'rds');
      assertClose(sums['type="cds"']!, 0.3, 'cds');
      // eds1 at 0.4 s after generation 1; eds3 0.05 s after generation 2; eds2 was NACKed.
      assertClose(sums['type="eds"']!, 0.45, 'eds');
      assert.deepEqual(series(m, 'weft_cp_push_convergence_seconds_bucket', { type: 'eds' }), {
        'le="0.001",type="eds"': 0,
        'le="0.0025",type="eds"': 0,
        'le="0.005",type="eds"': 0,
        'le="0.01",type="eds"': 0,
        'le="0.025",type="eds"': 0,
        'le="0.05",type="eds"': 1,
        'le="0.1",type="eds"': 1,
        'le="0.25",type="eds"': 1,
        'le="0.5",type="eds"': 2,
        'le="1",type="eds"': 2,
        'le="2.5",type="eds"': 2,
        'le="5",type="eds"': 2,
        'le="10",type="eds"': 2,
        'le="30",type="eds"': 2,
        'le="+Inf",type="eds"': 2,
      });
    });

    it('times one snapshot build per loaded config that reached translation', () => {
      // Two applied configs; the invalid edit failed in the loader, before any build.
      assert.equal(valueOf(m, 'weft_cp_snapshot_build_seconds_count'), 2);
      assert.equal(valueOf(m, 'weft_cp_snapshot_build_seconds_sum'), 0); // fake time stood still
    });
  });

  it('increments the convergence count when the ACK arrives, not when the push is sent', async () => {
    const { cp } = await start({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    const client = probe(cp);
    const cds = await client.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
    const count = async (): Promise<number> =>
      valueOf(await metrics(cp), 'weft_cp_push_convergence_seconds_count', { type: 'cds' });
    assert.equal(await count(), 0);
    const acked = once(cp, 'ack');
    client.send({
      type_url: CDS,
      resource_names: [],
      version_info: cds.version_info,
      response_nonce: cds.nonce,
    });
    await acked;
    assert.equal(await count(), 1);
  });

  it('times convergence from the connection for a client that connected after the apply', async () => {
    const fake = createFakeClock();
    const { cp } = await start(
      { 'inventory.yaml': serviceEntryYaml('inventory', 8080) },
      { clock: fake.clock },
    );
    await fake.fake.tickAsync(5000);
    const client = probe(cp);
    const lds = await client.request({ type_url: LDS, resource_names: [], node: GRPC_NODE });
    await fake.fake.tickAsync(20);
    const acked = once(cp, 'ack');
    client.send({
      type_url: LDS,
      resource_names: [],
      version_info: lds.version_info,
      response_nonce: lds.nonce,
    });
    await acked;
    const m = await metrics(cp);
    assert.equal(valueOf(m, 'weft_cp_push_convergence_seconds_count', { type: 'lds' }), 1);
    assertClose(valueOf(m, 'weft_cp_push_convergence_seconds_sum', { type: 'lds' }), 0.02, 'lds');
  });

  it('counts a Delta stream under transport="delta" and the bytes of its responses', async () => {
    const { cp } = await start({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    const client = probe(cp, 'delta');
    const cds = await client.request({
      type_url: CDS,
      resource_names_subscribe: [],
      node: GRPC_NODE,
    });
    const m = await metrics(cp);
    assert.deepEqual(series(m, 'weft_cp_xds_clients', { kind: 'grpc' }), {
      'kind="grpc",transport="delta"': 1,
      'kind="grpc",transport="sotw"': 0,
    });
    assert.equal(valueOf(m, 'weft_cp_xds_pushes_total', { type: 'cds' }), 1);
    assert.equal(valueOf(m, 'weft_cp_xds_push_bytes_total', { type: 'cds' }), payloadBytes(cds));
  });

  it('takes a disconnected stream off weft_cp_xds_clients', async () => {
    const { cp } = await start({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    const client = probe(cp);
    await client.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
    const gauge = async (): Promise<number> =>
      valueOf(await metrics(cp), 'weft_cp_xds_clients', { kind: 'weft', transport: 'sotw' });
    assert.equal(await gauge(), 1);
    const gone = once(cp, 'disconnect');
    client.close();
    await gone;
    assert.equal(await gauge(), 0);
  });

  it('counts a config the consistency check rejects under reason="inconsistent" and times its build', async () => {
    let inconsistent = false;
    const { cp, dir } = await start(
      { 'inventory.yaml': serviceEntryYaml('inventory', 8080) },
      {
        translator: {
          translate: (model, view) => defaultMeshTranslator.translate(model, view),
          check: (resources) =>
            inconsistent ? ['forced by the test'] : defaultMeshTranslator.check(resources),
        },
      },
    );
    inconsistent = true;
    await writeFile(join(dir, 'payment.yaml'), serviceEntryYaml('payment', 9090));
    const result = await cp.reload();
    assert.equal(result.ok, false);
    const m = await metrics(cp);
    assert.deepEqual(series(m, 'weft_cp_config_rejected_total'), {
      'reason="inconsistent"': 1,
      'reason="invalid-config"': 0,
    });
    assert.deepEqual(series(m, 'weft_cp_config_applied_total'), { '': 1 });
    assert.deepEqual(series(m, 'weft_cp_config_generation'), { '': 1 });
    assert.equal(valueOf(m, 'weft_cp_snapshot_build_seconds_count'), 2);
  });

  describe('registries', () => {
    it('gives two control planes in one process independent registries, neither the global one', async () => {
      const { cp: a } = await start({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
      const { cp: b } = await start({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
      assert.notEqual(a.metricsRegistry, b.metricsRegistry);
      assert.notEqual(a.metricsRegistry, globalRegistry);
      assert.equal(globalRegistry.getSingleMetric('weft_cp_xds_clients'), undefined);

      const client = probe(a);
      const lds = await client.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
      const acked = once(a, 'ack');
      client.send({
        type_url: LDS,
        resource_names: [],
        version_info: lds.version_info,
        response_nonce: lds.nonce,
      });
      await acked;
      await b.reload();

      const [ma, mb] = await Promise.all([metrics(a), metrics(b)]);
      assert.equal(valueOf(ma, 'weft_cp_xds_clients', { kind: 'weft', transport: 'sotw' }), 1);
      assert.equal(valueOf(mb, 'weft_cp_xds_clients', { kind: 'weft', transport: 'sotw' }), 0);
      assert.deepEqual(series(ma, 'weft_cp_xds_pushes_total'), byType({ lds: 1 }));
      assert.deepEqual(series(mb, 'weft_cp_xds_pushes_total'), byType({}));
      assert.deepEqual(series(ma, 'weft_cp_xds_acks_total'), byType({ lds: 1 }));
      assert.deepEqual(series(ma, 'weft_cp_config_applied_total'), { '': 1 });
      assert.deepEqual(series(mb, 'weft_cp_config_applied_total'), { '': 2 });
    });

    it("registers into a given registry, next to the caller's own metrics, and removes them on close()", async () => {
      const registry = new Registry();
      const { cp } = await start(
        { 'inventory.yaml': serviceEntryYaml('inventory', 8080) },
        { metricsRegistry: registry },
      );
      assert.equal(cp.metricsRegistry, registry);
      assert.notEqual(registry.getSingleMetric('weft_cp_config_generation'), undefined);
      await cp.close();
      assert.deepEqual(
        registry
          .getMetricsAsArray()
          .map((metric) => metric.name)
          .filter((n) => n.startsWith('weft_cp_')),
        [],
      );
    });

    it('refuses a second control plane on the same registry with WEFT_INVALID_CONFIG', async () => {
      const registry = new Registry();
      await start(
        { 'inventory.yaml': serviceEntryYaml('inventory', 8080) },
        { metricsRegistry: registry },
      );
      const dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
      dirs.push(dir);
      await assert.rejects(
        startControlPlane({
          configDir: dir,
          xdsPort: 0,
          adminPort: 0,
          watch: false,
          metricsRegistry: registry,
        }),
        (err: Message) => {
          assert.equal(err.code, 'WEFT_INVALID_CONFIG');
          assert.deepEqual(
            err.issues.map((i: { path: string }) => i.path),
            ['metricsRegistry'],
          );
          return true;
        },
      );
      // The first control plane's metrics are untouched by the failed second one.
      assert.notEqual(registry.getSingleMetric('weft_cp_xds_clients'), undefined);
    });

    it('rejects a metricsRegistry that is not a prom-client Registry with WEFT_INVALID_CONFIG', async () => {
      await assert.rejects(
        startControlPlane({
          configDir: '/nonexistent',
          metricsRegistry: { metrics: 'not a registry' } as unknown as Registry,
        }),
        (err: Message) => {
          assert.equal(err.code, 'WEFT_INVALID_CONFIG');
          assert.deepEqual(
            err.issues.map((i: { path: string }) => i.path),
            ['metricsRegistry'],
          );
          return true;
        },
      );
    });
  });
});
