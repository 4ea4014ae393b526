// Reads a PEM chain for `weft cert inspect`: subject, SPIFFE SAN, issuer, validity and whether
// the chain verifies against a trust bundle (Node's X509Certificate; RFC 5280 §6 in outline).
import { X509Certificate } from 'node:crypto';
import { certificateUris, formatName, splitCertificates } from '@weft/xds-client';

/** One certificate of an inspected chain. */
export interface InspectedCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly uris: readonly string[];
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Negative once expired. */
  readonly expiresInSeconds: number;
  readonly isCa: boolean;
  readonly fingerprint256: string;
}

/** The result of {@link inspectCertificates}. */
export interface CertificateInspection {
  readonly chain: readonly InspectedCertificate[];
  /** Absent without a bundle; else whether each link and the anchor verify at `nowMs`. */
  readonly verification?: { readonly ok: boolean; readonly problems: readonly string[] };
}

/**
 * Parses every certificate in `chainPem` (leaf first) and, given `bundlePem`, checks each is
 * signed by the next, the last by a bundle root, and all are valid at `nowMs`.
 */
export function inspectCertificates(
  chainPem: string,
  nowMs: number,
  bundlePem?: string,
): CertificateInspection {
  const certs = splitCertificates(chainPem).map((pem) => new X509Certificate(pem));
  if (certs.length === 0) throw new Error('no PEM "CERTIFICATE" block');
  const chain = certs.map((c) => ({
    subject: formatName(c.subject),
    issuer: formatName(c.issuer),
    uris: certificateUris(c),
    serialNumber: c.serialNumber,
    notBefore: c.validFromDate.toISOString(),
    notAfter: c.validToDate.toISOString(),
    expiresInSeconds: Math.floor((c.validToDate.getTime() - nowMs) / 1000),
    isCa: c.ca,
    fingerprint256: c.fingerprint256,
  }));
  if (bundlePem === undefined) return { chain };
  const roots = splitCertificates(bundlePem).map((pem) => new X509Certificate(pem));
  const problems: string[] = [];
  if (roots.length === 0) problems.push('bundle: no PEM "CERTIFICATE" block');
  for (const [i, c] of certs.entries()) {
    if (c.validToDate.getTime() <= nowMs)
      problems.push(`certificate ${i}: expired at ${c.validToDate.toISOString()}`);
    if (c.validFromDate.getTime() > nowMs)
      problems.push(`certificate ${i}: not valid before ${c.validFromDate.toISOString()}`);
    const parent = certs[i + 1];
    if (parent !== undefined && !(c.checkIssued(parent) && c.verify(parent.publicKey)))
      problems.push(`certificate ${i}: not signed by certificate ${i + 1}`);
  }
  const last = certs.at(-1);
  if (last === undefined) throw new Error('no PEM "CERTIFICATE" block');
  const anchor = roots.find((r) => last.checkIssued(r) && last.verify(r.publicKey));
  const selfIsRoot = roots.some((r) => r.fingerprint256 === last.fingerprint256);
  if (anchor === undefined && !selfIsRoot)
    problems.push(
      `certificate ${certs.length - 1}: no bundle root signed it (issuer ${formatName(last.issuer)})`,
    );
  else if (anchor !== undefined && anchor.validToDate.getTime() <= nowMs)
    problems.push(`bundle root ${formatName(anchor.subject)}: expired`);
  return { chain, verification: { ok: problems.length === 0, problems } };
}
