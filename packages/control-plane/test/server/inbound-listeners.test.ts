// Per-node inbound Listeners over real ADS streams (SotW and Delta): built from the node's
// metadata (NAMESPACE, LABELS) and the port in the name, served next to a wildcard LDS
// subscription, re-pushed with a new version when a policy changes, absent for other names.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '@weft/control-plane';
import {
  LISTENER_TYPE_URL as LDS,
  ListenerResourceType,
  jsonToStruct,
  loadXdsProtos,
  serverListenerName,
} from '@weft/xds-client';
import { AdsProbe, type Message } from '../helpers/ads-probe.js';
import { makeConfigDir, removeDir } from '../helpers/config-dir.js';

const NAME = serverListenerName('127.0.0.1', 9443);
const NODE = {
  id: 'inventory-1',
  user_agent_name: 'weft-xds-client',
  locality: {},
  metadata: jsonToStruct({ NAMESPACE: 'shop', LABELS: { app: 'inventory' } }),
};
const STRICT_SHOP = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: inventory, namespace: shop }
spec:
  selector: { matchLabels: { app: inventory } }
  mtls: { mode: STRICT }
`;

describe('inbound Listeners over ADS', () => {
  const protos = loadXdsProtos();
  const lds = new ListenerResourceType();
  let dir = '';
  let cp: ControlPlane | undefined;
  let probe: AdsProbe | undefined;

  beforeEach(async () => {
    dir = await makeConfigDir({ 'pa.yaml': STRICT_SHOP });
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
  });

  afterEach(async () => {
    probe?.close();
    await cp?.close();
    await removeDir(dir);
  });

  function chainsOf(any: Message): string[] {
    const result = lds.decode(any as never, { protos });
    assert.ok('value' in result, JSON.stringify(result));
    return (result.value.server?.filterChains ?? []).map((c) => c.transportProtocol);
  }

  it('Delta: answers the subscribed inbound name for the node (workload-selected STRICT)', async () => {
    probe = new AdsProbe(cp!.xdsPort, 'delta');
    const res = await probe.request({
      type_url: LDS,
      node: NODE,
      resource_names_subscribe: [NAME],
    });
    assert.deepEqual(
      res.resources.map((r: Message) => r.name),
      [NAME],
    );
    assert.deepEqual(chainsOf(res.resources[0].resource), ['tls']);
  });

  it('SotW: serves the inbound name alongside a wildcard, and re-pushes on a policy change', async () => {
    probe = new AdsProbe(cp!.xdsPort, 'sotw');
    const first = await probe.request({ type_url: LDS, node: NODE, resource_names: ['*', NAME] });
    const mine = first.resources.find((a: Message) => chainsOf(a).length > 0);
    assert.ok(mine !== undefined);
    assert.deepEqual(chainsOf(mine), ['tls']);
    probe.send({
      type_url: LDS,
      resource_names: ['*', NAME],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    await rm(join(dir, 'pa.yaml'));
    await writeFile(join(dir, 'other.yaml'), '');
    assert.equal((await cp!.reload()).ok, true);
    const second = await probe.next();
    assert.notEqual(second.version_info, first.version_info);
    const now = second.resources.find((a: Message) => chainsOf(a).length > 0);
    assert.deepEqual(chainsOf(now), ['tls', 'raw_buffer'], 'back to PERMISSIVE');
  });

  it('another namespace gets its own Listener (the selector does not match it)', async () => {
    probe = new AdsProbe(cp!.xdsPort, 'delta');
    const other = { ...NODE, id: 'x', metadata: jsonToStruct({ NAMESPACE: 'other' }) };
    const res = await probe.request({
      type_url: LDS,
      node: other,
      resource_names_subscribe: [NAME],
    });
    assert.deepEqual(chainsOf(res.resources[0].resource), ['tls', 'raw_buffer']);
  });
});
