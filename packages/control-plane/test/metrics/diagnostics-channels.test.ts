// The weft:cp:* diagnostics channels: each event's payload is published, over a real ADS stream.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LISTENER_TYPE_URL as LDS } from '@weft/xds-client';
import { CONTROL_PLANE_CHANNELS } from '../../src/control-plane-channels.js';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import { AdsProbe, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import {
  brokenServiceEntryYaml,
  makeConfigDir,
  removeDir,
  serviceEntryYaml,
} from '../helpers/config-dir.js';

describe('control plane diagnostics channels', () => {
  let dir: string;
  let cp: ControlPlane;
  let probe: AdsProbe;
  const seen: { channel: string; message: Message }[] = [];
  const listeners = Object.values(CONTROL_PLANE_CHANNELS).map((name) => {
    const listener = (message: unknown): void => {
      seen.push({ channel: name, message: message as Message });
    };
    return { name, listener };
  });

  beforeEach(async () => {
    seen.length = 0;
    dir = await makeConfigDir({ 'inventory.yaml': serviceEntryYaml('inventory', 8080) });
    for (const { name, listener } of listeners) subscribe(name, listener);
    cp = await startControlPlane({ configDir: dir, xdsPort: 0, adminPort: 0, watch: false });
    probe = new AdsProbe(cp.xdsPort);
  });

  afterEach(async () => {
    for (const { name, listener } of listeners) unsubscribe(name, listener);
    probe.close();
    await cp.close();
    await removeDir(dir);
  });

  it('names one channel per event under weft:cp:', () => {
    assert.deepEqual(CONTROL_PLANE_CHANNELS, {
      push: 'weft:cp:push',
      ack: 'weft:cp:ack',
      nack: 'weft:cp:nack',
      'config-applied': 'weft:cp:config-applied',
      'config-rejected': 'weft:cp:config-rejected',
      'certificate-issued': 'weft:cp:certificate-issued',
      'certificate-refused': 'weft:cp:certificate-refused',
    });
  });

  it('publishes config-applied, push, ack, nack and config-rejected with the event payloads', async () => {
    const lds = await probe.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
    const acked = once(cp, 'ack');
    probe.send({
      type_url: LDS,
      resource_names: [],
      version_info: lds.version_info,
      response_nonce: lds.nonce,
    });
    await acked;
    const nacked = once(cp, 'nack');
    probe.send({
      type_url: LDS,
      resource_names: [],
      version_info: lds.version_info,
      response_nonce: lds.nonce,
      error_detail: { code: 3, message: 'no' },
    });
    await nacked;
    await writeFile(join(dir, 'inventory.yaml'), brokenServiceEntryYaml('inventory'));
    assert.equal((await cp.reload()).ok, false);

    assert.deepEqual(
      seen.map((s) => s.channel),
      [
        'weft:cp:config-applied',
        'weft:cp:push',
        'weft:cp:ack',
        'weft:cp:nack',
        'weft:cp:config-rejected',
      ],
    );
    const [applied, push, ack, nack, rejected] = seen.map((s) => s.message) as [
      Message,
      Message,
      Message,
      Message,
      Message,
    ];
    assert.equal(applied.version, 1);
    assert.equal(push.typeUrl, LDS);
    assert.equal(push.nonce, lds.nonce);
    assert.equal(push.generation, 1);
    assert.ok(push.bytes > 0);
    assert.deepEqual(
      { kind: ack.kind, version: ack.version, nonce: ack.nonce },
      { kind: 'weft', version: lds.version_info, nonce: lds.nonce },
    );
    assert.equal(nack.message, 'no');
    assert.equal(rejected.reason, 'invalid-config');
  });
});
