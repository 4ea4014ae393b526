// `weft config-dump` of a live client matches what it routes by (issue 6, "Must show"): a real
// `weft control-plane` process, a createMesh client that sent requests through a 90/10
// VirtualService, and the CLI run as a process; a raw client that NACKed shows NACKED with its error.
import assert from 'node:assert/strict';
import { listenOnLoopback } from '../helpers/sdk-fixtures.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { createMesh, type Mesh } from '@weft/sdk';
import { CLUSTER_TYPE_URL, loadXdsProtos } from '@weft/xds-client';
import {
  eventually,
  startControlPlaneProcess,
  WEFT_BIN,
  type ControlPlaneProcess,
} from '../helpers/processes.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function weft(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

async function startBackend(version: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version }));
  });
  return { server, port: await listenOnLoopback(server) };
}

function inventoryYaml(ports: { v1: number; v2: number }): string {
  const entry = (
    version: string,
    port: number,
    zone: string,
  ): string => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: inventory-${version}, namespace: default }
spec:
  address: 127.0.0.1
  ports: { http: ${port} }
  labels: { app: inventory, version: ${version} }
  locality: us-east-1/${zone}`;
  return [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  ports:
    - { number: 8080, name: http, protocol: HTTP }
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: inventory }`,
    entry('v1', ports.v1, 'us-east-1a'),
    entry('v2', ports.v2, 'us-east-1b'),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
  trafficPolicy:
    connectionPool:
      http: { http2MaxRequests: 100 }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }
  subsets:
    - name: v1
      labels: { version: v1 }
    - name: v2
      labels: { version: v2 }`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - name: split
      route:
        - destination: { host: inventory, subset: v1 }
          weight: 90
        - destination: { host: inventory, subset: v2 }
          weight: 10`,
  ].join('\n---\n');
}

/** The parts of /config_dump this test reads. */
interface Dump {
  nodeId: string;
  clients: {
    protocol: string;
    types: Record<
      string,
      {
        resources: {
          name: string;
          version: string;
          clientStatus: string;
          configStatus: string;
          resource: Record<string, unknown> | null;
          error: { message: string; version: string } | null;
        }[];
      }
    >;
  }[];
}

/** What mesh.describe() says (the parts compared). */
interface Described {
  routeConfigs: {
    name: string;
    virtualHosts: { routes: { clusters: { name: string; weight: number }[] }[] }[];
  }[];
  clusters: {
    name: string;
    edsServiceName: string | null;
    priorities: {
      priority: number;
      localities: { zone: string; endpoints: { key: string; healthStatus: string }[] }[];
    }[];
  }[];
}

/** Route config name → per route, the clusters with weights, from the dump's decoded RDS. */
function dumpedRoutes(dump: Dump): Record<string, { name: string; weight: number }[][]> {
  const out: Record<string, { name: string; weight: number }[][]> = {};
  for (const r of dump.clients[0]!.types['rds']!.resources) {
    const vhs = (r.resource?.['virtual_hosts'] ?? []) as {
      routes: {
        route: {
          cluster?: string;
          weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] };
        };
      }[];
    }[];
    out[r.name] = vhs.flatMap((vh) =>
      vh.routes.map((rt) =>
        rt.route.weighted_clusters !== undefined
          ? rt.route.weighted_clusters.clusters.map((c) => ({
              name: c.name,
              weight: c.weight.value,
            }))
          : [{ name: rt.route.cluster ?? '', weight: 100 }],
      ),
    );
  }
  return out;
}

/** EDS name → sorted `address:port priority zone health` lines, from the dump. */
function dumpedEndpoints(dump: Dump): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of dump.clients[0]!.types['eds']!.resources) {
    const localities = (r.resource?.['endpoints'] ?? []) as {
      locality?: { zone?: string };
      priority?: number;
      lb_endpoints: {
        health_status?: string;
        endpoint: { address: { socket_address: { address: string; port_value: number } } };
      }[];
    }[];
    out[r.name] = localities
      .flatMap((l) =>
        l.lb_endpoints.map((e) => {
          const s = e.endpoint.address.socket_address;
          return `${s.address}:${s.port_value} p${l.priority ?? 0} ${l.locality?.zone ?? ''} ${e.health_status ?? 'UNKNOWN'}`;
        }),
      )
      .sort();
  }
  return out;
}

