// End to end: a DestinationRule `outlierDetection` served by a real `weft control-plane` process;
// of three backends one answers 503 to everything. After two 503s it is ejected and mesh.fetch
// never reaches it again; a VirtualService retry on 5xx keeps every call at 200. Issue 4,
// outlier detection.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMesh, OUTLIER_CHANNEL, type Mesh, type OutlierEvent } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

function inventoryYaml(ports: readonly number[]): string {
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
  endpoints:
${ports
  .map(
    (port) => `    - address: 127.0.0.1
      ports: { http: ${port} }
      locality: us-east-1/us-east-1a`,
  )
  .join('\n')}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s }`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      retries: { attempts: 2, retryOn: "5xx" }`,
  ].join('\n---\n');
}

describe('sdk outlier detection: mesh.fetch against a weft control-plane process', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  const servers: Server[] = [];
  const hits = [0, 0, 0];
  let mesh: Mesh;

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const server = createServer((_req, res) => {
        hits[i] = (hits[i] ?? 0) + 1;
        if (i === 0) {
          res.statusCode = 503;
          res.end('bad instance');
          return;
        }
        res.end(`ok ${i}`);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
    }
    dir = await mkdtemp(join(tmpdir(), 'weft-sdk-outlier-'));
    await writeFile(
      join(dir, 'inventory.yaml'),
      inventoryYaml(servers.map((s) => (s.address() as AddressInfo).port)),
    );
    cp = await startControlPlaneProcess(dir);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'checkout-outlier', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      env: {},
    });
    await mesh.ready();
  });

  after(async () => {
    await mesh.close();
    await cp.stop();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ejects the instance that answers 503 and every call succeeds', async () => {
    const badPort = (servers[0]?.address() as AddressInfo).port;
    const events: OutlierEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as OutlierEvent);
    };
    subscribe(OUTLIER_CHANNEL, onEvent);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await mesh.fetch(`http://inventory:8080/items/${i}`);
        statuses.push(res.status);
        await res.text();
      }
      assert.deepEqual(new Set(statuses), new Set([200]));
      // Two consecutive 5xx eject it; nothing reaches it afterwards.
      assert.equal(hits[0], 2);
      const afterEjection = hits[0];
      for (let i = 0; i < 30; i++) {
        const res = await mesh.fetch(`http://inventory:8080/more/${i}`);
        assert.equal(res.status, 200);
        await res.text();
      }
      assert.equal(hits[0], afterEjection);
      assert.deepEqual(
        events.map((e) => [e.action, e.endpoint, e.reason]),
        [['eject', `127.0.0.1:${badPort}`, 'consecutive-5xx']],
      );
      const described = JSON.stringify(mesh.describe());
      assert.match(described, new RegExp(`"key":"127.0.0.1:${badPort}"[^}]*"ejected":true`));
    } finally {
      unsubscribe(OUTLIER_CHANNEL, onEvent);
    }
  });
});
