import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@weft/xds-client';
import { resolveMeshOptions, type MeshOptions } from '../../src/mesh-options.js';

const CP = { controlPlane: '127.0.0.1:15010', env: {} } as const;

describe('resolveMeshOptions', function () {
  describe('rejects bad input with one ConfigError listing every issue', function () {
    const table: { name: string; input: unknown; paths: string[] }[] = [
      {
        name: 'a controlPlane without a port',
        input: { controlPlane: 'cp', env: {} },
        paths: ['controlPlane'],
      },
      {
        name: 'a controlPlane with port 0',
        input: { controlPlane: 'cp:0', env: {} },
        paths: ['controlPlane'],
      },
      {
        name: 'controlPlane and bootstrap together',
        input: { ...CP, bootstrap: '/x.json' },
        paths: ['bootstrap'],
      },
      {
        name: 'a bootstrap that is a number',
        input: { bootstrap: 5, env: {} },
        paths: ['bootstrap'],
      },
      { name: 'an unknown top-level field', input: { ...CP, retries: 3 }, paths: ['retries'] },
      { name: 'an empty node id', input: { ...CP, node: { id: '' } }, paths: ['node.id'] },
      {
        name: 'bad locality fields',
        input: { ...CP, node: { locality: { region: 1, sub_zone: 'a' } } },
        paths: ['node.locality.sub_zone', 'node.locality.region'],
      },
      {
        name: 'bad workload fields',
        input: { ...CP, workload: { name: 7, namespace: '', labels: { v: 1 }, team: 'x' } },
        paths: ['workload.team', 'workload.labels.v', 'workload.name', 'workload.namespace'],
      },
      {
        name: 'a clock without timers',
        input: { ...CP, clock: { now: () => 0 } },
        paths: ['clock'],
      },
      { name: 'a logger without levels', input: { ...CP, logger: {} }, paths: ['logger'] },
      { name: 'an unknown transport', input: { ...CP, transport: 'grpc' }, paths: ['transport'] },
      {
        name: 'a negative ready timeout',
        input: { ...CP, readyTimeoutMs: -1 },
        paths: ['readyTimeoutMs'],
      },
      {
        name: 'a bad WEFT_CONTROL_PLANE (an empty WEFT_REGION is fine)',
        input: { env: { WEFT_CONTROL_PLANE: 'nope', WEFT_REGION: '' } },
        paths: ['env.WEFT_CONTROL_PLANE'],
      },
      { name: 'no control plane anywhere', input: { env: {} }, paths: ['controlPlane'] },
      {
        name: 'several problems at once',
        input: { controlPlane: 'x', transport: 1, readyTimeoutMs: 'soon', env: {} },
        paths: ['controlPlane', 'transport', 'readyTimeoutMs'],
      },
    ];
    for (const row of table) {
      it(`rejects ${row.name}`, async function () {
        await assert.rejects(resolveMeshOptions(row.input as MeshOptions), (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.code, 'WEFT_INVALID_CONFIG');
          assert.deepEqual(err.issues.map((i) => i.path).sort(), [...row.paths].sort());
          return true;
        });
      });
    }

    it('names the bootstrap file in issues of a broken bootstrap', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'weft-mesh-options-'));
      try {
        const file = join(dir, 'bootstrap.json');
        await writeFile(file, JSON.stringify({ xds_servers: [], node: { id: 'n' } }));
        await assert.rejects(resolveMeshOptions({ bootstrap: file, env: {} }), (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.code, 'WEFT_INVALID_CONFIG');
          assert.ok(err.issues.every((i) => i.path.startsWith(`bootstrap(${file})`)));
          return true;
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('resolves', function () {
    it('controlPlane into a one-server insecure bootstrap with the weft-sdk user agent', async function () {
      const r = await resolveMeshOptions({
        controlPlane: 'localhost:15010',
        node: { id: 'checkout-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
        workload: { name: 'checkout', namespace: 'shop', serviceAccount: 'checkout' },
        env: {},
      });
      assert.equal(r.bootstrap.xdsServers.at(0)?.serverUri, 'localhost:15010');
      assert.equal(r.bootstrap.xdsServers.at(0)?.channelCredentials, 'insecure');
      assert.equal(r.bootstrap.node.id, 'checkout-1');
      assert.deepEqual(r.bootstrap.node.locality, {
        region: 'us-east-1',
        zone: 'us-east-1a',
        subZone: '',
      });
      assert.match(r.bootstrap.node.userAgentName, /^weft/);
      assert.deepEqual(r.bootstrap.node.metadata, {
        WORKLOAD_NAME: 'checkout',
        NAMESPACE: 'shop',
        SERVICE_ACCOUNT: 'checkout',
      });
      assert.ok(Object.isFrozen(r));
      assert.equal(r.readyTimeoutMs, 15_000);
    });

    it('defaults from WEFT_* environment variables', async function () {
      const r = await resolveMeshOptions({
        env: {
          WEFT_CONTROL_PLANE: '10.0.0.1:15010',
          WEFT_REGION: 'us-west-2',
          WEFT_ZONE: 'us-west-2a',
          WEFT_SUBZONE: 'rack1',
          WEFT_WORKLOAD: 'inventory',
          WEFT_NAMESPACE: 'shop',
        },
      });
      assert.equal(r.bootstrap.xdsServers.at(0)?.serverUri, '10.0.0.1:15010');
      assert.deepEqual(r.bootstrap.node.locality, {
        region: 'us-west-2',
        zone: 'us-west-2a',
        subZone: 'rack1',
      });
      assert.equal(r.workload.name, 'inventory');
      assert.equal(r.workload.namespace, 'shop');
      assert.match(r.bootstrap.node.id, /^inventory-/);
      assert.equal(r.source, 'WEFT_CONTROL_PLANE');
    });

    it('reads GRPC_XDS_BOOTSTRAP, letting options and WEFT_* override its node', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'weft-mesh-options-'));
      try {
        const file = join(dir, 'bootstrap.json');
        await writeFile(
          file,
          JSON.stringify({
            xds_servers: [{ server_uri: 'cp:15010', channel_creds: [{ type: 'insecure' }] }],
            node: { id: 'from-file', locality: { region: 'eu-west-1', zone: 'eu-west-1a' } },
          }),
        );
        const r = await resolveMeshOptions({
          node: { locality: { zone: 'eu-west-1b' } },
          env: { GRPC_XDS_BOOTSTRAP: file, WEFT_SUBZONE: 's1' },
        });
        assert.equal(r.bootstrap.xdsServers.at(0)?.serverUri, 'cp:15010');
        assert.equal(r.bootstrap.node.id, 'from-file');
        assert.deepEqual(r.bootstrap.node.locality, {
          region: 'eu-west-1',
          zone: 'eu-west-1b',
          subZone: 's1',
        });
        assert.match(r.bootstrap.node.userAgentName, /^weft/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('takes a bootstrap object with the Delta server feature', async function () {
      const r = await resolveMeshOptions({
        bootstrap: {
          xds_servers: [
            {
              server_uri: 'cp:1',
              channel_creds: [{ type: 'insecure' }],
              server_features: ['weft_delta'],
            },
          ],
          node: { id: 'n1' },
        },
        transport: 'delta',
        env: {},
      });
      assert.deepEqual(r.bootstrap.xdsServers.at(0)?.serverFeatures, ['weft_delta']);
      assert.equal(r.transport, 'delta');
    });
  });
});
