// Run-time PKI for the inbound security tests (nothing committed): EC P-256 CAs and SPIFFE leaf
// certificates built with node:crypto keys and @weft/xds-client's X.509 writer, with chosen
// validity windows (expired, not yet valid), and a fixed WorkloadCertificates for mesh.serve.
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { createCertificate, randomSerial } from '@weft/xds-client';
import { createWorkloadTlsMaterial, type WorkloadCertificates } from '@weft/sdk';
import { createSecureContext } from 'node:tls';

const HOUR = 3_600_000;

export interface TestCa {
  readonly certPem: string;
  readonly certificate: X509Certificate;
  readonly key: KeyObject;
}

export interface TestLeaf {
  readonly certPem: string;
  readonly keyPem: string;
  readonly spiffeId: string;
  readonly ca: TestCa;
}

/** A self-signed CA valid from an hour ago for a year. */
export function createTestCa(organization: string): TestCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const certPem = createCertificate(
    {
      serial: randomSerial(),
      subject: { organization, commonName: `${organization} root` },
      subjectPublicKey: publicKey,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 365 * 24 * HOUR),
      isCa: true,
    },
    { privateKey },
  );
  return { certPem, certificate: new X509Certificate(certPem), key: privateKey };
}

/** A SPIFFE leaf `spiffe://cluster.local/ns/NS/sa/SA`; validity defaults to [now-1h, now+1h]. */
export function issueLeaf(
  ca: TestCa,
  namespace: string,
  serviceAccount: string,
  validity: { notBeforeMs?: number; notAfterMs?: number } = {},
): TestLeaf {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const spiffeId = `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
  const certPem = createCertificate(
    {
      serial: randomSerial(),
      subject: {},
      subjectPublicKey: publicKey,
      notBefore: new Date(validity.notBeforeMs ?? now - HOUR),
      notAfter: new Date(validity.notAfterMs ?? now + HOUR),
      isCa: false,
      uris: [spiffeId],
    },
    { certificate: ca.certificate, privateKey: ca.key },
  );
  return {
    certPem,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spiffeId,
    ca,
  };
}

/** WorkloadCertificates that always hold `leaf` (no rotation). */
export function fixedCertificates(leaf: TestLeaf): WorkloadCertificates {
  const x509 = new X509Certificate(leaf.certPem);
  const material = createWorkloadTlsMaterial(
    {
      spiffeId: leaf.spiffeId,
      certChainPem: [leaf.certPem],
      trustBundlePem: [leaf.ca.certPem],
      serialNumber: x509.serialNumber,
      notBeforeMs: Date.parse(x509.validFrom),
      notAfterMs: Date.parse(x509.validTo),
    },
    leaf.keyPem,
  );
  const context = createSecureContext({
    key: leaf.keyPem,
    cert: leaf.certPem,
    ca: [leaf.ca.certPem],
  });
  return {
    current: () => material,
    ready: () => Promise.resolve(material),
    secureContext: () => context,
    onChange: () => () => undefined,
  };
}
