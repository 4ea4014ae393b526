// The CA directory: the root (generated on first use), an optional plugged-in intermediate in
// Istio's layout (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem), extra trusted roots for
// rotation, and the join-token key. Loaded and validated once; every problem names its file.
import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  ConfigError,
  createCertificate,
  formatName,
  randomSerial,
  splitCertificates,
  type ConfigIssue,
} from '@weft/xds-client';

/** File names inside a CA directory. */
export const CA_FILES = {
  rootCert: 'root-cert.pem',
  rootKey: 'root-key.pem',
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  certChain: 'cert-chain.pem',
  trustedRoots: 'trusted-roots',
  tokenKey: 'token-key',
} as const;

/** Validity of a generated root: 10 years. */
export const ROOT_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;

/** A loaded, validated CA directory. */
export interface LoadedCaDir {
  readonly dir: string;
  /** Signs workload certificates: the intermediate (ca-cert.pem) if present, else the root. */
  readonly signerCert: X509Certificate;
  readonly signerKey: KeyObject;
  /** Intermediates sent after the leaf (cert-chain.pem, or ca-cert.pem alone); empty when the root signs. */
  readonly intermediates: readonly X509Certificate[];
  /** The active root (root-cert.pem). */
  readonly root: X509Certificate;
  /** Every trusted root, active first: root-cert.pem then trusted-roots/*.pem (unexpired, deduplicated). */
  readonly roots: readonly X509Certificate[];
  /** Trusted-root files skipped because they expired (logged by the caller). */
  readonly expiredRoots: readonly string[];
  /** True when this call generated the root. */
  readonly generated: boolean;
  readonly tokenKey: Buffer;
}

