// Plain-data views of the workload certificate agent: `mesh.stats().security` and the secrets
// /config_dump shows (never key material).
import { X509Certificate } from 'node:crypto';
import { certificateUris, formatName } from '@weft/xds-client';
import type { CertificateFailureReason } from './certificate-request.js';
import type { WorkloadTlsMaterial } from './workload-certificates.js';

/** The certificate part of `mesh.stats().security` (plain data, no key material). */
export interface WorkloadCertificateStats {
  readonly spiffeId: string | undefined;
  readonly serialNumber: string | undefined;
  readonly notBeforeMs: number | undefined;
  readonly notAfterMs: number | undefined;
  /** Seconds until the current certificate expires (negative once expired); undefined without one. */
  readonly secondsToExpiry: number | undefined;
  /** When the agent will ask for the next certificate, ms since the epoch. */
  readonly nextRequestAtMs: number | undefined;
  /** Certificates received. */
  readonly issued: number;
  /** Certificates received that replaced a previous one. */
  readonly rotations: number;
  /** Failed requests, in all and by reason. */
  readonly failures: number;
  readonly failuresByReason: Readonly<Partial<Record<CertificateFailureReason, number>>>;
  readonly lastFailure: string | undefined;
  /** Roots in the current trust bundle. */
  readonly trustBundleRoots: number;
  /** SDS ROOTCA updates applied. */
  readonly rootCaUpdates: number;
  /** Certificates received by transport: with the join token (plaintext port) or by mTLS renewal. */
  readonly issuedBy: { readonly token: number; readonly mtls: number };
  /** Renewals that fell back to the join token because the certificate had expired or was lost. */
  readonly tokenFallbacks: number;
}

/** What /config_dump shows of the workload's secrets: chain, SANs, expiry; never the key. */
export interface WorkloadSecretsDump {
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly chain: readonly {
    readonly subject: string;
    readonly issuer: string;
    readonly serialNumber: string;
    readonly notAfter: string;
    readonly uriSans: readonly string[];
    readonly fingerprint256: string;
  }[];
  readonly trustBundle: readonly {
    readonly subject: string;
    readonly notAfter: string;
    readonly fingerprint256: string;
  }[];
}

/** The secrets of `m` for /config_dump: chain, SANs, expiry and roots; never the key. */
export function dumpWorkloadSecrets(m: WorkloadTlsMaterial): WorkloadSecretsDump {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    spiffeId: m.spiffeId,
    serialNumber: m.serialNumber,
    notBefore: iso(m.notBeforeMs),
    notAfter: iso(m.notAfterMs),
    chain: m.certChainPem.map((pem) => {
      const c = new X509Certificate(pem);
      return {
        subject: formatName(c.subject),
        issuer: c.issuer,
        serialNumber: c.serialNumber,
        notAfter: c.validToDate.toISOString(),
        uriSans: certificateUris(c),
        fingerprint256: c.fingerprint256,
      };
    }),
    trustBundle: m.trustBundlePem.map((pem) => {
      const c = new X509Certificate(pem);
      return {
        subject: formatName(c.subject),
        notAfter: c.validToDate.toISOString(),
        fingerprint256: c.fingerprint256,
      };
    }),
  };
}
