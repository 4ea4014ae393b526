// The `weft` command as a user runs it: a real process, its exit code and its output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { startControlPlane, type ControlPlane } from '@weft/control-plane';
import { CLUSTER_TYPE_URL, loadXdsProtos, parseBootstrap } from '@weft/xds-client';

const WEFT = fileURLToPath(new URL('../src/bin/weft.js', import.meta.url));
const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../../examples/config', import.meta.url));

/** A raw bidi ADS stream, as proto-loader objects. */
interface RawStream extends NodeJS.EventEmitter {
  write(message: object): boolean;
  cancel(): void;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI_CA_DIR = join(tmpdir(), `weft-cli-ca-${process.pid}`);
after(() => rm(CLI_CA_DIR, { recursive: true, force: true }));

async function weft(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, [WEFT, ...args], {
    // A control plane's mesh CA goes to a directory of its own, never ~/.weft/ca.
    env: { ...process.env, WEFT_CA_DIR: CLI_CA_DIR, ...env },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('weft (CLI)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('help and unknown input', () => {
    it('prints the command list with --help and exits 0', async () => {
      const run = await weft(['--help']);
      assert.equal(run.code, 0);
      for (const command of ['control-plane', 'validate', 'status', 'config-dump', 'bootstrap'])
        assert.match(run.stdout, new RegExp(command));
    });

    it('prints each command’s own help with --help', async () => {
      for (const command of ['control-plane', 'validate', 'status', 'config-dump', 'bootstrap']) {
        const run = await weft([command, '--help']);
        assert.equal(run.code, 0, command);
        assert.match(run.stdout, new RegExp(`Usage: weft ${command}`));
      }
    });

    it('exits 2 for an unknown command or flag, naming it', async () => {
      const unknown = await weft(['frobnicate']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /frobnicate/);
      const flag = await weft(['validate', '--nope', dir]);
      assert.equal(flag.code, 2);
      assert.match(flag.stderr, /--nope/);
    });

    it('says a later command is not in this release instead of pretending', async () => {
      const run = await weft(['sidecar', '--service', 'x']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /not in this release/);
    });
  });

  describe('validate', () => {
    it('accepts the example mesh in examples/config', async () => {
      const run = await weft(['validate', EXAMPLE_CONFIG]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /4 file\(s\) valid/);
    });

    it('prints every problem as file:line: resource: field: message and exits 1', async () => {
      await writeFile(
        join(dir, 'bad.yaml'),
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inv }
spec:
  host: inv
  trafficPolicy:
    loadBalancer: { simple: FASTEST }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inv }
spec:
  hosts: [inv]
  tcp: []
`,
      );
      const run = await weft(['validate', dir]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split('\n');
      assert.ok(
        lines.some((l) =>
          /^bad\.yaml:7: DestinationRule\/default\/inv: spec\.trafficPolicy\.loadBalancer\.simple: /.test(
            l,
          ),
        ),
        run.stderr,
      );
      assert.ok(
        lines.some((l) => /^bad\.yaml:14: VirtualService\/default\/inv: spec\.tcp: /.test(l)),
        run.stderr,
      );
    });
  });

  describe('bootstrap', () => {
    it('writes a bootstrap that both Weft and gRPC read, with fallback servers in order', async () => {
      const out = join(dir, 'bootstrap.json');
      const run = await weft([
        'bootstrap',
        '--xds-server',
        '127.0.0.1:15010',
        '--xds-server',
        '127.0.0.1:15011',
        '--node-id',
        'checkout-1',
        '--region',
        'us-east-1',
        '--delta',
        '--out',
        out,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const { readFile } = await import('node:fs/promises');
      const raw = JSON.parse(await readFile(out, 'utf8')) as {
        node: { id: string; locality: object };
      };
      assert.equal(raw.node.id, 'checkout-1');
      assert.ok('locality' in raw.node, 'grpc-js needs node.locality');
      const parsed = parseBootstrap(raw, out);
      assert.deepEqual(
        parsed.xdsServers.map((s) => s.serverUri),
        ['127.0.0.1:15010', '127.0.0.1:15011'],
      );
      assert.ok(parsed.xdsServers[0]!.serverFeatures.includes('weft_delta'));
      assert.equal(parsed.node.locality.region, 'us-east-1');
    });

    it('--cert-dir adds a file_watcher certificate provider "default" and the metadata that asks for mTLS clusters', async () => {
      const run = await weft([
        'bootstrap',
        '--xds-server',
        '127.0.0.1:15010',
        '--node-id',
        'grpc-1',
        '--namespace',
        'shop',
        '--service-account',
        'cart',
        '--cert-dir',
        join(dir, 'certs'),
      ]);
      assert.equal(run.code, 0, run.stderr);
      const raw = JSON.parse(run.stdout) as {
        node: { metadata: Record<string, string> };
        certificate_providers: Record<
          string,
          { plugin_name: string; config: Record<string, string> }
        >;
      };
      assert.deepEqual(raw.node.metadata, {
        NAMESPACE: 'shop',
        SERVICE_ACCOUNT: 'cart',
        WEFT_CERTIFICATE_PROVIDER: 'default',
      });
      const provider = raw.certificate_providers['default']!;
      assert.equal(provider.plugin_name, 'file_watcher');
      assert.equal(provider.config['private_key_file'], join(dir, 'certs', 'key.pem'));
      assert.equal(provider.config['certificate_file'], join(dir, 'certs', 'cert-chain.pem'));
      assert.equal(provider.config['ca_certificate_file'], join(dir, 'certs', 'root-cert.pem'));
      assert.equal(Object.keys(parseBootstrap(raw, 'stdout').certificateProviders).length, 1);
    });
  });

  describe('control-plane', () => {
    it('exits 1 listing every issue when the config is invalid at start', async () => {
      await writeFile(
        join(dir, 'bad.yaml'),
        'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: gw }\nspec: {}\n',
      );
      const run = await weft([
        'control-plane',
        '--config',
        dir,
        '--xds-port',
        '0',
        '--admin-port',
        '0',
      ]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /bad\.yaml:2: .*kind/);
    });

    it('refuses --etcd explicitly (not in this release)', async () => {
      const run = await weft(['control-plane', '--etcd', 'http://127.0.0.1:2379']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /--etcd/);
    });
  });

  describe('status', () => {
    let cp: ControlPlane;
    afterEach(async () => {
      await cp.close();
    });

    it('shows a client that NACKed as NACKED with its error, and the JSON view', async () => {
      cp = await startControlPlane({ configDir: EXAMPLE_CONFIG, xdsPort: 0, adminPort: 0 });
      // A raw ADS stream that asks for clusters and NACKs what it gets.
      const protos = loadXdsProtos();
      const Ads = protos.serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService');
      const ads = new Ads(`127.0.0.1:${cp.xdsPort}`, credentials.createInsecure());
      const call = (
        ads as unknown as { StreamAggregatedResources(): RawStream }
      ).StreamAggregatedResources();
      call.on('error', () => undefined);
      call.write({
        node: {
          id: 'picky-1',
          user_agent_name: 'weft-xds-client',
          locality: { region: 'us-east-1' },
        },
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
      const admin = `http://127.0.0.1:${cp.adminPort}`;
      // Wait (bounded) until the control plane has recorded the NACK, then ask the CLI.
      for (
        let i = 0;
        i < 100 &&
        !JSON.stringify(await (await fetch(`${admin}/clients`)).json()).includes('not for me');
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const run = await weft(['status', '--admin', admin]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^NODE\s+KIND\s+LOCALITY\s+CDS/m);
      assert.match(run.stdout, /^picky-1\s+weft\s+us-east-1\s+NACKED/m);
      assert.match(
        run.stdout,
        /picky-1 NACKED cds version \S+: resource index 0 \(x\): lb_policy: not for me/,
      );

      const json = await weft(['status', '--admin', admin, '-o', 'json']);
      const body = JSON.parse(json.stdout) as {
        clients: {
          nodeId: string;
          types: Record<string, { lastNack: { message: string } | null }>;
        }[];
      };
      assert.match(
        body.clients.find((c) => c.nodeId === 'picky-1')!.types['cds']!.lastNack!.message,
        /not for me/,
      );
      call.cancel();
      ads.close();
    });

    it('exits 1 with a clear message when the admin API cannot be reached', async () => {
      cp = await startControlPlane({ configDir: EXAMPLE_CONFIG, xdsPort: 0, adminPort: 0 });
      const run = await weft(['status', '--admin', 'http://127.0.0.1:1']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /cannot read http:\/\/127\.0\.0\.1:1\/clients/);
    });
  });

  describe('config-dump', () => {
    it('exits 2 without exactly one NODE_ID, and for an unknown -o', async () => {
      const none = await weft(['config-dump']);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /expected exactly one NODE_ID/);
      const bad = await weft(['config-dump', 'a', '-o', 'yaml', '--admin', 'http://127.0.0.1:1']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /-o: expected table or json, got "yaml"/);
    });

    it('exits 1 naming the URL when the admin API cannot be reached', async () => {
      const run = await weft(['config-dump', 'checkout-1', '--admin', 'http://127.0.0.1:1']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /cannot read http:\/\/127\.0\.0\.1:1\/config_dump\?node=checkout-1/);
    });

    it('exits 1 saying no clients are connected for an unknown node id', async () => {
      const cp = await startControlPlane({ configDir: EXAMPLE_CONFIG, xdsPort: 0, adminPort: 0 });
      try {
        const run = await weft([
          'config-dump',
          'ghost',
          '--admin',
          `http://127.0.0.1:${cp.adminPort}`,
        ]);
        assert.equal(run.code, 1);
        assert.match(
          run.stderr,
          /no client with node id "ghost" is connected .*; no clients are connected/,
        );
      } finally {
        await cp.close();
      }
    });
  });
});
