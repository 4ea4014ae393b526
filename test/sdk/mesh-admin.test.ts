// The SDK's admin listener through createMesh against a real `weft control-plane` process:
// /ready, /stats, /clusters, /config_dump and Prometheus /metrics after known traffic (one 503
// retried to a 200). Issue 4 ("visible in the admin API"), groundwork for issue 6.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { ConfigError, createMesh, type Mesh } from '@weft/sdk';
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
      retries: { attempts: 2, retryOn: "5xx" }`;

const CLUSTER = 'outbound|8080||inventory';

/** The value of the sample of `name` whose labels include every `labels` pair. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (wanted) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('sdk admin listener: createMesh({ admin }) against a weft control-plane process', function () {
  this.timeout(60_000);
  let fixture: MeshFixture;
  let server: Server;
  let mesh: Mesh;
  let base: string;
  let calls = 0;

  before(async () => {
    server = createServer((_req, res) => {
      res.statusCode = calls++ === 0 ? 503 : 200;
      res.end('x');
    });
    const port = await listenOnLoopback(server);
    fixture = await startMeshFixture(
      'checkout-admin',
      [
        staticServiceYaml({
          host: 'inventory',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [port],
        }),
        VIRTUAL_SERVICE,
      ].join('\n---\n'),
      { admin: { port: 0 } },
    );
    mesh = fixture.mesh;
    assert.ok(mesh.admin, 'mesh.admin is set when the admin listener is asked for');
    assert.equal(mesh.admin.host, '127.0.0.1');
    base = mesh.admin.url;
  });

  after(async () => {
    await fixture.close();
    server.close();
  });

  it('serves /ready, and counts a retried request exactly in /stats and /metrics', async () => {
    const ready = await request(`${base}/ready`);
    assert.equal(ready.statusCode, 200);
    assert.equal(await ready.body.text(), 'ready\n');

    const res = await mesh.fetch('http://inventory/items');
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(calls, 2, 'the 503 was retried once');

    const stats = (await (await request(`${base}/stats`)).body.json()) as {
      http: { requests: number; retries: number };
      xds: { connected: boolean };
    };
    assert.equal(stats.http.requests, 1);
    assert.equal(stats.http.retries, 1);
    assert.equal(stats.xds.connected, true);

    const metrics = await request(`${base}/metrics`);
    assert.equal(metrics.statusCode, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    const text = await metrics.body.text();
    const node = { node_id: 'checkout-admin' };
    assert.equal(sample(text, 'weft_sdk_http_requests_total', node), 1);
    assert.equal(sample(text, 'weft_sdk_http_retries_total', node), 1);
    assert.equal(sample(text, 'weft_sdk_http_failures_total', node), 0);
    assert.equal(sample(text, 'weft_sdk_xds_connected', node), 1);
    assert.equal(
      sample(text, 'weft_sdk_cluster_endpoints', { cluster: CLUSTER, state: 'healthy' }),
      1,
    );
    assert.equal(
      sample(text, 'weft_sdk_cluster_endpoints', { cluster: CLUSTER, state: 'ejected' }),
      0,
    );
    assert.match(text, /# TYPE weft_sdk_http_requests_total counter/);
    assert.equal(
      sample(text, 'weft_sdk_cluster_overflows_total', { protocol: 'http', cluster: CLUSTER }),
      0,
    );
    assert.equal(sample(text, 'weft_sdk_breaker_state', { cluster: CLUSTER, state: 'closed' }), 1);
    assert.equal(sample(text, 'weft_sdk_breaker_state', { cluster: CLUSTER, state: 'open' }), 0);
    assert.equal(sample(text, 'weft_sdk_breaker_successes_total', { cluster: CLUSTER }), 1);
    assert.equal(
      sample(text, 'weft_sdk_cluster_active_requests', { protocol: 'http', cluster: CLUSTER }),
      0,
    );
  });

  it('shows the cluster with its endpoints on /clusters and the tables on /config_dump', async () => {
    const clusters = (await (await request(`${base}/clusters`)).body.json()) as {
      clusters: {
        name: string;
        priorities: { localities: { endpoints: { key: string }[] }[] }[];
      }[];
    };
    const inventory = clusters.clusters.find((c) => c.name === CLUSTER);
    assert.ok(inventory, `${CLUSTER} is listed`);
    assert.equal(inventory.priorities[0]?.localities[0]?.endpoints.length, 1);
    const dump = (await (await request(`${base}/config_dump`)).body.json()) as {
      listeners: { name: string; state: string }[];
    };
    assert.ok(dump.listeners.some((l) => l.name === 'inventory' && l.state === 'ready'));
  });

  it('answers 404 naming the views for an unknown path and 405 for writes', async () => {
    const missing = await request(`${base}/nope`);
    assert.equal(missing.statusCode, 404);
    const body = (await missing.body.json()) as { views: string[] };
    assert.ok(body.views.includes('/metrics'));
    const post = await request(`${base}/stats`, { method: 'POST', body: 'x' });
    assert.equal(post.statusCode, 405);
    await post.body.dump();
  });

  it('rejects a bad admin option or WEFT_ADMIN_PORT naming the field', async () => {
    await assert.rejects(
      createMesh({ controlPlane: '127.0.0.1:1', admin: { port: -1 }, env: {} }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'admin.port'),
    );
    await assert.rejects(
      createMesh({ controlPlane: '127.0.0.1:1', env: { WEFT_ADMIN_PORT: 'abc' } }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'env.WEFT_ADMIN_PORT'),
    );
  });

  it('fails createMesh clearly when the admin port is taken', async () => {
    const port = Number(new URL(base).port);
    await assert.rejects(
      createMesh({ controlPlane: `127.0.0.1:${fixture.cp.xdsPort}`, admin: { port }, env: {} }),
      /mesh admin: cannot listen on 127\.0\.0\.1:\d+/,
    );
  });
});