for (const transport of ['sotw', 'delta'] as const) {
  describe(`e2e (${transport}): weft config-dump of a live client`, function () {
    this.timeout(60_000);
    let dir: string;
    let cp: ControlPlaneProcess;
    let v1: { server: Server; port: number };
    let v2: { server: Server; port: number };
    let mesh: Mesh;
    let admin: string;
    const nodeId = `checkout-dump-${transport}`;

    before(async () => {
      v1 = await startBackend('v1');
      v2 = await startBackend('v2');
      dir = await mkdtemp(join(tmpdir(), `weft-config-dump-${transport}-`));
      await writeFile(join(dir, 'inventory.yaml'), inventoryYaml({ v1: v1.port, v2: v2.port }));
      cp = await startControlPlaneProcess(dir);
      admin = `http://127.0.0.1:${cp.adminPort}`;
      mesh = await createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        transport,
        node: { id: nodeId, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
        workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
        env: {},
      });
      await mesh.ready();
      for (let i = 0; i < 20; i++) {
        const res = await mesh.fetch('http://inventory:8080/items');
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    });

    after(async () => {
      await mesh.close();
      await cp.stop();
      v1.server.close();
      v2.server.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** `weft config-dump -o json` once every resource the client holds is ACKed and synced. */
    async function syncedDump(): Promise<Dump> {
      return await eventually(
        async () => {
          const run = await weft(['config-dump', nodeId, '--admin', admin, '-o', 'json']);
          assert.equal(run.code, 0, run.stderr);
          const dump = JSON.parse(run.stdout) as Dump;
          const all = Object.values(dump.clients[0]!.types).flatMap((t) => t.resources);
          const synced = ['lds', 'rds', 'cds', 'eds'].every(
            (t) => (dump.clients[0]!.types[t]?.resources.length ?? 0) > 0,
          );
          return synced &&
            all.every((r) => r.clientStatus === 'ACKED' && r.configStatus === 'SYNCED')
            ? dump
            : undefined;
        },
        20_000,
        'config-dump to show every resource ACKED',
      );
    }

    it('shows the routes, weights and endpoints the mesh routes by, all ACKED', async () => {
      const dump = await syncedDump();
      assert.equal(dump.nodeId, nodeId);
      assert.equal(dump.clients[0]!.protocol, transport);
      const described = mesh.describe() as Described;

      // Routes: the dump's weighted clusters are exactly the ones the mesh routes by (90/10).
      const routes = dumpedRoutes(dump);
      assert.ok(described.routeConfigs.length > 0);
      for (const rc of described.routeConfigs) {
        const fromMesh = rc.virtualHosts.flatMap((vh) => vh.routes.map((r) => r.clusters));
        assert.deepEqual(routes[rc.name], fromMesh, rc.name);
      }
      const split = Object.values(routes)
        .flat()
        .find((clusters) => clusters.length === 2);
      assert.deepEqual(
        split?.map((c) => c.weight),
        [90, 10],
      );
      assert.match(split[0]!.name, /v1/);
      assert.match(split[1]!.name, /v2/);

      // Endpoints: per cluster the mesh balances over, the same address:port, priority, zone, health.
      const endpoints = dumpedEndpoints(dump);
      const balanced = described.clusters.filter((c) => split.some((s) => s.name === c.name));
      assert.equal(balanced.length, 2);
      for (const c of balanced) {
        const fromMesh = c.priorities
          .flatMap((p) =>
            p.localities.flatMap((l) =>
              l.endpoints.map((e) => `${e.key} p${p.priority} ${l.zone} ${e.healthStatus}`),
            ),
          )
          .sort();
        assert.deepEqual(endpoints[c.edsServiceName ?? c.name], fromMesh, c.name);
      }
      assert.deepEqual(
        Object.values(endpoints)
          .flat()
          .filter((e) => e.startsWith(`127.0.0.1:${v2.port} `)),
        [`127.0.0.1:${v2.port} p0 us-east-1b HEALTHY`],
      );
    });

    it('prints the same as tables: listeners, routes with weights, clusters, endpoints', async () => {
      await syncedDump();
      const run = await weft(['config-dump', nodeId, '--admin', admin]);
      assert.equal(run.code, 0, run.stderr);
      for (const section of ['LISTENERS', 'ROUTES', 'CLUSTERS', 'ENDPOINTS'])
        assert.match(run.stdout, new RegExp(`^${section}$`, 'm'));
      assert.match(run.stdout, /v1\S* \(90\), \S*v2\S* \(10\)/);
      assert.match(run.stdout, /5xx=5 interval=10s ejection=30s/);
      assert.match(
        run.stdout,
        new RegExp(`127\\.0\\.0\\.1:${v2.port}\\s+us-east-1/us-east-1b\\s+0\\s+HEALTHY`),
      );
      assert.doesNotMatch(run.stdout, /NACKED|REQUESTED/);
    });

    it('shows a client that NACKed as NACKED with its error, and names unknown node ids', async () => {
      const protos = loadXdsProtos();
      const Ads = protos.serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService');
      const ads = new Ads(`127.0.0.1:${cp.xdsPort}`, credentials.createInsecure());
      const call = (
        ads as unknown as {
          StreamAggregatedResources(): NodeJS.EventEmitter & {
            write(m: object): boolean;
            cancel(): void;
          };
        }
      ).StreamAggregatedResources();
      call.on('error', () => undefined);
      try {
        call.write({
          node: { id: `picky-${transport}`, user_agent_name: 'weft-xds-client', locality: {} },
          type_url: CLUSTER_TYPE_URL,
          resource_names: [],
        });
        const [response] = (await once(call, 'data')) as [{ version_info: string; nonce: string }];
        call.write({
          type_url: CLUSTER_TYPE_URL,
          version_info: '',
          response_nonce: response.nonce,
          error_detail: { code: 3, message: 'resource index 0 (x): lb_policy: not for me' },
        });
        const dump = await eventually(
          async () => {
            const run = await weft([
              'config-dump',
              `picky-${transport}`,
              '--admin',
              admin,
              '-o',
              'json',
            ]);
            const d = JSON.parse(run.stdout) as Dump;
            return d.clients[0]?.types['cds']?.resources.some((r) => r.error !== null) === true
              ? d
              : undefined;
          },
          20_000,
          'the NACK to show in config-dump',
        );
        const cds = dump.clients[0]!.types['cds']!.resources;
        assert.ok(cds.length > 0);
        for (const r of cds) {
          assert.equal(r.clientStatus, 'NACKED');
          assert.equal(r.configStatus, 'ERROR');
          assert.equal(r.error?.message, 'resource index 0 (x): lb_policy: not for me');
          assert.equal(r.error.version, response.version_info);
          assert.equal(r.resource, null); // nothing accepted yet
        }
        const table = await weft(['config-dump', `picky-${transport}`, '--admin', admin]);
        assert.equal(table.code, 0, table.stderr);
        assert.match(
          table.stdout,
          new RegExp(
            `^picky-${transport} NACKED cds \\S+ version \\S+: resource index 0 \\(x\\): lb_policy: not for me$`,
            'm',
          ),
        );

        const unknown = await weft(['config-dump', 'ghost', '--admin', admin]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /no client with node id "ghost" is connected/);
        assert.match(unknown.stderr, new RegExp(`connected: .*${nodeId}`));
        assert.match(unknown.stderr, new RegExp(`picky-${transport}`));
      } finally {
        call.cancel();
        ads.close();
      }
    });
  });
}
