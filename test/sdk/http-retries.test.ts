// End to end: a VirtualService with `retries` served by a real `weft control-plane` process; a
// backend on loopback answers 503 to its first requests and mesh.fetch still gets 200. Issue 4,
// retries and timeouts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMesh, type Mesh } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

function inventoryYaml(port: number): string {
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
    - address: 127.0.0.1
      ports: { http: ${port} }
      locality: us-east-1/us-east-1a`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      timeout: 5s
      retries: { attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure" }`,
  ].join('\n---\n');
}

describe('sdk http retries: mesh.fetch against a weft control-plane process', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let server: Server;
  let failNext = 0;
  let received = 0;
  let mesh: Mesh;

  before(async () => {
    server = createServer((_req, res) => {
      received++;
      if (failNext > 0) {
        failNext--;
        res.statusCode = 503;
        res.end('warming up');
        return;
      }
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    dir = await mkdtemp(join(tmpdir(), 'weft-sdk-retries-'));
    await writeFile(
      join(dir, 'inventory.yaml'),
      inventoryYaml((server.address() as AddressInfo).port),
    );
    cp = await startControlPlaneProcess(dir);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'checkout-retries', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      env: {},
    });
    await mesh.ready();
  });

  after(async () => {
    await mesh.close();
    await cp.stop();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 200 when the backend returns 503 to its first 3 requests (attempts: 3 = 3 retries)', async () => {
    // Warm the listener first so the test counts only the retried request.
    assert.equal((await mesh.fetch('http://inventory:8080/warm')).status, 200);
    const before = received;
    failNext = 3;
    const res = await mesh.fetch('http://inventory:8080/items/1');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    assert.equal(received - before, 4);
    assert.equal(mesh.stats().http.retries, 3);
  });

  it('returns the 503 once the 3 retries are used up (like Envoy)', async () => {
    failNext = 4;
    const res = await mesh.fetch('http://inventory:8080/items/2');
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'warming up');
    assert.equal(mesh.stats().http.retriesExhausted, 1);
  });
});
