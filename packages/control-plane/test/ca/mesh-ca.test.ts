// MeshCa over real temp directories: a generated root persists and reloads, a plugged-in root +
// intermediate signs chains that verify (Node X509Certificate and a real mutual-TLS handshake),
// SPIFFE SAN / TTL / key usage, join-token refusals, bad CA files, and root rotation overlap.
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  createCertificate,
  createWorkloadCsr,
  randomSerial,
  toPem,
} from '@weft/xds-client';
import { CA_FILES, rotateCaRoot } from '../../src/ca/ca-dir.js';
import { inspectCertificates } from '../../src/ca/inspect-certificates.js';
import {
  MeshCa,
  NOT_BEFORE_BACKDATE_MS,
  type CertificateResult,
  type IssuedCertificate,
} from '../../src/ca/mesh-ca.js';
import {
  createCapturingLogger,
  createNowClock,
  makeTempDir,
  mutualTls,
  removeTempDir,
  type CaTestClock,
} from './ca-fixtures.js';

const TD = 'example.org';
const CART = `spiffe://${TD}/ns/shop/sa/cart`;
const HOUR = 3_600_000;

function issued(result: CertificateResult): IssuedCertificate {
  if (!result.ok) assert.fail(`expected a certificate, got ${result.reason}: ${result.message}`);
  return result;
}

/** Asks `ca` for a certificate for shop/cart with a fresh key; returns it with the key. */
function issueCart(ca: MeshCa, ttlMs?: number): IssuedCertificate & { keyPem: string } {
  const { token } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
  const { privateKeyPem, csrPem } = createWorkloadCsr(CART);
  return {
    ...issued(ca.issue({ csrPem, token, ...(ttlMs === undefined ? {} : { ttlMs }) })),
    keyPem: privateKeyPem,
  };
}

/** An operator's own PKI: an RSA root and an EC intermediate, as Istio plug-in CA files. */
function writePluggedInCa(dir: string, nowMs: number): { root: X509Certificate } {
  const rootKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rootPem = createCertificate(
    {
      serial: randomSerial(),
      subject: { organization: 'Operator', commonName: 'Operator Root' },
      subjectPublicKey: rootKeys.publicKey,
      notBefore: new Date(nowMs - HOUR),
      notAfter: new Date(nowMs + 1000 * HOUR),
      isCa: true,
    },
    { privateKey: rootKeys.privateKey },
  );
  const root = new X509Certificate(rootPem);
  const interKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const interPem = createCertificate(
    {
      serial: randomSerial(),
      subject: { organization: 'Operator', commonName: 'Cluster East Intermediate' },
      subjectPublicKey: interKeys.publicKey,
      notBefore: new Date(nowMs - HOUR),
      notAfter: new Date(nowMs + 500 * HOUR),
      isCa: true,
    },
    { certificate: root, privateKey: rootKeys.privateKey },
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CA_FILES.rootCert), rootPem);
  writeFileSync(join(dir, CA_FILES.caCert), interPem);
  writeFileSync(join(dir, CA_FILES.caKey), pkcs8(interKeys.privateKey), { mode: 0o600 });
  writeFileSync(join(dir, CA_FILES.certChain), interPem + rootPem);
  return { root };
}

