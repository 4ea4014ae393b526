// End to end: Weft's own xds-client (SotW and Delta) against a real `weft control-plane` process.
// YAML edits reach the client (only what changed), a broken edit does not, and a control plane
// that is killed and restarted leaves the client's resources in force with no spurious update.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClusterLoadAssignmentResourceType,
  ClusterResourceType,
  ListenerResourceType,
  RouteConfigurationResourceType,
  XdsClient,
  parseBootstrap,
  type RouteConfigurationUpdate,
  type WeftError,
} from '@weft/xds-client';
import { echoMeshYaml } from '@weft/example-demo/mesh-yaml';
import {
  eventually,
  startControlPlaneProcess,
  type ControlPlaneProcess,
  writeFileAtomic,
} from '../helpers/processes.js';

/** Records what one watcher heard. */
class Recorder<T> {
  changes: T[] = [];
  resourceErrors: WeftError[] = [];
  ambientErrors: WeftError[] = [];
  onChanged = (value: T): void => {
    this.changes.push(value);
  };
  onResourceError = (err: WeftError): void => {
    this.resourceErrors.push(err);
  };
  onAmbientError = (err: WeftError): void => {
    this.ambientErrors.push(err);
  };
  get last(): T | undefined {
    return this.changes.at(-1);
  }
}

function splitOf(route: RouteConfigurationUpdate | undefined): Record<string, number> {
  const action = route?.virtualHosts[0]?.routes.at(-1)?.action;
  return Object.fromEntries((action?.clusters ?? []).map((c) => [c.name, c.weight]));
}

interface ClientsBody {
  clients: {
    nodeId: string;
    types: Record<string, { subscribed: unknown; ackedVersion: string; sentVersion: string }>;
  }[];
}