function writeSecret(path: string, data: string | Buffer): void {
  // Write beside, then rename: a reader never sees half a key; mode 0600 from creation.
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function writePublic(path: string, data: string): void {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Generates a self-signed EC P-256 root for `trustDomain` valid from `nowMs`. */
export function generateRoot(
  trustDomain: string,
  nowMs: number,
): { readonly certPem: string; readonly keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomSerial();
  const certPem = createCertificate(
    {
      serial,
      // The serial in the CN keeps two roots of one trust domain apart (rotation overlap).
      subject: {
        organization: trustDomain,
        commonName: `Weft Root CA ${serial.subarray(0, 4).toString('hex')}`,
      },
      subjectPublicKey: publicKey,
      notBefore: new Date(nowMs - 5 * 60_000),
      notAfter: new Date(nowMs + ROOT_VALIDITY_MS),
      isCa: true,
    },
    { privateKey },
  );
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * Fills a missing or empty CA directory in one step: everything is written to a sibling temporary
 * directory that is then renamed over it, so two control planes starting at once on the same
 * directory never mix one's key with the other's certificate (the loser's rename fails and it
 * loads the winner's root). Returns whether this call's root was installed.
 */
function initCaDir(dir: string, trustDomain: string, nowMs: number): boolean {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.init-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp, { mode: 0o700 });
  const root = generateRoot(trustDomain, nowMs);
  writeSecret(join(tmp, CA_FILES.rootKey), root.keyPem);
  writePublic(join(tmp, CA_FILES.rootCert), root.certPem);
  writeSecret(join(tmp, CA_FILES.tokenKey), randomBytes(32).toString('hex') + '\n');
  try {
    renameSync(tmp, dir); // replaces an empty directory atomically; fails if another filled it
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}

function readCerts(dir: string, file: string, issues: ConfigIssue[]): X509Certificate[] {
  const path = join(dir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    issues.push({ path, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
  const pems = splitCertificates(text);
  if (pems.length === 0) {
    issues.push({ path, message: 'no PEM "CERTIFICATE" block' });
    return [];
  }
  const out: X509Certificate[] = [];
  for (const [i, pem] of pems.entries()) {
    try {
      out.push(new X509Certificate(pem));
    } catch (err) {
      issues.push({
        path,
        message: `certificate ${i}: not a valid X.509 certificate (${(err as Error).message})`,
      });
    }
  }
  return out;
}

function readKey(dir: string, file: string, issues: ConfigIssue[]): KeyObject | undefined {
  const path = join(dir, file);
  try {
    return createPrivateKey(readFileSync(path, 'utf8'));
  } catch (err) {
    issues.push({ path, message: `not a readable PEM private key (${(err as Error).message})` });
    return undefined;
  }
}

function checkCa(path: string, cert: X509Certificate, nowMs: number, issues: ConfigIssue[]): void {
  if (!cert.ca)
    issues.push({
      path,
      message: `${formatName(cert.subject)} is not a CA certificate (basicConstraints CA:FALSE)`,
    });
  if (cert.validToDate.getTime() <= nowMs)
    issues.push({ path, message: `expired at ${cert.validToDate.toISOString()}` });
  else if (cert.validFromDate.getTime() > nowMs)
    issues.push({ path, message: `not valid before ${cert.validFromDate.toISOString()}` });
}

/**
 * Loads `dir`, generating a root (and the token key) if it holds none. Throws a ConfigError naming
 * each bad, mismatched or expired file.
 */
export function loadCaDir(dir: string, trustDomain: string, nowMs: number): LoadedCaDir {
  let generated = false;
  const rootCertPath = join(dir, CA_FILES.rootCert);
  const caCertPath = join(dir, CA_FILES.caCert);
  if (!existsSync(dir) || readdirSync(dir).length === 0)
    generated = initCaDir(dir, trustDomain, nowMs);
  const hasIntermediate = existsSync(caCertPath);
  if (!existsSync(rootCertPath)) {
    if (hasIntermediate)
      throw new ConfigError(`CA directory ${dir}`, [
        {
          path: rootCertPath,
          message: `required next to ${CA_FILES.caCert} (the root it chains to)`,
        },
      ]);
    const root = generateRoot(trustDomain, nowMs);
    writeSecret(join(dir, CA_FILES.rootKey), root.keyPem);
    writePublic(rootCertPath, root.certPem);
    generated = true;
  }
  const tokenKeyPath = join(dir, CA_FILES.tokenKey);
  if (!existsSync(tokenKeyPath)) writeSecret(tokenKeyPath, randomBytes(32).toString('hex') + '\n');

  const issues: ConfigIssue[] = [];
  const [root] = readCerts(dir, CA_FILES.rootCert, issues);
  if (root !== undefined) {
    checkCa(rootCertPath, root, nowMs, issues);
    if (!root.checkIssued(root) || !root.verify(root.publicKey))
      issues.push({
        path: rootCertPath,
        message: 'not a self-signed root (issuer ≠ subject or signature does not verify)',
      });
  }
  let signerCert = root;
  let signerKey: KeyObject | undefined;
  let intermediates: X509Certificate[] = [];
  if (hasIntermediate) {
    const [ca] = readCerts(dir, CA_FILES.caCert, issues);
    signerKey = readKey(dir, CA_FILES.caKey, issues);
    if (ca !== undefined) {
      checkCa(caCertPath, ca, nowMs, issues);
      if (signerKey !== undefined && !ca.checkPrivateKey(signerKey))
        issues.push({
          path: join(dir, CA_FILES.caKey),
          message: `does not match the public key of ${CA_FILES.caCert}`,
        });
      const chainPath = join(dir, CA_FILES.certChain);
      const chain = existsSync(chainPath) ? readCerts(dir, CA_FILES.certChain, issues) : [ca];
      // cert-chain.pem may end with the root (Istio's plug-in certs do): the root is sent in the bundle.
      intermediates = chain.filter(
        (c) => root === undefined || c.fingerprint256 !== root.fingerprint256,
      );
      if (intermediates[0]?.fingerprint256 !== ca.fingerprint256)
        issues.push({ path: chainPath, message: `must start with ${CA_FILES.caCert}` });
      for (const [i, cert] of intermediates.entries()) {
        const parent = intermediates[i + 1] ?? root;
        if (parent !== undefined && !(cert.checkIssued(parent) && cert.verify(parent.publicKey)))
          issues.push({
            path: existsSync(chainPath) ? chainPath : caCertPath,
            message: `${formatName(cert.subject)} is not signed by ${formatName(parent.subject)} (${CA_FILES.rootCert})`,
          });
      }
    }
    signerCert = ca;
  } else if (root !== undefined) {
    signerKey = readKey(dir, CA_FILES.rootKey, issues);
    if (signerKey !== undefined && !root.checkPrivateKey(signerKey))
      issues.push({
        path: join(dir, CA_FILES.rootKey),
        message: `does not match the public key of ${CA_FILES.rootCert}`,
      });
  }
  let tokenKey = Buffer.alloc(0);
  const tokenHex = readFileSync(tokenKeyPath, 'utf8').trim();
  if (!/^[0-9a-f]{64,}$/i.test(tokenHex))
    issues.push({ path: tokenKeyPath, message: 'expected at least 32 bytes as hex' });
  else tokenKey = Buffer.from(tokenHex, 'hex');

  const roots: X509Certificate[] = root === undefined ? [] : [root];
  const expiredRoots: string[] = [];
  const trustedDir = join(dir, CA_FILES.trustedRoots);
  if (existsSync(trustedDir)) {
    for (const file of readdirSync(trustedDir)
      .filter((f) => f.endsWith('.pem'))
      .sort()) {
      for (const cert of readCerts(trustedDir, file, issues)) {
        const path = join(trustedDir, file);
        if (cert.validToDate.getTime() <= nowMs) {
          expiredRoots.push(path);
          continue;
        }
        if (!cert.ca) issues.push({ path, message: 'not a CA certificate' });
        else if (!roots.some((r) => r.fingerprint256 === cert.fingerprint256)) roots.push(cert);
      }
    }
  }
  if (
    issues.length > 0 ||
    root === undefined ||
    signerCert === undefined ||
    signerKey === undefined
  )
    throw new ConfigError(`CA directory ${dir}`, issues);
  return Object.freeze({
    dir,
    signerCert,
    signerKey,
    intermediates,
    root,
    roots,
    expiredRoots,
    generated,
    tokenKey,
  });
}

/**
 * Root rotation, step 1: moves the active root into trusted-roots/ (still trusted) and generates a
 * new active root. Running control planes pick it up on restart. Refuses a directory with a
 * plugged-in intermediate (its new root comes from the operator's own PKI).
 */
export function rotateCaRoot(
  dir: string,
  trustDomain: string,
  nowMs: number,
): {
  readonly previous: X509Certificate;
  readonly current: X509Certificate;
  readonly keptAs: string;
} {
  const loaded = loadCaDir(dir, trustDomain, nowMs);
  if (loaded.intermediates.length > 0)
    throw new ConfigError(`CA directory ${dir}`, [
      {
        path: join(dir, CA_FILES.caCert),
        message:
          'rotate-root works on a Weft-generated root only; plug in the new intermediate and add the new root under trusted-roots/',
      },
    ]);
  const previous = loaded.root;
  const trustedDir = join(dir, CA_FILES.trustedRoots);
  mkdirSync(trustedDir, { recursive: true, mode: 0o700 });
  const keptAs = join(trustedDir, `root-${previous.serialNumber.slice(0, 16).toLowerCase()}.pem`);
  writePublic(keptAs, previous.toString());
  const next = generateRoot(trustDomain, nowMs);
  // The old key is kept beside (never needed again to verify, but an operator may want it back).
  writeSecret(`${join(dir, CA_FILES.rootKey)}.previous`, readFileSync(join(dir, CA_FILES.rootKey)));
  writeSecret(join(dir, CA_FILES.rootKey), next.keyPem);
  writePublic(join(dir, CA_FILES.rootCert), next.certPem);
  return { previous, current: new X509Certificate(next.certPem), keptAs };
}
