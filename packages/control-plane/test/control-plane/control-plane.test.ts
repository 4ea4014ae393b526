// startControlPlane: first load, debounced directory watch (fake time), rejected edits keep
// the last good snapshot, admin views; real ADS streams and HTTP on loopback.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '@weft/xds-client';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import type { ConfigAppliedEvent } from '../../src/control-plane-status.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { AdsProbe, decodeAll, namesOf, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import {
  brokenServiceEntryYaml,
  makeConfigDir,
  removeDir,
  serviceEntryYaml,
} from '../helpers/config-dir.js';

async function getJson(port: number, path: string): Promise<{ status: number; body: Message }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Message };
}

describe('startControlPlane', () => {
  let dir: string;
  let cp: ControlPlane | undefined;
  let probe: AdsProbe | undefined;

  afterEach(async () => {
    probe?.close();
    probe = undefined;
    await cp?.close();
    cp = undefined;
    await removeDir(dir);
  });

  it('rejects with a ConfigError listing every issue when the first load is invalid', async () => {
    dir = await makeConfigDir({
      'a.yaml': brokenServiceEntryYaml('inventory'),
      'b.yaml': brokenServiceEntryYaml('payment'),
    });
    await assert.rejects(
      startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false }),
      (err: Message) => {
        assert.equal(err.code, 'WEFT_INVALID_CONFIG');
        assert.deepEqual(
          err.issues.map((i: { path: string }) => i.path),
          [
            'a.yaml:9: ServiceEntry/shop/inventory: spec.bogusField',
            'b.yaml:9: ServiceEntry/shop/payment: spec.bogusField',
          ],
        );
        return true;
      },
    );
  });

  it('serves the loaded config over ADS and reports it as ready on the admin API', async () => {
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
    probe = new AdsProbe(cp.xdsPort);
    const lds = await probe.request({
      type_url: LDS,
      resource_names: ['inventory'],
      node: WEFT_NODE,
    });
    assert.deepEqual(namesOf(lds), ['inventory']);
    assert.equal((await getJson(cp.adminPort, '/ready')).status, 200);
    assert.equal((await getJson(cp.adminPort, '/healthz')).status, 200);
    const config = (await getJson(cp.adminPort, '/config')).body;
    assert.equal(config.version, cp.version);
    assert.deepEqual(config.files, ['inventory.yaml']);
    assert.deepEqual(
      config.model.services.map((s: { host: string }) => s.host),
      ['inventory'],
    );
    assert.equal(config.lastRejection, null);
  });

  it('keeps serving the last good snapshot when an edit is invalid, and shows the rejection on /config', async () => {
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
    probe = new AdsProbe(cp.xdsPort);
    const cds = await probe.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
    assert.deepEqual(namesOf(cds), ['outbound|8080||inventory']);
    probe.send({
      type_url: CDS,
      resource_names: [],
      version_info: cds.version_info,
      response_nonce: cds.nonce,
    });
    const version = cp.version;

    await writeFile(join(dir, 'payment.yaml'), brokenServiceEntryYaml('payment'));
    const result = await cp.reload();
    assert.equal(result.ok, false);
    assert.equal(cp.version, version);
    const config = (await getJson(cp.adminPort, '/config')).body;
    assert.equal(config.lastRejection.reason, 'invalid-config');
    assert.deepEqual(config.lastRejection.issues, [
      'payment.yaml:9: ServiceEntry/shop/payment: spec.bogusField: unknown field',
    ]);
    assert.equal(config.counters.rejected, 1);
    assert.equal(config.version, version);

    // The stream got nothing from the rejected edit; a valid edit is pushed.
    await writeFile(join(dir, 'payment.yaml'), serviceEntryYaml('payment', 9090));
    assert.equal((await cp.reload()).ok, true);
    const pushed = await probe.next();
    assert.equal(pushed.type_url, CDS);
    assert.deepEqual(namesOf(pushed).sort(), [
      'outbound|8080||inventory',
      'outbound|9090||payment',
    ]);
  });

  it('applies a burst of file writes as one config after the quiet period', async () => {
    const { fake: clock, clock: weftClock } = createFakeClock();
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({
      configDir: dir,
      xdsPort: 0,
      adminPort: 0,
      clock: weftClock,
    });
    const applied: ConfigAppliedEvent[] = [];
    cp.on('config-applied', (e) => applied.push(e));
    const seen = new Set<string>();
    cp.on('watch', (f) => seen.add(String(f)));
    const names = ['s1', 's2', 's3', 's4', 's5'];
    for (const name of names)
      await writeFile(join(dir, `${name}.yaml`), serviceEntryYaml(name, 8080));
    while (!names.every((n) => seen.has(`${n}.yaml`))) await once(cp, 'watch');

    await clock.tickAsync(99);
    assert.equal(applied.length, 0);
    const next = once(cp, 'config-applied');
    await clock.tickAsync(1);
    await next;
    assert.equal(applied.length, 1);
    assert.equal(applied[0]?.files.length, 6);
  });

  it('keeps seeing a file that editors replace by rename, save after save', async () => {
    const { fake: clock, clock: weftClock } = createFakeClock();
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, clock: weftClock });
    const target = join(dir, 'inventory.yaml');
    const save = async (port: number, how: 'rename' | 'in-place'): Promise<void> => {
      const watched = once(cp!, 'watch');
      if (how === 'rename') {
        await writeFile(`${target}.tmp`, serviceEntryYaml('inventory', port));
        await rename(`${target}.tmp`, target);
      } else {
        await writeFile(target, serviceEntryYaml('inventory', port));
      }
      await watched;
      const applied = once(cp!, 'config-applied');
      await clock.tickAsync(100);
      await applied;
    };
    await save(8081, 'rename');
    await save(8082, 'rename');
    await save(8083, 'in-place');
    const { body } = await getJson(cp.adminPort, '/config');
    assert.deepEqual(body.model.services[0].ports, [8083]);
    assert.equal(cp.version, 4);
  });

  it('applies changes at debounceMaxMs even while writes keep coming', async () => {
    const { fake: clock, clock: weftClock } = createFakeClock();
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({
      configDir: dir,
      xdsPort: 0,
      adminPort: 0,
      clock: weftClock,
      debounceMs: 100,
      debounceMaxMs: 1000,
    });
    let applied = 0;
    cp.on('config-applied', () => applied++);
    // A write every 50 ms: never quiet for 100 ms, so only the 1000 ms cap can fire.
    for (let i = 0; i < 20; i++) {
      const watched = once(cp, 'watch');
      await writeFile(join(dir, 'churn.yaml'), serviceEntryYaml('churn', 8000 + i));
      await watched;
      if (i < 19) {
        await clock.tickAsync(50);
        assert.equal(applied, 0, `applied early, after write ${i}`);
      }
    }
    const fired = once(cp, 'config-applied');
    await clock.tickAsync(50); // t = 1000: 50 ms after the last write, at the cap
    await fired;
    assert.equal(applied, 1);
  });

  it('lists connected clients on /clients with kind and ACKed versions', async () => {
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
    probe = new AdsProbe(cp.xdsPort);
    const lds = await probe.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
    const acked = once(cp, 'ack');
    probe.send({
      type_url: LDS,
      resource_names: [],
      version_info: lds.version_info,
      response_nonce: lds.nonce,
    });
    await acked;
    const client = (await getJson(cp.adminPort, '/clients')).body.clients[0];
    assert.equal(client.nodeId, 'node-weft-1');
    assert.equal(client.kind, 'weft');
    assert.deepEqual(client.locality, { region: '', zone: 'z1', subZone: '' });
    assert.equal(client.types.lds.ackedVersion, lds.version_info);
    assert.equal(client.types.lds.lastNack, null);
  });

  it('fails reload() with WEFT_CLOSED after close()', async () => {
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    const closing = await startControlPlane({
      configDir: dir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
    });
    await closing.close();
    await assert.rejects(closing.reload(), { code: 'WEFT_CLOSED' });
  });
});