function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('MeshCa', () => {
  let dir: string;
  let time: CaTestClock;
  beforeEach(async () => {
    dir = await makeTempDir();
    time = createNowClock();
  });
  afterEach(async () => {
    await removeTempDir(dir);
  });

  const open = (caDir = join(dir, 'ca'), logger = createCapturingLogger().logger): MeshCa =>
    MeshCa.open({ dir: caDir, trustDomain: TD, clock: time.clock, logger });

  describe('root', () => {
    it('generates an EC P-256 root on first start, keeps keys 0600, and reloads the same root', () => {
      const first = open();
      const root = first.roots[0]!;
      assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(root.ca);
      for (const file of [CA_FILES.rootKey, CA_FILES.tokenKey])
        assert.equal(statSync(join(dir, 'ca', file)).mode & 0o777, 0o600, file);
      const second = open();
      assert.equal(second.roots[0]!.fingerprint256, root.fingerprint256);
      // The token key persisted too: a token from the first instance is honoured by the second.
      const { token } = first.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
      const { csrPem } = createWorkloadCsr(CART);
      const cert = issued(second.issue({ csrPem, token }));
      assert.ok(new X509Certificate(cert.certChainPem[0]!).verify(root.publicKey));
    });

    it('signs with a plugged-in intermediate: chain = leaf + intermediate, verified by the root alone over mTLS', async () => {
      const caDir = join(dir, 'plugged');
      const { root } = writePluggedInCa(caDir, time.fake.now);
      const ca = open(caDir);
      assert.deepEqual(
        ca.trustBundlePem(),
        [root.toString()],
        'the bundle is the root, not the intermediate',
      );
      const server = issueCart(ca);
      assert.equal(server.certChainPem.length, 2);
      const [leaf, inter] = server.certChainPem.map((p) => new X509Certificate(p));
      assert.ok(leaf!.checkIssued(inter!) && leaf!.verify(inter!.publicKey));
      assert.ok(inter!.verify(root.publicKey));
      const client = issueCart(ca);
      const tls = await mutualTls(
        { keyPem: server.keyPem, chainPem: server.certChainPem, trustPem: server.trustBundlePem },
        { keyPem: client.keyPem, chainPem: client.certChainPem, trustPem: client.trustBundlePem },
      );
      assert.equal(tls.clientError, null);
      assert.ok(tls.clientAuthorized && tls.serverAuthorized);
      assert.equal(tls.serverSawSan, `URI:${CART}`);
    });

    for (const [name, corrupt, file, pattern] of [
      [
        'a root that is not PEM',
        (d: string) => writeFileSync(join(d, CA_FILES.rootCert), 'hello'),
        CA_FILES.rootCert,
        /no PEM/,
      ],
      [
        'a root key that does not match the root',
        (d: string) =>
          writeFileSync(
            join(d, CA_FILES.rootKey),
            pkcs8(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
          ),
        CA_FILES.rootKey,
        /does not match/,
      ],
      [
        'an intermediate key that does not match',
        (d: string) =>
          writeFileSync(
            join(d, CA_FILES.caKey),
            pkcs8(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
          ),
        CA_FILES.caKey,
        /does not match/,
      ],
    ] as const) {
      it(`refuses ${name}, naming the file`, () => {
        const caDir = join(dir, 'bad');
        if (file === CA_FILES.caKey) writePluggedInCa(caDir, time.fake.now);
        else open(caDir);
        corrupt(caDir);
        assert.throws(
          () => open(caDir),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.code === 'WEFT_INVALID_CONFIG' &&
            err.issues.some((i) => i.path === join(caDir, file) && pattern.test(i.message)),
        );
      });
    }

    it('refuses an expired root, naming the file and the expiry', () => {
      const caDir = join(dir, 'old');
      open(caDir);
      time.fake.tick(11 * 365 * 24 * HOUR);
      assert.throws(
        () => open(caDir),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some(
            (i) => i.path === join(caDir, CA_FILES.rootCert) && /expired at/.test(i.message),
          ),
      );
    });
  });

  describe('issue', () => {
    it('issues the SPIFFE URI SAN, the TTL, backdated NotBefore, key usage and EKU', () => {
      const ca = open();
      const now = time.fake.now;
      const cert = issueCart(ca, 10 * 60_000);
      const leaf = new X509Certificate(cert.certChainPem[0]!);
      assert.equal(leaf.subjectAltName, `URI:${CART}`);
      assert.equal(leaf.ca, false);
      assert.deepEqual([...leaf.keyUsage].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      // Certificate times have second resolution.
      assert.ok(Math.abs(leaf.validToDate.getTime() - (now + 10 * 60_000)) < 1000);
      assert.ok(Math.abs(leaf.validFromDate.getTime() - (now - NOT_BEFORE_BACKDATE_MS)) < 1000);
      assert.equal(cert.certChainPem.length, 1, 'the root signs: no intermediates');
      const inspection = inspectCertificates(
        cert.certChainPem.join(''),
        now,
        cert.trustBundlePem.join(''),
      );
      assert.deepEqual(inspection.verification, { ok: true, problems: [] });
      assert.deepEqual(inspection.chain[0]!.uris, [CART]);
    });

    it('uses the mesh default TTL (MeshConfig certificateTtl) when the request gives none', () => {
      const ca = open();
      ca.setMeshDefaults({ trustDomain: TD, certificateTtlMs: 2 * HOUR });
      const leaf = new X509Certificate(issueCart(ca).certChainPem[0]!);
      assert.ok(Math.abs(leaf.validToDate.getTime() - (time.fake.now + 2 * HOUR)) < 1000);
    });

    it('refuses a TTL under one minute', () => {
      const ca = open();
      const { token } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
      const result = ca.issue({ csrPem: createWorkloadCsr(CART).csrPem, token, ttlMs: 30_000 });
      assert.equal(result.ok ? 'ok' : result.reason, 'invalid-ttl');
    });

    it('refuses a CSR for another identity than the token’s, with a warn log naming the token id and both identities', () => {
      const capture = createCapturingLogger();
      const ca = open(undefined, capture.logger);
      const { token, claims } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
      const admin = `spiffe://${TD}/ns/shop/sa/admin`;
      const result = ca.issue({ csrPem: createWorkloadCsr(admin).csrPem, token });
      assert.equal(result.ok ? 'ok' : result.reason, 'identity-mismatch');
      const warn = capture.records.find((r) => r.level === 'warn');
      assert.deepEqual(warn?.fields, {
        tokenId: claims.id,
        tokenIdentity: CART,
        requestedIdentities: [admin],
      });
      assert.equal(ca.document().refused['identity-mismatch'], 1);
      assert.equal(ca.issuedCount, 0);
    });

    it('refuses an expired token, a forged one, one from another CA and a malformed one', () => {
      const ca = open();
      const other = open(join(dir, 'other-ca'));
      const csrPem = createWorkloadCsr(CART).csrPem;
      const { token } = ca.createJoinToken({
        namespace: 'shop',
        serviceAccount: 'cart',
        ttlMs: 60_000,
      });
      const [h, p, s] = token.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const elevated = Buffer.from(JSON.stringify({ ...payload, sa: 'admin' })).toString(
        'base64url',
      );
      const foreign = other.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' }).token;
      const reasons = (t: string): string => {
        const r = ca.issue({ csrPem, token: t });
        return r.ok ? 'ok' : r.reason;
      };
      assert.equal(reasons(`${h}.${elevated}.${s}`), 'forged-token');
      assert.equal(reasons(foreign), 'forged-token');
      assert.equal(reasons('not-a-token'), 'malformed-token');
      assert.equal(reasons(token), 'ok');
      time.fake.tick(61_000);
      assert.equal(reasons(token), 'expired-token');
    });

    it('refuses a CSR whose signature does not verify (no proof of possession)', () => {
      const ca = open();
      const { token } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
      const good = createWorkloadCsr(CART).csrPem;
      const body = Buffer.from(good.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
      body.writeUInt8(body.readUInt8(body.length - 3) ^ 0xff, body.length - 3);
      const result = ca.issue({ csrPem: toPem('CERTIFICATE REQUEST', body), token });
      assert.equal(result.ok ? 'ok' : result.reason, 'invalid-csr');
    });
  });

  describe('expiry', () => {
    it('refuses to sign (ca-expired) once the signing CA expires within a minute, never issuing a dead certificate', () => {
      const ca = open();
      const { token } = ca.createJoinToken({
        namespace: 'shop',
        serviceAccount: 'cart',
        ttlMs: 20 * 365 * 24 * HOUR,
      });
      time.fake.tick(10 * 365 * 24 * HOUR);
      const result = ca.issue({ csrPem: createWorkloadCsr(CART).csrPem, token });
      assert.equal(result.ok ? 'ok' : result.reason, 'ca-expired');
    });
  });

  describe('root rotation', () => {
    it('keeps the old root in the bundle: certificates from both roots verify during the overlap', async () => {
      const caDir = join(dir, 'ca');
      const before = open(caDir);
      const oldCert = issueCart(before);
      const rotated = rotateCaRoot(caDir, TD, time.fake.now);
      assert.equal(rotated.previous.fingerprint256, before.roots[0]!.fingerprint256);
      const after = open(caDir);
      assert.equal(after.roots.length, 2);
      assert.equal(
        after.roots[0]!.fingerprint256,
        rotated.current.fingerprint256,
        'the new root signs',
      );
      const newCert = issueCart(after);
      const bundle = after.trustBundlePem().join('');
      for (const cert of [oldCert, newCert])
        assert.deepEqual(
          inspectCertificates(cert.certChainPem.join(''), time.fake.now, bundle).verification,
          { ok: true, problems: [] },
        );
      assert.ok(!new X509Certificate(newCert.certChainPem[0]!).verify(rotated.previous.publicKey));
      // A workload still holding the old certificate talks mTLS to one with the new.
      const tls = await mutualTls(
        {
          keyPem: oldCert.keyPem,
          chainPem: oldCert.certChainPem,
          trustPem: after.trustBundlePem(),
        },
        {
          keyPem: newCert.keyPem,
          chainPem: newCert.certChainPem,
          trustPem: after.trustBundlePem(),
        },
      );
      assert.equal(tls.clientError, null);
      assert.ok(tls.clientAuthorized && tls.serverAuthorized);
      // Retiring the old root: delete its file; certificates it signed no longer verify.
      rmSync(rotated.keptAs);
      const retired = open(caDir);
      assert.equal(retired.roots.length, 1);
      assert.equal(
        inspectCertificates(
          oldCert.certChainPem.join(''),
          time.fake.now,
          retired.trustBundlePem().join(''),
        ).verification?.ok,
        false,
      );
    });
  });
});
