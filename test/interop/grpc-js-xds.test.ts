// Interop: gRPC's own proxyless client (@grpc/grpc-js-xds, unmodified) routes through a real
// `weft control-plane` process: it reaches the backends, splits by weight, follows a header match,
// and follows live YAML edits (but not broken ones).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { CSDS_SERVICE_NAME } from '@weft/control-plane';
import { loadXdsProtos } from '@weft/xds-client';
import { startEchoBackend, type EchoBackend } from '@weft/example-demo/echo-service';
import { echoMeshYaml } from '@weft/example-demo/mesh-yaml';
import {
  eventually,
  startControlPlaneProcess,
  startGrpcXdsDriver,
  type ControlPlaneProcess,
  type GrpcXdsDriver,
  writeFileAtomic,
} from '../helpers/processes.js';

/**
 * A local rate limit on the echo host: never sent to gRPC clients (grpc-js-xds does not implement
 * the filter and would NACK it), so the calls below are not limited and nothing is NACKed.
 */
const LOCAL_RATE_LIMIT = `
---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: echo }
spec:
  host: echo
  tokenBucket: { maxTokens: 1, fillInterval: 1h }
`;

describe('interop: @grpc/grpc-js-xds against weft control-plane', function () {
  this.timeout(60_000);
  let dir: string;
  let v1: EchoBackend;
  let v2: EchoBackend;
  let cp: ControlPlaneProcess;
  let driver: GrpcXdsDriver;

  const writeMesh = (weights: Record<string, number>): Promise<void> =>
    writeFileAtomic(
      join(dir, 'echo.yaml'),
      echoMeshYaml({
        host: 'echo',
        servicePort: 50051,
        workloads: [
          { name: 'echo-v1', port: v1.port, version: 'v1', locality: 'us-east-1/us-east-1a' },
          { name: 'echo-v2', port: v2.port, version: 'v2', locality: 'us-east-1/us-east-1a' },
        ],
        weights,
        premiumSubset: 'v2',
      }) + LOCAL_RATE_LIMIT,
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-interop-'));
    v1 = await startEchoBackend('v1');
    v2 = await startEchoBackend('v2');
    await writeMesh({ v1: 80, v2: 20 });
    cp = await startControlPlaneProcess(dir);
    const bootstrap = join(dir, '..', `${dir.split('/').pop()}-bootstrap.json`);
    await writeFile(
      bootstrap,
      JSON.stringify({
        xds_servers: [
          {
            server_uri: `127.0.0.1:${cp.xdsPort}`,
            channel_creds: [{ type: 'insecure' }],
            server_features: ['xds_v3'],
          },
        ],
        node: { id: 'grpc-interop-client', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      }),
    );
    driver = startGrpcXdsDriver(bootstrap);
  });

  after(async () => {
    await driver.close();
    await cp.stop();
    await Promise.all([v1.close(), v2.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reaches the backend through xds:///echo', async () => {
    const result = await driver.calls({ target: 'xds:///echo', n: 20, deadlineMs: 10_000 });
    assert.deepEqual(result.errors, {});
    assert.equal((result.counts['v1'] ?? 0) + (result.counts['v2'] ?? 0), 20);
  });

  it('reaches the backend through the explicit port xds:///echo:50051', async () => {
    const result = await driver.calls({ target: 'xds:///echo:50051', n: 10, deadlineMs: 10_000 });
    assert.deepEqual(result.errors, {});
    assert.equal((result.counts['v1'] ?? 0) + (result.counts['v2'] ?? 0), 10);
  });

  it('splits 80/20 between subsets v1 and v2 within ±5% over 1,000 calls', async () => {
    const result = await driver.calls({ target: 'xds:///echo', n: 1000, concurrency: 16 });
    assert.deepEqual(result.errors, {});
    const share = (result.counts['v2'] ?? 0) / 1000;
    assert.ok(
      Math.abs(share - 0.2) <= 0.05,
      `v2 share ${share} not within 0.20 ± 0.05 (${JSON.stringify(result.counts)})`,
    );
  });

  it('sends x-user-type: premium to v2 by header match', async () => {
    const result = await driver.calls({
      target: 'xds:///echo',
      n: 100,
      metadata: { 'x-user-type': 'premium' },
    });
    assert.deepEqual(result, { counts: { v2: 100 }, errors: {} });
  });

  it('follows a YAML edit while connected, and ignores a broken one', async () => {
    await writeMesh({ v1: 0, v2: 100 });
    await eventually(
      async () => {
        const r = await driver.calls({ target: 'xds:///echo', n: 50 });
        return r.counts['v2'] === 50 ? r : undefined;
      },
      20_000,
      'all calls to reach v2 after the edit',
    );

    // A broken edit: weights that do not add up to 100 and an unknown field.
    const good = await readFile(join(dir, 'echo.yaml'), 'utf8');
    await writeFileAtomic(
      join(dir, 'echo.yaml'),
      good.replace('weight: 100', 'weight: 70\n          bogusField: 1'),
    );
    const admin = `http://127.0.0.1:${cp.adminPort}`;
    const rejection = await eventually(
      async () => {
        const body = (await (await fetch(`${admin}/config`)).json()) as { lastRejection?: unknown };
        return body.lastRejection ?? undefined;
      },
      20_000,
      'the control plane to reject the broken edit',
    );
    assert.match(JSON.stringify(rejection), /echo\.yaml/);
    const after = await driver.calls({ target: 'xds:///echo', n: 50 });
    assert.deepEqual(after, { counts: { v2: 50 }, errors: {} });
  });

  it('shows the gRPC client as connected and ACKed in /clients with no NACK', async () => {
    const body = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/clients`)).json()) as {
      clients: { nodeId: string; kind: string }[];
    };
    const client = body.clients.find((c) => c.nodeId === 'grpc-interop-client');
    assert.ok(client, JSON.stringify(body));
    assert.equal(client.kind, 'grpc');
    assert.doesNotMatch(JSON.stringify(client), /"lastNack":\{/);
  });

  it('shows the gRPC client on CSDS with every resource it holds ACKED', async () => {
    const Csds = loadXdsProtos().serviceClient(CSDS_SERVICE_NAME);
    const csds = new Csds(`127.0.0.1:${cp.xdsPort}`, credentials.createInsecure());
    try {
      const res = await new Promise<{
        config?: { node: { id: string }; generic_xds_configs: Record<string, string>[] }[];
      }>((resolve, reject) => {
        (csds as unknown as Record<string, (...a: unknown[]) => void>)['FetchClientStatus']!.call(
          csds,
          { node_matchers: [{ node_id: { exact: 'grpc-interop-client' } }] },
          (err: Error | null, body: never) => {
            if (err) reject(err);
            else resolve(body);
          },
        );
      });
      const [config] = res.config ?? [];
      assert.equal(config?.node.id, 'grpc-interop-client');
      const held = config.generic_xds_configs.map(
        (g) => `${g['type_url']?.split('.').pop()} ${g['client_status']}`,
      );
      for (const type of ['Listener', 'RouteConfiguration', 'Cluster', 'ClusterLoadAssignment'])
        assert.ok(held.includes(`${type} ACKED`), held.join(', '));
      assert.ok(
        config.generic_xds_configs.every((g) => g['client_status'] === 'ACKED'),
        held.join(', '),
      );
    } finally {
      csds.close();
    }
  });

  it('reports in /config that the LocalRateLimit is not applied to gRPC clients', async () => {
    const body = JSON.stringify(
      await (await fetch(`http://127.0.0.1:${cp.adminPort}/config`)).json(),
    );
    assert.match(
      body,
      /local rate limit \(LocalRateLimit\/default\/echo\) not applied to gRPC clients/,
    );
  });
});
