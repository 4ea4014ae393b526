// End to end: a VirtualService with `retries` served by a real `weft control-plane` process; a
// backend on loopback answers 503 to its first requests and mesh.fetch still gets 200. Issue 4,
// retries and timeouts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Mesh } from '@weft/sdk';
import {
  staticServiceYaml,
  startMeshFixture,
  type MeshFixture,
  listenOnLoopback,
} from '../helpers/sdk-fixtures.js';

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      timeout: 5s
      retries: { attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure" }`;

describe('sdk http retries: mesh.fetch against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
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
    const port = await listenOnLoopback(server);
    fixture = await startMeshFixture(
      'checkout-retries',
      [
        staticServiceYaml({
          host: 'inventory',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [port],
        }),
        VIRTUAL_SERVICE,
      ].join('\n---\n'),
    );
    mesh = fixture.mesh;
  });

  after(async () => {
    await fixture.close();
    server.close();
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
