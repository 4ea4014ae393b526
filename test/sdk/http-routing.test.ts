// End to end: createMesh against a real `weft control-plane` process and real HTTP servers on
// loopback. mesh.fetch reaches the backend by service name, the VirtualService's 90/10 split
// holds over 2,000 calls, a header match goes to v2, and undici's request() works with the
// mesh's dispatcher. Issue 3, "Must show".
import assert from 'node:assert/strict';
import { listenOnLoopback } from '../helpers/sdk-fixtures.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMesh, type Mesh } from '@weft/sdk';
import { WeftError } from '@weft/xds-client';
import { request } from 'undici';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

interface Backend {
  readonly server: Server;
  readonly port: number;
  readonly hosts: string[];
}

async function startBackend(version: string): Promise<Backend> {
  const hosts: string[] = [];
  const server = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version, path: req.url }));
  });
  return { server, port: await listenOnLoopback(server), hosts };
}

function inventoryYaml(ports: { v1: number; v2: number }): string {
  const entry = (version: string, port: number): string => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: inventory-${version}, namespace: default }
spec:
  address: 127.0.0.1
  ports: { http: ${port} }
  labels: { app: inventory, version: ${version} }
  locality: us-east-1/us-east-1a`;
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
    entry('v1', ports.v1),
    entry('v2', ports.v2),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
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
    - name: premium
      match:
        - headers:
            x-user-type: { exact: premium }
      route:
        - destination: { host: inventory, subset: v2 }
    - name: split
      route:
        - destination: { host: inventory, subset: v1 }
          weight: 90
        - destination: { host: inventory, subset: v2 }
          weight: 10`,
  ].join('\n---\n');
}

for (const transport of ['sotw', 'delta'] as const) {
  describe(`sdk http (${transport}): mesh.fetch against a weft control-plane process`, function () {
    this.timeout(60_000);
    let dir: string;
    let cp: ControlPlaneProcess;
    let v1: Backend;
    let v2: Backend;
    let mesh: Mesh;

    before(async () => {
      v1 = await startBackend('v1');
      v2 = await startBackend('v2');
      dir = await mkdtemp(join(tmpdir(), `weft-sdk-http-${transport}-`));
      await writeFile(join(dir, 'inventory.yaml'), inventoryYaml({ v1: v1.port, v2: v2.port }));
      cp = await startControlPlaneProcess(dir);
      mesh = await createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        transport,
        node: {
          id: `checkout-${transport}`,
          locality: { region: 'us-east-1', zone: 'us-east-1a' },
        },
        workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
        env: {},
      });
      await mesh.ready();
    });

    after(async () => {
      await mesh.close();
      await cp.stop();
      v1.server.close();
      v2.server.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('reaches the backend by service name, with Host set to the name the caller used', async () => {
      const res = await mesh.fetch('http://inventory:8080/items/42');
      assert.equal(res.status, 200);
      const body = (await res.json()) as { version: string; path: string };
      assert.equal(body.path, '/items/42');
      assert.ok(['v1', 'v2'].includes(body.version));
      assert.ok([...v1.hosts, ...v2.hosts].includes('inventory:8080'));
    });

    it('splits 90/10 between subsets v1 and v2 within ±3% over 2,000 calls', async () => {
      const counts = { v1: 0, v2: 0 };
      for (let i = 0; i < 2000; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, async () => {
            const res = await mesh.fetch('http://inventory:8080/split');
            return ((await res.json()) as { version: 'v1' | 'v2' }).version;
          }),
        );
        for (const version of batch) counts[version]++;
      }
      assert.equal(counts.v1 + counts.v2, 2000);
      const shareV1 = counts.v1 / 2000;
      assert.ok(Math.abs(shareV1 - 0.9) <= 0.03, `v1 share ${shareV1} (${JSON.stringify(counts)})`);
      assert.equal(mesh.stats().http.failures, 0);
    });

    it('sends x-user-type: premium to v2, every time', async () => {
      for (let i = 0; i < 50; i++) {
        const res = await mesh.fetch('http://inventory:8080/p', {
          headers: { 'x-user-type': 'premium' },
        });
        assert.equal(((await res.json()) as { version: string }).version, 'v2');
      }
    });

    it("routes undici's request() through mesh.dispatcher, default-port listener included", async () => {
      const res = await request('http://inventory/items/1', { dispatcher: mesh.dispatcher });
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { path: string }).path, '/items/1');
    });

    it('fails an unknown service with WEFT_NO_ROUTE (404) as the cause of a fetch TypeError', async () => {
      await assert.rejects(mesh.fetch('http://nowhere:8080/'), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.ok(err.cause instanceof WeftError);
        assert.equal(err.cause.httpStatus, 404);
        return true;
      });
    });
  });
}

describe('sdk http: lifecycle against a control plane', function () {
  this.timeout(30_000);

  it('ready() rejects with WEFT_XDS_STREAM naming the server when nothing answers', async () => {
    const mesh = await createMesh({ controlPlane: '127.0.0.1:1', readyTimeoutMs: 500, env: {} });
    try {
      await assert.rejects(mesh.ready(), (err: unknown) => {
        assert.ok(err instanceof WeftError);
        assert.equal(err.code, 'WEFT_XDS_STREAM');
        assert.match(err.message, /127\.0\.0\.1:1/);
        return true;
      });
    } finally {
      await mesh.close();
    }
  });

  it('after close(), fetch fails WEFT_CLOSED and ready() rejects WEFT_CLOSED', async () => {
    const mesh = await createMesh({ controlPlane: '127.0.0.1:1', readyTimeoutMs: 500, env: {} });
    await mesh.close();
    await mesh.close();
    await assert.rejects(mesh.fetch('http://inventory/'), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal((err.cause as WeftError).code, 'WEFT_CLOSED');
      return true;
    });
    await assert.rejects(mesh.ready(), { code: 'WEFT_CLOSED' });
  });
});
