// End to end: a DestinationRule `outlierDetection` served by a real `weft control-plane` process;
// of three backends one answers 503 to everything. After two 503s it is ejected and mesh.fetch
// never reaches it again; a VirtualService retry on 5xx keeps every call at 200. Issue 4,
// outlier detection.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OUTLIER_CHANNEL, type Mesh, type OutlierEvent } from '@weft/sdk';
import { staticServiceYaml, startMeshFixture, type MeshFixture } from '../helpers/sdk-fixtures.js';

const RULES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      retries: { attempts: 2, retryOn: "5xx" }`;

describe('sdk outlier detection: mesh.fetch against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
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
    const endpointPorts = servers.map((s) => (s.address() as AddressInfo).port);
    fixture = await startMeshFixture(
      'checkout-outlier',
      [
        staticServiceYaml({ host: 'inventory', port: 8080, protocol: 'HTTP', endpointPorts }),
        RULES,
      ].join('\n---\n'),
    );
    mesh = fixture.mesh;
  });

  after(async () => {
    await fixture.close();
    for (const s of servers) s.close();
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
