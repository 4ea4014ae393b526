// Issue 6, "Metrics" and "Access logs": Istio's standard metrics on the SDK admin /metrics after
// known traffic through createMesh against a real `weft control-plane` process (a 503 retried to
// a 200, two plain 503s, a gRPC call, an inbound request to a mesh.serve() server), exact
// counts and labels for reporter=source and reporter=destination; the access log lines; the xDS
// versions in /config_dump; and a real Prometheus (Debian's `prometheus`, started here) scraping
// the admin port and answering `sum(rate(istio_requests_total{response_code=~"5.."}[1m]))`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  Server as GrpcServer,
  ServerCredentials,
  ServerInterceptingCall,
  type sendUnaryData,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { ECHO_SERVICE, EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import type { AccessLogEntry, Mesh, MeshServer } from '@weft/sdk';
import { request } from 'undici';
import { eventually } from '../helpers/processes.js';
import {
  echoCallOutcome,
  staticServiceYaml,
  startMeshFixture,
  type MeshFixture,
} from '../helpers/sdk-fixtures.js';

const MESH_YAML = [
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - route:
        - destination: { host: inventory }
      retries: { attempts: 2, retryOn: "5xx" }`,
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payment, namespace: default }
spec:
  hosts: [payment]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: payment }`,
];

/** Whether Debian's `prometheus` is installed (CI installs it: .ci/run). */
const HAVE_PROMETHEUS = (() => {
  const probe = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0;
})();

/** Parsed Prometheus text: one entry per sample line. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples of `name` whose labels include every pair of `labels`. */
function select(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function sum(samples: Sample[]): number {
  return samples.reduce((n, s) => n + s.value, 0);
}

describe('sdk Istio standard metrics and access logs: createMesh against a weft control-plane process', function () {
  this.timeout(90_000);
  let fixture: MeshFixture;
  let mesh: Mesh;
  let inventory: Server;
  let ledger: Server;
  let grpcServer: GrpcServer;
  let payment: MeshServer;
  let dir: string;
  let accessLogPath: string;
  let inventoryCalls = 0;
  let samples: Sample[];
  let interceptor: ServerInterceptor = (_m, call) => new ServerInterceptingCall(call);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-istio-metrics-'));
    accessLogPath = join(dir, 'access.log');
    inventory = createServer((_req, res) => {
      res.statusCode = inventoryCalls++ === 0 ? 503 : 200;
      res.end('items');
    });
    ledger = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    for (const s of [inventory, ledger]) {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
    }
    // The gRPC server counts its inbound calls through the mesh's server interceptor; its port
    // is reserved first (the interceptor needs the mesh, the mesh's config needs the port).
    grpcServer = new GrpcServer({ interceptors: [(m, call) => interceptor(m, call)] });
    grpcServer.addService(ECHO_SERVICE, {
      Call: (_call: unknown, cb: sendUnaryData<EchoResponse>) => {
        cb(null, { backend: 'stock', message: 'hi' });
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(err);
        else resolve(p);
      });
    });
    const portOf = (s: Server): number => (s.address() as AddressInfo).port;
    fixture = await startMeshFixture(
      'checkout-istio',
      [
        staticServiceYaml({
          host: 'inventory',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [portOf(inventory)],
        }),
        staticServiceYaml({
          host: 'ledger',
          port: 8080,
          protocol: 'HTTP',
          endpointPorts: [portOf(ledger)],
        }),
        staticServiceYaml({
          host: 'stock',
          port: 9090,
          protocol: 'GRPC',
          endpointPorts: [grpcPort],
        }),
        ...MESH_YAML,
      ].join('\n---\n'),
      {
        admin: { port: 0 },
        accessLog: { path: accessLogPath },
        workload: {
          name: 'checkout',
          namespace: 'default',
          serviceAccount: 'checkout',
          labels: { app: 'checkout', version: 'v1' },
        },
      },
    );
    mesh = fixture.mesh;
    const stockInterceptor = mesh.grpcServerInterceptor({ service: 'stock' });
    interceptor = stockInterceptor;
    payment = await mesh.serve(
      (_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.write('paid');
        res.end('!');
      },
      { service: 'payment', port: 0, labels: { app: 'payment' }, drainMs: 0 },
    );

    // Known traffic.
    const inv = await mesh.fetch('http://inventory:8080/items', {
      headers: {
        'x-request-id': 'req-1',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      },
    });
    assert.equal(inv.status, 200);
    assert.equal(await inv.text(), 'items');
    assert.equal(inventoryCalls, 2, 'the 503 was retried once');
    for (let i = 0; i < 2; i++) {
      const r = await mesh.fetch('http://ledger:8080/entries', { method: 'POST', body: 'abc' });
      assert.equal(r.status, 503);
      await r.text();
    }
    const client = new EchoClient('xds:///stock:9090', credentials.createInsecure());
    assert.equal((await echoCallOutcome(client)).backend, 'stock');
    client.close();
    // The served payment endpoint reaches the checkout's EDS through registration.
    const paid = await eventually(
      async () => {
        const r = await mesh.fetch('http://payment:8080/pay');
        const body = await r.text();
        return r.status === 200 ? body : undefined;
      },
      20_000,
      'payment registered',
    );
    assert.equal(paid, 'paid!');

    const text = await (await request(`${mesh.admin!.url}/metrics`)).body.text();
    samples = parseMetrics(text);
  });

  after(async () => {
    await payment.close().catch(() => undefined);
    await fixture.close();
    inventory.close();
    ledger.close();
    grpcServer.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts one request per client request with Istio labels (reporter=source), retries not extra', () => {
    const source = {
      reporter: 'source',
      source_workload: 'checkout',
      source_workload_namespace: 'default',
      source_principal: 'unknown',
      source_app: 'checkout',
      source_version: 'v1',
      destination_workload: 'unknown',
      destination_principal: 'unknown',
      destination_version: 'unknown',
      connection_security_policy: 'unknown',
      node_id: 'checkout-istio',
    };
    const inv = select(samples, 'istio_requests_total', {
      ...source,
      destination_service: 'inventory',
      destination_service_name: 'inventory',
      destination_service_namespace: 'default',
    });
    assert.equal(inv.length, 1, 'one series for inventory');
    assert.equal(inv[0]!.value, 1, 'the retried request counts once');
    assert.deepEqual(
      {
        code: inv[0]!.labels['response_code'],
        grpc: inv[0]!.labels['grpc_response_status'],
        flags: inv[0]!.labels['response_flags'],
        protocol: inv[0]!.labels['request_protocol'],
      },
      { code: '200', grpc: '', flags: '-', protocol: 'http' },
    );
    const ledger503 = select(samples, 'istio_requests_total', {
      ...source,
      destination_service: 'ledger',
      response_code: '503',
      request_protocol: 'http',
    });
    assert.equal(sum(ledger503), 2);
    const grpc = select(samples, 'istio_requests_total', {
      ...source,
      destination_service: 'stock',
      request_protocol: 'grpc',
      response_code: '200',
      grpc_response_status: '0',
    });
    assert.equal(sum(grpc), 1);
    const toPayment = select(samples, 'istio_requests_total', {
      ...source,
      destination_service: 'payment',
      response_code: '200',
    });
    assert.ok(sum(toPayment) >= 1, 'calls to the served payment counted at the source');
    // No path / request-id labels.
    for (const s of select(samples, 'istio_requests_total', {}))
      for (const k of Object.keys(s.labels)) assert.ok(!/path|request_id|pod/.test(k), k);
  });

  it('counts inbound requests of a mesh.serve() server with reporter=destination', () => {
    const dest = select(samples, 'istio_requests_total', {
      reporter: 'destination',
      destination_service: 'payment',
      destination_workload: 'checkout',
      destination_app: 'checkout',
      source_workload: 'unknown',
      connection_security_policy: 'none',
      request_protocol: 'http',
      response_code: '200',
    });
    const sourceSide = sum(
      select(samples, 'istio_requests_total', {
        reporter: 'source',
        destination_service: 'payment',
        response_code: '200',
      }),
    );
    assert.equal(sum(dest), sourceSide, 'every 200 the client saw was counted by the server');
    const bytes = select(samples, 'istio_response_bytes_sum', {
      reporter: 'destination',
      destination_service: 'payment',
      response_code: '200',
    });
    assert.equal(sum(bytes), 5 * sourceSide, '"paid!" is 5 bytes');
  });

  it('counts inbound gRPC calls through mesh.grpcServerInterceptor() with reporter=destination', () => {
    const dest = select(samples, 'istio_requests_total', {
      reporter: 'destination',
      destination_service: 'stock',
      destination_workload: 'checkout',
      request_protocol: 'grpc',
      response_code: '200',
      grpc_response_status: '0',
      connection_security_policy: 'none',
    });
    assert.equal(sum(dest), 1);
  });

  it('observes duration and bytes histograms with Istio buckets', () => {
    const labels = { reporter: 'source', destination_service: 'ledger', response_code: '503' };
    assert.equal(sum(select(samples, 'istio_request_duration_milliseconds_count', labels)), 2);
    const le = select(samples, 'istio_request_duration_milliseconds_bucket', labels).map(
      (s) => s.labels['le'],
    );
    assert.deepEqual(le.slice(0, 4), ['0.5', '1', '5', '10']);
    assert.ok(le.includes('3600000') && le.includes('+Inf'));
    assert.equal(sum(select(samples, 'istio_request_bytes_sum', labels)), 6, '2 × "abc"');
    assert.equal(sum(select(samples, 'istio_response_bytes_sum', labels)), 8, '2 × "down"');
    const inv = { reporter: 'source', destination_service: 'inventory' };
    assert.equal(sum(select(samples, 'istio_response_bytes_sum', inv)), 5, '"items" only');
    assert.equal(sum(select(samples, 'weft_sdk_telemetry_series_overflowed_total', {})), 0);
  });

  it('counts xDS ACKs per type and shows versions and NACK errors in /config_dump', async () => {
    for (const type of ['Listener', 'RouteConfiguration', 'Cluster', 'ClusterLoadAssignment']) {
      const acks = sum(select(samples, 'weft_sdk_xds_acks_total', { type }));
      assert.ok(acks >= 1, `${type} ACKed`);
      assert.equal(sum(select(samples, 'weft_sdk_xds_nacks_total', { type })), 0);
      assert.equal(select(samples, 'weft_sdk_xds_config_version_info', { type }).length, 1);
    }
    const dump = (await (await request(`${mesh.admin!.url}/config_dump`)).body.json()) as {
      listeners: unknown[];
      xds: {
        connected: boolean;
        types: Record<string, { version: string; acks: number; nacks: number; nackErrors: [] }>;
      };
    };
    assert.ok(Array.isArray(dump.listeners), 'describe() is still there');
    assert.equal(dump.xds.connected, true);
    const cluster = dump.xds.types['Cluster'];
    assert.ok(cluster !== undefined && cluster.version !== '' && cluster.acks >= 1);
    assert.deepEqual(cluster.nackErrors, []);
  });

  it('writes one Envoy-style JSON access log line per request, client and server side', async () => {
    const lines = await eventually(async () => {
      const text = await readFile(accessLogPath, 'utf8').catch(() => '');
      const parsed = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as AccessLogEntry);
      return parsed.some((l) => l.reporter === 'destination') ? parsed : undefined;
    });
    const inv = lines.filter((l) => l.authority === 'inventory:8080');
    assert.equal(inv.length, 1, 'one line for the retried request');
    const l = inv[0]!;
    assert.equal(l.reporter, 'source');
    assert.equal(l.method, 'GET');
    assert.equal(l.path, '/items');
    assert.equal(l.response_code, 200);
    assert.equal(l.response_flags, '-');
    assert.equal(l.bytes_received, 5);
    assert.equal(l.x_request_id, 'req-1');
    assert.equal(l.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(l.upstream_cluster, 'outbound|8080||inventory');
    assert.equal(l.upstream_host, `127.0.0.1:${(inventory.address() as AddressInfo).port}`);
    assert.equal(l.downstream_peer_uri_san, '-');
    assert.ok(!Number.isNaN(Date.parse(l.start_time)));
    const posts = lines.filter((x) => x.authority === 'ledger:8080');
    assert.deepEqual(
      posts.map((x) => [x.method, x.response_code, x.bytes_sent]),
      [
        ['POST', 503, 3],
        ['POST', 503, 3],
      ],
    );
    const grpc = lines.find((x) => x.protocol === 'HTTP/2' && x.reporter === 'source');
    assert.ok(grpc !== undefined);
    assert.equal(grpc.path, '/weft.test.Echo/Call');
    assert.equal(grpc.authority, 'stock:9090');
    assert.equal(grpc.grpc_status, '0');
    const grpcInbound = lines.filter(
      (x) => x.protocol === 'HTTP/2' && x.reporter === 'destination',
    );
    assert.deepEqual(
      grpcInbound.map((x) => [x.path, x.grpc_status, x.upstream_cluster]),
      [['/weft.test.Echo/Call', '0', 'inbound|stock']],
    );
    const inbound = lines.filter((x) => x.reporter === 'destination' && x.protocol === 'HTTP/1.1');
    assert.ok(inbound.length >= 1);
    assert.equal(inbound[0]!.path, '/pay');
    assert.equal(inbound[0]!.bytes_sent, 5);
    assert.equal(inbound[0]!.upstream_cluster, 'inbound|payment');
    assert.ok(mesh.stats().telemetry.accessLog!.written >= lines.length);
  });

  describe('a real Prometheus scraping the admin listener', function () {
    let prometheus: ChildProcess | undefined;
    let promDir: string | undefined;
    let promUrl: string;

    after(async () => {
      if (prometheus !== undefined && prometheus.exitCode === null) {
        prometheus.kill('SIGTERM');
        await once(prometheus, 'exit');
      }
      if (promDir !== undefined) await rm(promDir, { recursive: true, force: true });
    });

    (HAVE_PROMETHEUS ? it : it.skip)(
      HAVE_PROMETHEUS
        ? 'answers sum(rate(istio_requests_total{response_code=~"5.."}[1m])) with the series'
        : 'SKIPPED: the prometheus binary is absent (apt-get install -y prometheus; .ci/run installs it)',
      async () => {
        promDir = await mkdtemp(join(tmpdir(), 'weft-prometheus-'));
        const free = createServer();
        free.listen(0, '127.0.0.1');
        await once(free, 'listening');
        const promPort = (free.address() as AddressInfo).port;
        free.close();
        await once(free, 'close');
        promUrl = `http://127.0.0.1:${promPort}`;
        const admin = mesh.admin!;
        await writeFile(
          join(promDir, 'prometheus.yml'),
          `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: weft-sdk
    scrape_interval: 1s
    metrics_path: /metrics
    static_configs: [{ targets: ['127.0.0.1:${admin.port}'] }]
`,
        );
        const logs: string[] = [];
        prometheus = spawn(
          'prometheus',
          [
            `--config.file=${join(promDir, 'prometheus.yml')}`,
            `--storage.tsdb.path=${join(promDir, 'data')}`,
            `--web.listen-address=127.0.0.1:${promPort}`,
            '--log.level=warn',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        prometheus.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
        prometheus.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
        const query = async (
          q: string,
        ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
          const res = await request(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
          const body = (await res.body.json()) as {
            status: string;
            data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
          };
          if (body.status !== 'success') throw new Error(JSON.stringify(body));
          return body.data?.result ?? [];
        };
        try {
          // First scrape in: the 503 counter has a sample.
          await eventually(
            async () => {
              const r = await query('istio_requests_total{response_code="503"}');
              return r.length > 0 ? r : undefined;
            },
            30_000,
            'Prometheus to scrape the SDK admin /metrics',
          );
          // More 503s after the first scrape, so the rate over the window is above zero.
          for (let i = 0; i < 3; i++) {
            const r = await mesh.fetch('http://ledger:8080/entries');
            assert.equal(r.status, 503);
            await r.text();
          }
          const result = await eventually(
            async () => {
              const r = await query('sum(rate(istio_requests_total{response_code=~"5.."}[1m]))');
              const v = Number(r[0]?.value[1]);
              return r.length === 1 && v > 0 ? r : undefined;
            },
            30_000,
            'a positive 5xx rate',
          );
          assert.equal(result.length, 1);
          // ledger's 503s came from the upstream (flag -); payment's, if any, from the mesh while
          // its registration was on its way (no endpoint yet: UH).
          const bySource = await query(
            'sum by (reporter, destination_service, response_flags) (istio_requests_total{response_code=~"5.."})',
          );
          const ledger5xx = bySource.find((r) => r.metric['destination_service'] === 'ledger');
          assert.deepEqual(ledger5xx?.metric, {
            reporter: 'source',
            destination_service: 'ledger',
            response_flags: '-',
          });
          assert.equal(ledger5xx.value[1], '5');
          for (const r of bySource.filter((x) => x.metric['destination_service'] !== 'ledger'))
            assert.deepEqual(
              [r.metric['destination_service'], r.metric['response_flags']],
              ['payment', 'UH'],
            );
          const targets = (await (await request(`${promUrl}/api/v1/targets`)).body.json()) as {
            data: { activeTargets: { health: string }[] };
          };
          assert.equal(targets.data.activeTargets[0]?.health, 'up');
        } catch (err) {
          throw new Error(`${String(err)}\nprometheus output:\n${logs.join('')}`);
        }
      },
    );
  });
});
