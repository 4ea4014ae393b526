// Admin /config_dump?node=ID: one client's resources decoded to JSON (nested Anys unpacked),
// 400 without a node id, 404 naming an unknown one and listing the connected ones.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { LISTENER_TYPE_URL as LDS, loadXdsProtos } from '@weft/xds-client';
import { AdminServer } from '../../src/admin/admin-server.js';
import { createConfigDumpDocument, type ConfigDumpDocument } from '../../src/admin/config-dump.js';
import { AdsServer } from '../../src/server/ads-server.js';
import { AdsProbe, WEFT_NODE } from '../helpers/ads-probe.js';
import { BASE, mesh } from '../helpers/mesh.js';

describe('AdminServer /config_dump', () => {
  let ads: AdsServer;
  let admin: AdminServer;
  let probe: AdsProbe;

  beforeEach(async () => {
    ads = new AdsServer();
    assert.equal(ads.setResources(mesh(BASE)).ok, true);
    await ads.listen();
    admin = new AdminServer({
      source: {
        ready: () => true,
        config: () => ({}),
        clients: () => ads.clients(),
        configDump: (nodeId) =>
          createConfigDumpDocument(loadXdsProtos(), nodeId, ads.clientConfigs()),
      },
    });
    await admin.listen();
    probe = new AdsProbe(ads.port);
    const res = await probe.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
    const acked = once(ads, 'ack');
    probe.send({
      type_url: LDS,
      resource_names: [],
      version_info: res.version_info,
      response_nonce: res.nonce,
    });
    await acked;
  });

  afterEach(async () => {
    probe.close();
    await admin.close();
    await ads.close();
  });

  async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${admin.port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('serves the client’s resources decoded, nested Anys unpacked, with status and version', async () => {
    const { status, body } = await get('/config_dump?node=node-weft-1');
    assert.equal(status, 200);
    const doc = body as unknown as ConfigDumpDocument;
    assert.equal(doc.nodeId, 'node-weft-1');
    const [client] = doc.clients;
    assert.equal(client?.protocol, 'sotw');
    assert.equal(client.node['id'], 'node-weft-1');
    const lds = client.types['lds'];
    assert.equal(lds?.typeUrl, LDS);
    assert.deepEqual(
      lds.resources.map((r) => `${r.name} ${r.clientStatus} ${r.configStatus}`),
      ['a ACKED SYNCED', 'b ACKED SYNCED'],
    );
    const a = lds.resources[0]!;
    assert.notEqual(a.version, '');
    assert.equal(a.resource?.['@type'], LDS);
    assert.equal(a.resource['name'], 'a');
    // The HttpConnectionManager inside api_listener is decoded too, naming its RDS route.
    const hcm = (a.resource['api_listener'] as { api_listener: Record<string, unknown> })
      .api_listener;
    assert.match(String(hcm['@type']), /HttpConnectionManager$/);
    assert.equal((hcm['rds'] as { route_config_name: string }).route_config_name, 'ra');
  });

  it('answers 404 naming an unknown node id and listing the connected ones', async () => {
    const { status, body } = await get('/config_dump?node=ghost');
    assert.equal(status, 404);
    assert.match(String(body['error']), /"ghost"/);
    assert.deepEqual(body['connected'], ['node-weft-1']);
  });

  it('answers 400 without a node id', async () => {
    const { status, body } = await get('/config_dump');
    assert.equal(status, 400);
    assert.deepEqual(body['connected'], ['node-weft-1']);
  });
});
