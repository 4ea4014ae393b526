// gRPC through the SDK end to end: a stock grpc-js client (`xds:///echo`) after
// installGrpcIntegration, the real core (createMeshRuntime over an XdsClient) and a real
// `weft control-plane` process serving Istio YAML, against real echo backends on loopback.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  EchoClient,
  startEchoBackend,
  type EchoBackend,
  type EchoResponse,
} from '@weft/example-demo/echo-service';
import { echoMeshYaml } from '@weft/example-demo/mesh-yaml';
import {
  createMeshRuntime,
  installGrpcIntegration,
  type GrpcIntegration,
  type MeshRuntime,
} from '@weft/sdk';
import {
  DEFAULT_RESOURCE_TYPES,
  XdsClient,
  parseBootstrap,
  silentLogger,
  systemClock,
} from '@weft/xds-client';
import {
  eventually,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from '../helpers/processes.js';

type Client = InstanceType<typeof EchoClient>;

interface Tally {
  readonly counts: Record<string, number>;
  readonly errors: Record<string, number>;
}

function callOnce(client: Client, metadata: Metadata): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!(
      { message: 'hi' },
      metadata,
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res?: EchoResponse) => {
        if (err) reject(err);
        else resolve(res!.backend);
      },
    );
  });
}

/** `n` calls, `concurrency` at a time; counts answers by backend and errors by status. */
async function callMany(
  client: Client,
  n: number,
  options: { metadata?: Record<string, string>; concurrency?: number } = {},
): Promise<Tally> {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next += 1;
      try {
        const backend = await callOnce(client, metadata);
        counts[backend] = (counts[backend] ?? 0) + 1;
      } catch (err) {
        const e = err as ServiceError;
        const key = `${e.code}: ${e.details}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 1 }, worker));
  return { counts, errors };
}

describe('sdk: gRPC routing through xds:/// with a real control plane', function () {
  this.timeout(90_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let v1: EchoBackend;
  let v2: EchoBackend;
  let east: EchoBackend;
  let west: EchoBackend;
  let xds: XdsClient;
  let runtime: MeshRuntime;
  let grpc: GrpcIntegration;
  const clients: Client[] = [];
  const client = (target: string): Client => {
    const c = new EchoClient(target, credentials.createInsecure());
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-sdk-grpc-'));
    v1 = await startEchoBackend('v1');
    v2 = await startEchoBackend('v2');
    east = await startEchoBackend('east');
    west = await startEchoBackend('west');
    await writeFile(
      join(dir, 'echo.yaml'),
      echoMeshYaml({
        host: 'echo',
        servicePort: 50051,
        workloads: [
          { name: 'echo-v1', port: v1.port, version: 'v1', locality: 'us-east-1/us-east-1a' },
          { name: 'echo-v2', port: v2.port, version: 'v2', locality: 'us-east-1/us-east-1a' },
        ],
        weights: { v1: 90, v2: 10 },
        premiumSubset: 'v2',
      }),
    );
    await writeFile(
      join(dir, 'inventory.yaml'),
      echoMeshYaml({
        host: 'inventory',
        servicePort: 9090,
        workloads: [
          { name: 'inv-east', port: east.port, version: 'v1', locality: 'us-east-1/us-east-1a' },
          { name: 'inv-west', port: west.port, version: 'v1', locality: 'us-west-2/us-west-2a' },
        ],
        weights: { v1: 100 },
      }),
    );
    cp = await startControlPlaneProcess(dir);
    xds = new XdsClient({
      bootstrap: parseBootstrap(
        {
          xds_servers: [
            {
              server_uri: `127.0.0.1:${cp.xdsPort}`,
              channel_creds: [{ type: 'insecure' }],
              server_features: ['xds_v3'],
            },
          ],
          node: { id: 'checkout-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
        },
        'grpc-routing bootstrap',
      ),
      resourceTypes: Object.values(DEFAULT_RESOURCE_TYPES),
    });
    runtime = createMeshRuntime({
      watchSource: xds,
      localLocality: { region: 'us-east-1', zone: 'us-east-1a' },
    });
    grpc = installGrpcIntegration(runtime, { logger: silentLogger, clock: systemClock });
  });

  after(async () => {
    for (const c of clients) c.close();
    grpc.uninstall();
    runtime.close();
    await xds.close();
    await cp.stop();
    await Promise.all([v1.close(), v2.close(), east.close(), west.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reaches the backends through a stock grpc-js client on xds:///echo and xds:///echo:50051', async () => {
    for (const target of ['xds:///echo', 'xds:///echo:50051']) {
      const result = await callMany(client(target), 20);
      assert.deepEqual(result.errors, {}, target);
      assert.equal((result.counts['v1'] ?? 0) + (result.counts['v2'] ?? 0), 20, target);
    }
  });

  it('splits 90/10 between subsets v1 and v2 within ±3% over 2,000 calls', async () => {
    const result = await callMany(client('xds:///echo'), 2000, { concurrency: 16 });
    assert.deepEqual(result.errors, {});
    const share = (result.counts['v2'] ?? 0) / 2000;
    assert.ok(
      Math.abs(share - 0.1) <= 0.03,
      `v2 share ${share} not within 0.10 ± 0.03 (${JSON.stringify(result.counts)})`,
    );
  });

  it('sends x-user-type: premium to v2 by header match', async () => {
    const result = await callMany(client('xds:///echo'), 100, {
      metadata: { 'x-user-type': 'premium' },
      concurrency: 4,
    });
    assert.deepEqual(result, { counts: { v2: 100 }, errors: {} });
  });

  it('keeps calls local, fails over to us-west-2 with zero failed calls when the local backend dies, and comes back', async () => {
    const inventory = client('xds:///inventory:9090');
    const local = await callMany(inventory, 50, { concurrency: 4 });
    assert.deepEqual(local, { counts: { east: 50 }, errors: {} });

    // Calls keep flowing while the local backend shuts down.
    const during = callMany(inventory, 400, { concurrency: 4 });
    await eventually(() => (east.calls >= 100 ? true : undefined), 10_000, 'calls in flight');
    const eastPort = east.port;
    await east.close();
    const switched = await during;
    assert.deepEqual(switched.errors, {}, 'no call failed over the switch');
    const after = await callMany(inventory, 50, { concurrency: 4 });
    assert.deepEqual(after, { counts: { west: 50 }, errors: {} });

    // Local comes back on the same port: traffic returns to it.
    east = await startEchoBackend('east', eastPort);
    await eventually(
      async () => {
        const r = await callMany(inventory, 20, { concurrency: 2 });
        assert.deepEqual(r.errors, {});
        return r.counts['east'] === 20 ? r : undefined;
      },
      30_000,
      'traffic to return to the local backend',
    );
    assert.ok(grpc.stats().callsSucceeded >= 2_000);
  });
});
