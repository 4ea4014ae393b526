// The control plane keeps certificate files for gRPC's file-watcher provider: the files are a
// matching key and chain for the identity, swapped atomically, renewed at half-life, retried after
// a failure, and re-issued when the trust domain changes.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { lstat, readFile, readlink, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CERTIFICATE_FILE_NAMES, CertificateFileWriter } from '../../src/ca/certificate-files.js';
import { MeshCa } from '../../src/ca/mesh-ca.js';
import {
  createCapturingLogger,
  createNowClock,
  makeTempDir,
  removeTempDir,
  type CaTestClock,
} from './ca-fixtures.js';

async function readIdentity(dir: string): Promise<{ leaf: X509Certificate; keyMatches: boolean }> {
  const chain = await readFile(join(dir, CERTIFICATE_FILE_NAMES.chain), 'utf8');
  const key = createPrivateKey(await readFile(join(dir, CERTIFICATE_FILE_NAMES.key)));
  const leaf = new X509Certificate(chain);
  return { leaf, keyMatches: leaf.checkPrivateKey(key) };
}

describe('CertificateFileWriter', () => {
  let tmp: string;
  let time: CaTestClock;
  let ca: MeshCa;
  beforeEach(async () => {
    tmp = await makeTempDir();
    time = createNowClock();
    ca = MeshCa.open({ dir: join(tmp, 'ca'), trustDomain: 'corp.example', clock: time.clock });
  });
  afterEach(async () => {
    await removeTempDir(tmp);
  });

  it('writes a matching key and chain behind an atomically swapped ..data link, and renews at half-life', async () => {
    const dir = join(tmp, 'grpc-certs');
    const { logger, records } = createCapturingLogger();
    const writer = new CertificateFileWriter({
      ca,
      targets: [{ namespace: 'shop', serviceAccount: 'cart', dir, ttlMs: 10 * 60_000 }],
      clock: time.clock,
      logger,
    });
    try {
      assert.deepEqual(writer.refreshAll(), []);
      const first = await readIdentity(dir);
      assert.equal(first.leaf.subjectAltName, 'URI:spiffe://corp.example/ns/shop/sa/cart');
      assert.ok(first.keyMatches);
      assert.equal((await lstat(join(dir, 'key.pem'))).isSymbolicLink(), true);
      assert.equal(await readlink(join(dir, 'key.pem')), join('..data', 'key.pem'));
      const roots = await readFile(join(dir, CERTIFICATE_FILE_NAMES.roots), 'utf8');
      assert.equal(roots, ca.trustBundlePem().join(''));
      assert.equal((await lstat(join(await realDataDir(dir), 'key.pem'))).mode & 0o777, 0o600);

      // Nothing before half-life, a new certificate (and key) right after.
      time.fake.tick(5 * 60_000 - 1000);
      assert.equal((await readIdentity(dir)).leaf.serialNumber, first.leaf.serialNumber);
      time.fake.tick(2000);
      const second = await readIdentity(dir);
      assert.notEqual(second.leaf.serialNumber, first.leaf.serialNumber);
      assert.ok(second.keyMatches);
      const status = writer.status()[0]!;
      assert.equal(status.writes, 2);
      assert.equal(status.serialNumber, second.leaf.serialNumber.toUpperCase());
      assert.ok(records.some((r) => r.message === 'certificate files written'));

      // Old version directories are cleaned up (the current and the previous one stay).
      time.fake.tick(5 * 60_000);
      time.fake.tick(5 * 60_000);
      const versions = (await readdir(dir)).filter((e) => /^\.\.\d+-/.test(e));
      assert.equal(versions.length, 2);
    } finally {
      writer.close();
    }
  });

  it('logs and retries a directory it cannot write, then succeeds once it can', async () => {
    const dir = join(tmp, 'blocked');
    await writeFile(dir, 'a file where the directory should be');
    const { logger, records } = createCapturingLogger();
    const writer = new CertificateFileWriter({
      ca,
      targets: [{ namespace: 'shop', serviceAccount: 'cart', dir }],
      clock: time.clock,
      logger,
    });
    try {
      const problems = writer.refreshAll();
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /spiffe:\/\/corp\.example\/ns\/shop\/sa\/cart in .*blocked/);
      assert.ok(records.some((r) => r.level === 'error' && r.message.includes('retrying')));
      assert.equal(writer.status()[0]!.failures, 1);
      const { rm } = await import('node:fs/promises');
      await rm(dir);
      time.fake.tick(5_000);
      assert.ok((await readIdentity(dir)).keyMatches);
      assert.equal(writer.status()[0]!.lastError, null);
    } finally {
      writer.close();
    }
  });
});

async function realDataDir(dir: string): Promise<string> {
  return join(dir, await readlink(join(dir, '..data')));
}
