// Issue 5, data plane part 2 (inbound): PeerAuthentication and AuthorizationPolicy end to end. A
// real `weft control-plane` process serves per-workload inbound Listeners; createMesh +
// mesh.serve() servers in several namespaces enforce them; clients are plain undici with and
// without client certificates (all CA material is generated here, including a second CA and
// expired / not-yet-valid leaves). A table of AuthorizationPolicy cases, then the mTLS modes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  Server as GrpcServer,
  status as GrpcStatus,
  type ServiceError,
} from '@grpc/grpc-js';
import { ECHO_SERVICE, EchoClient } from '@weft/example-demo/echo-service';
import FakeTimers from '@sinonjs/fake-timers';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import type { Clock, TimerHandle } from '@weft/xds-client';
import { Agent, request } from 'undici';
import {
  eventually,
  startControlPlaneProcess,
  writeFileAtomic,
  type ControlPlaneProcess,
} from '../helpers/processes.js';
import { createTestCa, fixedCertificates, issueLeaf, type TestLeaf } from '../helpers/test-pki.js';

const HOUR = 3_600_000;

async function freePort(): Promise<number> {
  const s = createNetServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function policyYaml(port: number): string {
  const ap = (ns: string, name: string, spec: string): string =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n${spec}`;
  const pa = (ns: string, mode: string): string =>
    `apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: ${ns} }\nspec:\n  mtls: { mode: ${mode} }\n`;
  return [
    ap(
      'shop',
      'deny-admin',
      "  action: DENY\n  rules:\n    - to: [{ operation: { paths: ['/admin*'] } }]\n",
    ),
    ap(
      'shop',
      'deny-blocked',
      "  action: DENY\n  rules:\n    - when: [{ key: 'request.headers[x-block]', values: ['yes'] }]\n",
    ),
    ap(
      'shop',
      'allow-front-reads',
      "  selector: { matchLabels: { app: api } }\n  rules:\n    - from: [{ source: { namespaces: [front] } }]\n      to: [{ operation: { methods: [GET], paths: ['/items*', '/admin*'] } }]\n",
    ),
    ap(
      'shop',
      'allow-health',
      "  rules:\n    - to: [{ operation: { methods: [GET], paths: ['/health'] } }]\n",
    ),
    ap(
      'shop',
      'allow-web-json',
      "  rules:\n    - from: [{ source: { principals: ['cluster.local/ns/front/sa/web'] } }]\n      to: [{ operation: { paths: ['*.json'] } }]\n",
    ),
    ap(
      'shop',
      'allow-ops-writes',
      "  rules:\n    - from: [{ source: { principals: ['cluster.local/ns/ops/sa/admin'] } }]\n      to: [{ operation: { methods: [POST, DELETE], notPaths: ['/items/locked'] } }]\n",
    ),
    ap(
      'shop',
      'allow-canary',
      "  rules:\n    - to: [{ operation: { paths: ['/canary'] } }]\n      when: [{ key: 'request.headers[x-canary]', values: ['true'] }]\n",
    ),
    ap(
      'shop',
      'allow-ports',
      `  rules:\n    - to: [{ operation: { ports: ['${port}'], paths: ['/this-port'] } }]\n    - to: [{ operation: { ports: ['1'], paths: ['/other-port'] } }]\n`,
    ),
    ap('shop', 'audit-everything', '  action: AUDIT\n  rules: [{}]\n'),
    ap('locked', 'allow-nothing', '  {}\n'),
    ap(
      'grpc',
      'allow-web-echo',
      "  rules:\n    - from: [{ source: { principals: ['cluster.local/ns/front/sa/web'] } }]\n      to: [{ operation: { paths: ['/weft.test.Echo/*'] } }]\n",
    ),
    ap('audited', 'audit-only', '  action: AUDIT\n  rules: [{}]\n'),
    pa('strict', 'STRICT'),
    pa('plain', 'DISABLE'),
  ].join('---\n');
}

interface Served {
  readonly mesh: Mesh;
  readonly server: MeshServer;
  readonly port: number;
}

describe('inbound security: PeerAuthentication + AuthorizationPolicy through mesh.serve', function () {
  this.timeout(120_000);
  let dir = '';
  let cp: ControlPlaneProcess | undefined;
  const ca = createTestCa('weft-test');
  const otherCa = createTestCa('someone-else');
  const web = issueLeaf(ca, 'front', 'web');
  const other = issueLeaf(ca, 'other', 'robot');
  const admin = issueLeaf(ca, 'ops', 'admin');
  const foreign = issueLeaf(otherCa, 'front', 'web');
  const expired = issueLeaf(ca, 'front', 'web', {
    notBeforeMs: Date.now() - 3 * HOUR,
    notAfterMs: Date.now() - HOUR,
  });
  const notYet = issueLeaf(ca, 'front', 'web', {
    notBeforeMs: Date.now() + HOUR,
    notAfterMs: Date.now() + 3 * HOUR,
  });
  const servers = new Map<string, Served>();
  let shopPort = 0;

  async function serveIn(namespace: string, port = 0): Promise<Served> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp!.xdsPort}`,
      node: { id: `api-${namespace}`, locality: { region: 'r', zone: 'z' } },
      workload: { name: 'api', namespace, serviceAccount: 'api', labels: { app: 'api' } },
      env: {},
      admin: { port: 0 },
    });
    const serverLeaf = issueLeaf(ca, namespace, 'api');
    const server = await mesh.serve(
      (req, res) => {
        res.end(`ok ${req.method} ${req.url}`);
      },
      {
        service: `api-${namespace}`,
        port,
        certificates: fixedCertificates(serverLeaf),
        drainMs: 0,
      },
    );
    const served = { mesh, server, port: server.port };
    servers.set(namespace, served);
    return served;
  }

  before(async () => {
    shopPort = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'weft-inbound-'));
    await writeFile(join(dir, 'policies.yaml'), policyYaml(shopPort));
    cp = await startControlPlaneProcess(dir);
    for (const ns of ['open', 'locked', 'audited', 'strict', 'plain']) await serveIn(ns);
    await serveIn('shop', shopPort);
  });

  after(async () => {
    for (const s of servers.values()) await s.mesh.close();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** One request; the status, or the error code when the connection was refused. */
  async function call(
    namespace: string,
    path: string,
    options: {
      method?: string;
      leaf?: TestLeaf | 'no-cert';
      headers?: Record<string, string>;
    } = {},
  ): Promise<number | string> {
    const s = servers.get(namespace);
    assert.ok(s !== undefined);
    const tls = options.leaf !== undefined;
    const agent = new Agent({
      connect: tls
        ? {
            ca: [ca.certPem],
            checkServerIdentity: () => undefined,
            ...(options.leaf === 'no-cert'
              ? {}
              : { cert: options.leaf!.certPem, key: options.leaf!.keyPem }),
          }
        : {},
    });
    try {
      const res = await request(`${tls ? 'https' : 'http'}://127.0.0.1:${s.port}${path}`, {
        method: (options.method ?? 'GET') as 'GET',
        headers: options.headers ?? {},
        dispatcher: agent,
      });
      const body = await res.body.text();
      if (res.statusCode === 403) assert.equal(body, 'RBAC: access denied');
      return res.statusCode;
    } catch (err) {
      return (err as { code?: string }).code ?? 'error';
    } finally {
      await agent.close();
    }
  }

  const CASES: {
    name: string;
    ns: string;
    path: string;
    method?: string;
    leaf?: 'web' | 'other' | 'admin';
    headers?: Record<string, string>;
    expected: number;
  }[] = [
    {
      name: 'ALLOW by source namespace + method + path prefix',
      ns: 'shop',
      path: '/items/1',
      leaf: 'web',
      expected: 200,
    },
    {
      name: 'a namespaces rule needs an authenticated peer (plaintext denied)',
      ns: 'shop',
      path: '/items/1',
      expected: 403,
    },
    {
      name: 'methods: POST is not in [GET]',
      ns: 'shop',
      path: '/items/1',
      method: 'POST',
      leaf: 'web',
      expected: 403,
    },
    {
      name: 'DENY overrides ALLOW (path prefix /admin*)',
      ns: 'shop',
      path: '/admin/users',
      leaf: 'web',
      expected: 403,
    },
    { name: 'exact path allows exactly /health', ns: 'shop', path: '/health', expected: 200 },
    { name: 'exact path does not allow /healthz', ns: 'shop', path: '/healthz', expected: 403 },
    {
      name: 'suffix path *.json for the right principal',
      ns: 'shop',
      path: '/report.json',
      leaf: 'web',
      expected: 200,
    },
    {
      name: 'principals: another service account is denied',
      ns: 'shop',
      path: '/report.json',
      leaf: 'other',
      expected: 403,
    },
    {
      name: 'notPaths: ops admin may DELETE other items',
      ns: 'shop',
      path: '/items/2',
      method: 'DELETE',
      leaf: 'admin',
      expected: 200,
    },
    {
      name: 'notPaths: ops admin may not DELETE /items/locked',
      ns: 'shop',
      path: '/items/locked',
      method: 'DELETE',
      leaf: 'admin',
      expected: 403,
    },
    {
      name: 'DENY when request.headers[x-block]',
      ns: 'shop',
      path: '/items/1',
      leaf: 'web',
      headers: { 'x-block': 'yes' },
      expected: 403,
    },
    {
      name: 'ALLOW when request.headers[x-canary] matches',
      ns: 'shop',
      path: '/canary',
      headers: { 'x-canary': 'true' },
      expected: 200,
    },
    {
      name: 'ALLOW when: a missing header does not match',
      ns: 'shop',
      path: '/canary',
      expected: 403,
    },
    { name: 'ports: the server port matches', ns: 'shop', path: '/this-port', expected: 200 },
    { name: 'ports: another port does not', ns: 'shop', path: '/other-port', expected: 403 },
    {
      name: 'no policy in the namespace: allowed',
      ns: 'open',
      path: '/anything',
      method: 'DELETE',
      expected: 200,
    },
    {
      name: 'an ALLOW policy with no rules denies everything',
      ns: 'locked',
      path: '/anything',
      leaf: 'web',
      expected: 403,
    },
    { name: 'AUDIT alone does not block', ns: 'audited', path: '/anything', expected: 200 },
  ];
  const LEAVES = { web, other, admin };

  for (const c of CASES) {
    it(`${c.expected === 200 ? 'allows' : 'denies'}: ${c.name}`, async () => {
      const got = await call(c.ns, c.path, {
        ...(c.method === undefined ? {} : { method: c.method }),
        ...(c.leaf === undefined ? {} : { leaf: LEAVES[c.leaf] }),
        ...(c.headers === undefined ? {} : { headers: c.headers }),
      });
      assert.equal(got, c.expected);
    });
  }

  it('counts decisions per policy and logs audits (mesh.stats)', () => {
    const shop = servers.get('shop')!.mesh.stats().inboundSecurity;
    const find = (policy: string, result: string): number =>
      shop.rbac.find((d) => d.policy === policy && d.result === result)?.count ?? 0;
    assert.ok(find('ns[shop]-policy[deny-admin]-rule[0]', 'denied') >= 1);
    assert.ok(find('ns[shop]-policy[allow-front-reads]-rule[0]', 'allowed') >= 1);
    assert.ok(find('ns[shop]-policy[audit-everything]-rule[0]', 'logged') >= 1);
    const audited = servers.get('audited')!.mesh.stats().inboundSecurity;
    assert.ok((audited.rbac.find((d) => d.action === 'AUDIT')?.count ?? 0) >= 1);
  });

  it("shows the workload's inbound listener in the control plane's /config_dump (ACKed)", async () => {
    const res = await fetch(`http://127.0.0.1:${cp!.adminPort}/config_dump?node=api-shop`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.includes(`grpc/server?xds.resource.listening_address=127.0.0.1:${shopPort}`));
    assert.ok(text.includes('ns[shop]-policy[deny-admin]-rule[0]'));
    assert.ok(!text.includes('NACKED'));
  });

  it('exports decisions, handshake failures and Istio peer labels on the admin /metrics', async () => {
    const metrics = async (ns: string): Promise<string> => {
      const admin = servers.get(ns)!.mesh.admin;
      assert.ok(admin !== undefined);
      return await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
    };
    const shop = await metrics('shop');
    assert.match(
      shop,
      /weft_sdk_rbac_decisions_total\{policy="ns\[shop\]-policy\[deny-admin\]-rule\[0\]",action="DENY",result="denied"[^}]*\} [1-9]/,
    );
    assert.match(
      shop,
      /istio_requests_total\{[^}]*source_principal="cluster.local\/ns\/front\/sa\/web"[^}]*response_code="200"[^}]*connection_security_policy="mutual_tls"[^}]*\}/,
    );
    assert.match(
      shop,
      /istio_requests_total\{[^}]*response_code="403"[^}]*response_flags="RBAC"[^}]*\}/,
    );
    assert.match(
      shop,
      /istio_requests_total\{[^}]*source_principal="unknown"[^}]*connection_security_policy="none"[^}]*\}/,
    );
  });

  describe('PeerAuthentication', () => {
    it('STRICT accepts a client certificate from the mesh CA', async () => {
      assert.equal(await call('strict', '/x', { leaf: web }), 200);
      assert.ok(servers.get('strict')!.mesh.stats().inboundSecurity.connections.mtls >= 1);
    });

    it('STRICT rejects plaintext', async () => {
      assert.notEqual(await call('strict', '/x'), 200);
      assert.ok(
        (servers.get('strict')!.mesh.stats().inboundSecurity.handshakeFailures.plaintext_rejected ??
          0) >= 1,
      );
    });

    for (const [what, leaf, reason] of [
      ['no client certificate', 'no-cert', 'no_certificate'],
      ['a certificate from another CA', foreign, 'untrusted_ca'],
      ['an expired certificate', expired, 'expired'],
      ['a certificate not yet valid', notYet, 'not_yet_valid'],
    ] as const) {
      it(`STRICT rejects ${what}, counted as ${reason}`, async () => {
        const before =
          servers.get('strict')!.mesh.stats().inboundSecurity.handshakeFailures[reason] ?? 0;
        assert.notEqual(await call('strict', '/x', { leaf }), 200);
        const after =
          servers.get('strict')!.mesh.stats().inboundSecurity.handshakeFailures[reason] ?? 0;
        assert.equal(after, before + 1);
      });
    }

    it('PERMISSIVE (the default) accepts mTLS and plaintext on one port', async () => {
      assert.equal(await call('open', '/x', { leaf: web }), 200);
      assert.equal(await call('open', '/x'), 200);
    });

    it('exports handshake failures by reason with direction="inbound"', async () => {
      const admin = servers.get('strict')!.mesh.admin;
      assert.ok(admin !== undefined);
      const text = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
      for (const reason of [
        'no_certificate',
        'untrusted_ca',
        'expired',
        'not_yet_valid',
        'plaintext_rejected',
      ])
        assert.match(
          text,
          new RegExp(
            `weft_sdk_tls_handshake_failures_total\\{reason="${reason}",direction="inbound"[^}]*\\} [1-9]`,
          ),
        );
    });

    it('closes a PERMISSIVE connection that sends nothing within 15 s of the mesh clock (sniff_timeout)', async () => {
      const fake = FakeTimers.createClock(Date.now());
      const clock: Clock = {
        now: () => fake.now,
        setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
        clearTimeout: (h) => {
          fake.clearTimeout(h as never);
        },
      };
      const mesh = await createMesh({
        controlPlane: `127.0.0.1:${cp!.xdsPort}`,
        node: { id: 'api-idle', locality: { region: 'r', zone: 'z' } },
        workload: { name: 'api', namespace: 'idle', serviceAccount: 'api' },
        env: {},
        clock,
      });
      try {
        const server = await mesh.serve((_req, res) => res.end('ok'), {
          service: 'api-idle',
          port: 0,
          drainMs: 0,
        });
        const idle = connect(server.port, '127.0.0.1');
        await once(idle, 'connect');
        const closed = once(idle, 'close');
        await new Promise((r) => setTimeout(r, 50)); // the server has accepted it
        fake.tick(14_000);
        assert.equal(idle.destroyed, false, 'still open before the timeout');
        fake.tick(1_500);
        await closed;
        assert.equal(mesh.stats().inboundSecurity.handshakeFailures.sniff_timeout, 1);
        // A connection that speaks in time is served.
        const res = await request(`http://127.0.0.1:${server.port}/`);
        assert.equal(res.statusCode, 200);
        await res.body.dump();
        await server.close();
      } finally {
        await mesh.close();
      }
    });

    it('DISABLE serves plaintext and refuses TLS', async () => {
      assert.equal(await call('plain', '/x'), 200);
      assert.notEqual(await call('plain', '/x', { leaf: web }), 200);
      assert.ok(
        (servers.get('plain')!.mesh.stats().inboundSecurity.handshakeFailures.tls_rejected ?? 0) >=
          1,
      );
    });
  });

  describe('policy changes', () => {
    it('re-pushes the inbound listener when a policy changes: STRICT in open, then back', async () => {
      const strictOpen =
        'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: open }\nspec:\n  mtls: { mode: STRICT }\n';
      // A plaintext keep-alive connection opened under PERMISSIVE...
      const keepAlive = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
      const port = servers.get('open')!.port;
      const viaKept = async (): Promise<number | string> => {
        try {
          const res = await request(`http://127.0.0.1:${port}/kept`, { dispatcher: keepAlive });
          await res.body.text();
          return res.statusCode;
        } catch (err) {
          return (err as { code?: string }).code ?? 'error';
        }
      };
      assert.equal(await viaKept(), 200);
      await writeFileAtomic(join(dir, 'open-strict.yaml'), strictOpen);
      await eventually(
        async () => ((await call('open', '/x')) !== 200 ? true : undefined),
        20_000,
        'open to refuse plaintext',
      );
      // ...is closed at its next request once STRICT is in force (never served in plaintext).
      assert.notEqual(await viaKept(), 200);
      await keepAlive.close();
      assert.equal(await call('open', '/x', { leaf: web }), 200);
      await rm(join(dir, 'open-strict.yaml'));
      await eventually(
        async () => ((await call('open', '/x')) === 200 ? true : undefined),
        20_000,
        'open to accept plaintext again',
      );
    });

    it('a config the control plane rejects leaves the last good policy in force', async () => {
      await writeFileAtomic(
        join(dir, 'bad.yaml'),
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: bad, namespace: open }\nspec:\n  action: CUSTOM\n',
      );
      try {
        await eventually(
          async () => {
            const res = await fetch(`http://127.0.0.1:${cp!.adminPort}/config`);
            const text = await res.text();
            return text.includes('CUSTOM') ? true : undefined;
          },
          20_000,
          'the rejection to show in /config',
        );
        assert.equal(await call('open', '/x'), 200);
      } finally {
        await rm(join(dir, 'bad.yaml'));
      }
    });
  });

  describe('gRPC: grpcServerCredentials + grpcServerInterceptor({ port })', () => {
    let mesh: Mesh | undefined;
    let server: GrpcServer | undefined;
    let port = 0;

    before(async () => {
      port = await freePort();
      mesh = await createMesh({
        controlPlane: `127.0.0.1:${cp!.xdsPort}`,
        node: { id: 'echo-grpc', locality: { region: 'r', zone: 'z' } },
        workload: { name: 'echo', namespace: 'grpc', serviceAccount: 'echo' },
        env: {},
      });
      const certs = fixedCertificates(issueLeaf(ca, 'grpc', 'echo'));
      server = new GrpcServer({
        interceptors: [mesh.grpcServerInterceptor({ service: 'echo-grpc', port })],
      });
      server.addService(ECHO_SERVICE, {
        Call: (
          _call: unknown,
          cb: (err: null, res: { message: string; backend: string }) => void,
        ) => {
          cb(null, { message: 'hi', backend: 'echo' });
        },
      });
      const creds = await mesh.grpcServerCredentials({ certificates: certs });
      await new Promise<void>((resolve, reject) => {
        server!.bindAsync(`127.0.0.1:${port}`, creds, (err) => (err ? reject(err) : resolve()));
      });
    });

    after(async () => {
      server?.forceShutdown();
      await mesh?.close();
    });

    function echo(leaf: TestLeaf): Promise<number> {
      const client = new EchoClient(
        `127.0.0.1:${port}`,
        credentials.createSsl(
          Buffer.from(ca.certPem),
          Buffer.from(leaf.keyPem),
          Buffer.from(leaf.certPem),
          {
            checkServerIdentity: () => undefined,
          },
        ),
      );
      return new Promise((resolve) => {
        (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
          client,
          { message: 'hi' },
          { deadline: Date.now() + 10_000 },
          (err: ServiceError | null) => {
            client.close();
            resolve(err === null ? GrpcStatus.OK : err.code);
          },
        );
      });
    }

    it('allows the principal the AuthorizationPolicy names', async () => {
      assert.equal(await echo(web), GrpcStatus.OK);
    });

    it('denies another principal with PERMISSION_DENIED', async () => {
      assert.equal(await echo(other), GrpcStatus.PERMISSION_DENIED);
      const stats = mesh!.stats().inboundSecurity;
      assert.ok(stats.rbac.some((d) => d.action === 'ALLOW' && d.result === 'denied'));
    });

    it('refuses a client certificate from another CA (mTLS required)', async () => {
      assert.notEqual(await echo(foreign), GrpcStatus.OK);
    });
  });
});