describe('control plane end to end (YAML → translator → ADS)', () => {
  let dir: string;
  let cp: ControlPlane;
  let probe: AdsProbe;

  beforeEach(async () => {
    dir = await makeConfigDir({
      'inventory.yaml': serviceEntryYaml('inventory', 8080, '127.0.0.7'),
    });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
    probe = new AdsProbe(cp.xdsPort);
  });

  afterEach(async () => {
    probe.close();
    await cp.close();
    await removeDir(dir);
  });

  async function acked(typeUrl: string, names: string[], node?: object): Promise<Message> {
    const res = await probe.request({ type_url: typeUrl, resource_names: names, node });
    probe.send({
      type_url: typeUrl,
      resource_names: names,
      version_info: res.version_info,
      response_nonce: res.nonce,
    });
    return res;
  }

  it('serves the Listener, RouteConfiguration, Cluster and ClusterLoadAssignment names of DESIGN.md', async () => {
    const lds = await acked(LDS, [], WEFT_NODE);
    assert.deepEqual(namesOf(lds).sort(), ['inventory', 'inventory:8080']);
    const rds = await acked(RDS, ['inventory:8080']);
    assert.deepEqual(namesOf(rds), ['inventory:8080']);
    const cds = await acked(CDS, []);
    assert.deepEqual(namesOf(cds), ['outbound|8080||inventory']);
    const eds = await acked(EDS, ['outbound|8080||inventory']);
    assert.deepEqual(namesOf(eds), ['outbound|8080||inventory']);
    assert.match(JSON.stringify(decodeAll(eds)), /127\.0\.0\.7/);
  });

  it('pushes an edit to the stream, and does not push a broken edit', async () => {
    await acked(EDS, ['outbound|8080||inventory'], WEFT_NODE);
    await writeFile(join(dir, 'inventory.yaml'), serviceEntryYaml('inventory', 8080, '127.0.0.8'));
    assert.equal((await cp.reload()).ok, true);
    const pushed = await probe.next();
    assert.equal(pushed.type_url, EDS);
    assert.match(JSON.stringify(decodeAll(pushed)), /127\.0\.0\.8/);
    probe.send({
      type_url: EDS,
      resource_names: ['outbound|8080||inventory'],
      version_info: pushed.version_info,
      response_nonce: pushed.nonce,
    });

    await writeFile(join(dir, 'inventory.yaml'), brokenServiceEntryYaml('inventory'));
    assert.equal((await cp.reload()).ok, false);
    // Nothing was pushed for the broken edit: the next response is the answer to a new subscription.
    const cds = await probe.request({ type_url: CDS, resource_names: [] });
    assert.equal(cds.type_url, CDS);
    assert.equal(probe.received.length, 0);
  });
});