for (const transport of ['sotw', 'delta'] as const) {
  describe(`e2e (${transport}): xds-client against a weft control-plane process`, function () {
    this.timeout(60_000);
    let dir: string;
    let cp: ControlPlaneProcess;
    let client: XdsClient;
    const nodeId = `e2e-${transport}`;
    const types = {
      lds: new ListenerResourceType(),
      rds: new RouteConfigurationResourceType(),
      cds: new ClusterResourceType(),
      eds: new ClusterLoadAssignmentResourceType(),
    };
    const rec = {
      lds: new Recorder<unknown>(),
      rds: new Recorder<RouteConfigurationUpdate>(),
      cds: new Recorder<unknown>(),
      eds: new Recorder<unknown>(),
    };
    const counts = (): number[] =>
      [rec.lds, rec.rds, rec.cds, rec.eds].map((r) => r.changes.length);

    const writeMesh = (weights: Record<string, number>): Promise<void> =>
      writeFileAtomic(
        join(dir, 'echo.yaml'),
        echoMeshYaml({
          host: 'echo',
          servicePort: 50051,
          workloads: [
            { name: 'echo-v1', port: 7001, version: 'v1', locality: 'us-east-1/us-east-1a' },
            { name: 'echo-v2', port: 7002, version: 'v2', locality: 'us-west-2/us-west-2a' },
          ],
          weights,
        }),
      );

    const clientsOf = async (proc: ControlPlaneProcess): Promise<ClientsBody> =>
      (await (await fetch(`http://127.0.0.1:${proc.adminPort}/clients`)).json()) as ClientsBody;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `weft-e2e-${transport}-`));
      await writeMesh({ v1: 80, v2: 20 });
      cp = await startControlPlaneProcess(dir);
      client = new XdsClient({
        bootstrap: parseBootstrap(
          {
            xds_servers: [
              {
                server_uri: `127.0.0.1:${cp.xdsPort}`,
                channel_creds: [{ type: 'insecure' }],
                server_features: transport === 'delta' ? ['xds_v3', 'weft_delta'] : ['xds_v3'],
              },
            ],
            node: { id: nodeId, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
          },
          'e2e bootstrap',
        ),
        resourceTypes: Object.values(types),
        backoff: { initialMs: 50, maxMs: 400 },
      });
      client.watch(types.lds, 'echo', rec.lds);
      client.watch(types.rds, 'echo:50051', rec.rds);
      client.watch(types.cds, 'outbound|50051|v1|echo', rec.cds);
      client.watch(types.eds, 'outbound|50051|v1|echo', rec.eds);
    });

    after(async () => {
      await client.close();
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('receives the Listener, RouteConfiguration, Cluster and endpoints named per DESIGN.md', async () => {
      await eventually(
        () => (counts().every((n) => n === 1) ? true : undefined),
        15_000,
        'all four resources',
      );
      assert.deepEqual(splitOf(rec.rds.last), {
        'outbound|50051|v1|echo': 80,
        'outbound|50051|v2|echo': 20,
      });
      assert.equal(client.connected, true);
    });

    it('gets a YAML edit as one RDS update and nothing else', async () => {
      await writeMesh({ v1: 50, v2: 50 });
      await eventually(
        () => (rec.rds.changes.length === 2 ? true : undefined),
        15_000,
        'the RDS update',
      );
      assert.deepEqual(splitOf(rec.rds.last), {
        'outbound|50051|v1|echo': 50,
        'outbound|50051|v2|echo': 50,
      });
      assert.deepEqual(counts(), [1, 2, 1, 1]);
    });

    it('hears nothing of a broken edit, and the control plane reports it', async () => {
      await writeFileAtomic(
        join(dir, 'echo.yaml'),
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: [oops\n',
      );
      await eventually(
        async () => {
          const body = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/config`)).json()) as {
            lastRejection: unknown;
          };
          return body.lastRejection ?? undefined;
        },
        15_000,
        'the rejection',
      );
      // Restore the last good content: same versions, so still nothing to push.
      await writeMesh({ v1: 50, v2: 50 });
      await eventually(
        async () => {
          const body = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/config`)).json()) as {
            counters: { applied: number };
          };
          return body.counters.applied >= 3 ? true : undefined;
        },
        15_000,
        'the restored config to apply',
      );
      assert.deepEqual(counts(), [1, 2, 1, 1]);
    });

    it('keeps every resource through a control plane kill and restart, with no spurious update', async () => {
      const { xdsPort, adminPort } = cp;
      const disconnected = once(client, 'disconnected');
      await cp.kill();
      await disconnected;
      assert.equal(client.connected, false);
      const status = client.status();
      const held = Object.values(status.types).flatMap((t) =>
        Object.values(t.resources).map((r) => r.state),
      );
      assert.deepEqual(held, ['ACKED', 'ACKED', 'ACKED', 'ACKED']);

      const reconnected = once(client, 'connected');
      cp = await startControlPlaneProcess(dir, { xdsPort, adminPort });
      await reconnected;
      // The restarted control plane sees the client re-subscribed to all four types.
      await eventually(
        async () => {
          const me = (await clientsOf(cp)).clients.find((c) => c.nodeId === nodeId);
          return me !== undefined &&
            ['lds', 'rds', 'cds', 'eds'].every((t) => me.types[t]?.subscribed !== undefined)
            ? me
            : undefined;
        },
        15_000,
        'the client to re-subscribe',
      );
      // Prove the stream is live again with a real change, then check nothing else was re-notified.
      await writeMesh({ v1: 10, v2: 90 });
      await eventually(
        () => (rec.rds.changes.length === 3 ? true : undefined),
        15_000,
        'the RDS update after restart',
      );
      assert.deepEqual(splitOf(rec.rds.last), {
        'outbound|50051|v1|echo': 10,
        'outbound|50051|v2|echo': 90,
      });
      assert.deepEqual(counts(), [1, 3, 1, 1]);
      for (const r of [rec.lds, rec.rds, rec.cds, rec.eds]) {
        assert.deepEqual(r.resourceErrors, []);
        assert.ok(r.ambientErrors.every((e) => e.code === 'WEFT_XDS_STREAM'));
      }
    });
  });
}
