// `weft cert` as a user runs it: real processes on a temp CA directory (material generated at
// run time), and a token from the CLI accepted by a control plane sharing that directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { CA_SERVICE_NAME, createWorkloadCsr, MeshCa } from '@weft/control-plane';
import { loadXdsProtos } from '@weft/xds-client';

const WEFT = fileURLToPath(new URL('../src/bin/weft.js', import.meta.url));
const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../../examples/config', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function weft(args: readonly string[], stdin?: string): Promise<Run> {
  const child = spawn(process.execPath, [WEFT, ...args], { env: process.env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** `weft cert issue` for spiffe://…/ns/x/sa/y into `out` from the CA in `caDir`; its exit code. */
async function issueXy(out: string, caDir: string): Promise<number | null> {
  return (await weft(['cert', 'issue', '--ns', 'x', '--sa', 'y', '--out', out, '--ca-dir', caDir]))
    .code;
}

describe('weft cert (CLI)', function () {
  this.timeout(30_000);
  let dir: string;
  let caDir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cert-'));
    caDir = join(dir, 'ca');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists cert in the help and prints its own help', async () => {
    const help = await weft(['--help']);
    assert.match(help.stdout, /cert {2,}mesh CA/);
    const own = await weft(['cert', '--help']);
    assert.equal(own.code, 0);
    for (const sub of ['token', 'issue', 'inspect', 'rotate-root'])
      assert.match(own.stdout, new RegExp(`^  ${sub}`, 'm'));
  });

  it('token: prints a join token the CA sharing the directory honours for that identity only', async () => {
    const run = await weft([
      'cert',
      'token',
      '--ns',
      'shop',
      '--sa',
      'cart',
      '--ttl',
      '10m',
      '--ca-dir',
      caDir,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const token = run.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.match(run.stderr, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    const ca = MeshCa.open({ dir: caDir });
    const own = ca.issue({
      csrPem: createWorkloadCsr('spiffe://cluster.local/ns/shop/sa/cart').csrPem,
      token,
    });
    assert.ok(own.ok);
    const other = ca.issue({
      csrPem: createWorkloadCsr('spiffe://cluster.local/ns/shop/sa/admin').csrPem,
      token,
    });
    assert.equal(other.ok ? 'ok' : other.reason, 'identity-mismatch');
  });

  it('token: exits 2 naming a missing flag or a bad TTL', async () => {
    const missing = await weft(['cert', 'token', '--ns', 'shop', '--ca-dir', caDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--sa is required/);
    const ttl = await weft([
      'cert',
      'token',
      '--ns',
      'shop',
      '--sa',
      'cart',
      '--ttl',
      'soon',
      '--ca-dir',
      caDir,
    ]);
    assert.equal(ttl.code, 2);
    assert.match(ttl.stderr, /--ttl/);
  });

  it('issue --out writes key.pem (0600), cert-chain.pem and root-cert.pem; inspect shows and verifies them', async () => {
    const out = join(dir, 'certs');
    const issue = await weft([
      'cert',
      'issue',
      '--ns',
      'shop',
      '--sa',
      'cart',
      '--ttl',
      '30m',
      '--trust-domain',
      'corp.example',
      '--out',
      out,
      '--ca-dir',
      caDir,
    ]);
    assert.equal(issue.code, 0, issue.stderr);
    assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
    const leaf = new X509Certificate(await readFile(join(out, 'cert-chain.pem')));
    assert.equal(leaf.subjectAltName, 'URI:spiffe://corp.example/ns/shop/sa/cart');
    assert.ok(
      leaf.checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(await readFile(join(out, 'key.pem'))),
      ),
    );

    const inspect = await weft([
      'cert',
      'inspect',
      join(out, 'cert-chain.pem'),
      '--bundle',
      join(out, 'root-cert.pem'),
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /SAN: +spiffe:\/\/corp\.example\/ns\/shop\/sa\/cart/);
    assert.match(inspect.stdout, /issuer: +O=corp\.example, CN=Weft Root CA/);
    assert.match(inspect.stdout, /expires in (29m|30m)/);
    assert.match(inspect.stdout, /^verified against/m);

    // From standard input, as JSON.
    const json = await weft(
      ['cert', 'inspect', '-', '-o', 'json'],
      await readFile(join(out, 'cert-chain.pem'), 'utf8'),
    );
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { chain: { uris: string[] }[] };
    assert.deepEqual(parsed.chain[0]!.uris, ['spiffe://corp.example/ns/shop/sa/cart']);
  });

  it('inspect exits 1 when the chain does not verify against the bundle', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    assert.equal(await issueXy(a, join(dir, 'ca-a')), 0);
    assert.equal(await issueXy(b, join(dir, 'ca-b')), 0);
    const run = await weft([
      'cert',
      'inspect',
      join(a, 'cert-chain.pem'),
      '--bundle',
      join(b, 'root-cert.pem'),
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /NOT verified[\s\S]*no bundle root signed it/);
  });

  it('rotate-root: certificates from the old and the new root both verify against the new bundle', async () => {
    const before = join(dir, 'before');
    assert.equal(await issueXy(before, caDir), 0);
    const rotate = await weft(['cert', 'rotate-root', '--ca-dir', caDir]);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /kept trusted as .*trusted-roots/);
    const after = join(dir, 'after');
    assert.equal(await issueXy(after, caDir), 0);
    const bundle = join(after, 'root-cert.pem');
    assert.equal((await readFile(bundle, 'utf8')).match(/BEGIN CERTIFICATE/g)?.length, 2);
    for (const chain of [join(before, 'cert-chain.pem'), join(after, 'cert-chain.pem')]) {
      const run = await weft(['cert', 'inspect', chain, '--bundle', bundle]);
      assert.equal(run.code, 0, `${chain}: ${run.stdout}`);
    }
  });

  it('names the bad CA file when the directory is unusable', async () => {
    assert.equal(
      (await weft(['cert', 'token', '--ns', 'a', '--sa', 'b', '--ca-dir', caDir])).code,
      0,
    );
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(caDir, 'root-cert.pem'), 'garbage');
    const run = await weft(['cert', 'token', '--ns', 'a', '--sa', 'b', '--ca-dir', caDir]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /root-cert\.pem: no PEM "CERTIFICATE" block/);
  });

  it('control-plane --ca-dir serves certificates for tokens from weft cert token on the xDS port; inspect --workload shows the issued chain', async () => {
    const child = spawn(
      process.execPath,
      [
        WEFT,
        'control-plane',
        '--config',
        EXAMPLE_CONFIG,
        '--xds-port',
        '0',
        '--admin-port',
        '0',
        '--ca-dir',
        caDir,
      ],
      { stdio: 'pipe' },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      const { xdsPort, adminPort } = JSON.parse(line) as { xdsPort: number; adminPort: number };
      const token = (
        await weft(['cert', 'token', '--ns', 'shop', '--sa', 'cart', '--ca-dir', caDir])
      ).stdout.trim();
      // examples/config's MeshConfig sets trustDomain example.org.
      const spiffeId = 'spiffe://example.org/ns/shop/sa/cart';
      const Ca = loadXdsProtos().serviceClient(CA_SERVICE_NAME);
      const client = new Ca(`127.0.0.1:${xdsPort}`, credentials.createInsecure());
      const call = client['CreateCertificate'] as (
        req: object,
        cb: (err: ServiceError | null, res?: { cert_chain_pem: string[] }) => void,
      ) => void;
      const response = await new Promise<{ cert_chain_pem: string[] }>((resolve, reject) => {
        call.call(client, { csr_pem: createWorkloadCsr(spiffeId).csrPem, token }, (err, res) => {
          if (err !== null) reject(err);
          else resolve(res!);
        });
      });
      client.close();
      assert.equal(
        new X509Certificate(response.cert_chain_pem[0]!).subjectAltName,
        `URI:${spiffeId}`,
      );

      const admin = `http://127.0.0.1:${adminPort}`;
      const inspect = await weft(['cert', 'inspect', '--workload', 'shop/cart', '--admin', admin]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.match(
        inspect.stdout,
        /spiffe:\/\/example\.org\/ns\/shop\/sa\/cart: latest of 1 certificate/,
      );
      assert.match(inspect.stdout, /SAN: +spiffe:\/\/example\.org\/ns\/shop\/sa\/cart/);
      assert.match(inspect.stdout, /serial: +[0-9A-F]+/);
      assert.match(inspect.stdout, /expires in \d/);
      const json = await weft([
        'cert',
        'inspect',
        '--workload',
        spiffeId,
        '--admin',
        admin,
        '-o',
        'json',
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { chain: { uris: string[] }[] }).chain[0]!.uris,
        [spiffeId],
      );
      const none = await weft(['cert', 'inspect', '--workload', 'shop/nobody', '--admin', admin]);
      assert.equal(none.code, 1);
      assert.match(
        none.stderr,
        /no certificate for "spiffe:\/\/example\.org\/ns\/shop\/sa\/nobody"/,
      );
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('control-plane exits 1 naming the bad file of an unusable CA directory', async () => {
    assert.equal(
      (await weft(['cert', 'token', '--ns', 'a', '--sa', 'b', '--ca-dir', caDir])).code,
      0,
    );
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(caDir, 'token-key'), 'short');
    const run = await weft([
      'control-plane',
      '--config',
      EXAMPLE_CONFIG,
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      '--ca-dir',
      caDir,
    ]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /mesh CA directory is not valid[\s\S]*token-key: expected at least 32 bytes/,
    );
  });

  it('control-plane refuses --ca-dir together with --no-ca', async () => {
    const run = await weft([
      'control-plane',
      '--config',
      EXAMPLE_CONFIG,
      '--no-ca',
      '--ca-dir',
      caDir,
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--ca-dir and --no-ca/);
  });
});
