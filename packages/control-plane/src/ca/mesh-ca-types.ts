// The data a mesh CA takes and gives: requests, results, refusal reasons, events and the admin
// `/ca` document (split from mesh-ca.ts; issue 5 "Certificate authority").

/** Why a certificate request was refused (the `reason` label of the refusal metric). */
export type CertificateRefusalReason =
  | 'malformed-token'
  | 'forged-token'
  | 'expired-token'
  | 'identity-mismatch'
  | 'invalid-csr'
  | 'invalid-ttl'
  | 'ca-expired'
  /** mTLS port, no token: no client certificate, or one the TLS layer did not verify. */
  | 'no-client-certificate'
  /** mTLS port, no token: the certificate does not chain to the trust bundle (or another trust domain). */
  | 'untrusted-certificate'
  /** mTLS port, no token: the certificate is expired or not yet valid (CA clock). */
  | 'expired-certificate'
  /** mTLS port, no token: the certificate has no `spiffe://TD/ns/NS/sa/SA` URI SAN. */
  | 'no-spiffe-id';

/** Every refusal reason, for zero-initialised metrics. */
export const CERTIFICATE_REFUSAL_REASONS: readonly CertificateRefusalReason[] = Object.freeze([
  'malformed-token',
  'forged-token',
  'expired-token',
  'identity-mismatch',
  'invalid-csr',
  'invalid-ttl',
  'ca-expired',
  'no-client-certificate',
  'untrusted-certificate',
  'expired-certificate',
  'no-spiffe-id',
]);

/** Why a peer certificate on the mTLS port was not accepted (a subset of the refusal reasons). */
export type PeerRefusalReason =
  'no-client-certificate' | 'untrusted-certificate' | 'expired-certificate' | 'no-spiffe-id';

/** A client certificate the CA verified: chains to the trust bundle, valid now, SPIFFE id parsed. */
export interface VerifiedPeer {
  readonly spiffeId: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly serialNumber: string;
  readonly notAfterMs: number;
}

/** The result of {@link MeshCa.verifyPeer}. */
export type PeerVerdict =
  | { readonly ok: true; readonly peer: VerifiedPeer }
  | { readonly ok: false; readonly reason: PeerRefusalReason; readonly message: string };

/** A signed workload certificate. */
export interface IssuedCertificate {
  /** Leaf first, then the intermediates (not the root). */
  readonly certChainPem: readonly string[];
  /** The roots to trust (active root first). */
  readonly trustBundlePem: readonly string[];
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

/** The result of a certificate request. */
export type CertificateResult =
  | ({ readonly ok: true } & IssuedCertificate)
  | { readonly ok: false; readonly reason: CertificateRefusalReason; readonly message: string };

/** A certificate request from a workload. */
export interface CertificateRequest {
  readonly csrPem: string;
  /** A join token from {@link MeshCa.createJoinToken} / `weft cert token`. */
  readonly token: string;
  /** Requested TTL, ms; 0 or absent: the default. */
  readonly ttlMs?: number;
}

/** Emitted for each issued certificate. */
export interface CertificateIssuedEvent {
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notAfterMs: number;
  /**
   * The join token's id, `operator` for {@link MeshCa.signForIdentity}, or `certificate:SERIAL`
   * for a renewal authenticated by the workload's current certificate (mTLS port).
   */
  readonly tokenId: string;
}

/** Emitted for each refused request. */
export interface CertificateRefusedEvent {
  readonly reason: CertificateRefusalReason;
  readonly message: string;
  readonly tokenId: string;
}

/** Events of {@link MeshCa}. */
export interface MeshCaEvents {
  issued: [event: CertificateIssuedEvent];
  refused: [event: CertificateRefusedEvent];
}

/** One trusted root in the admin `/ca` document. */
export interface CaRootSummary {
  readonly subject: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notAfter: string;
  readonly expiresInSeconds: number;
  readonly active: boolean;
}

/** The admin `/ca` document (public material only, never keys). */
export interface CaDocument {
  readonly dir: string;
  readonly trustDomain: string;
  readonly defaultTtlMs: number;
  readonly signer: {
    readonly subject: string;
    readonly notAfter: string;
    readonly intermediate: boolean;
  };
  readonly roots: readonly CaRootSummary[];
  readonly issued: number;
  readonly refused: Readonly<Record<CertificateRefusalReason, number>>;
  /** The latest certificate issued per identity, soonest expiry first (no chains: see `/ca?workload=`). */
  readonly workloads: readonly WorkloadCertificateSummary[];
}

/** The latest certificate the CA issued for one SPIFFE identity (public material only). */
export interface WorkloadCertificateRecord {
  readonly spiffeId: string;
  readonly serialNumber: string;
  /** Leaf first, then the intermediates. */
  readonly certChainPem: readonly string[];
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly issuedAtMs: number;
  /** Certificates issued for this identity since the CA opened. */
  readonly issuedCount: number;
  /** The join token's id, or `operator`. */
  readonly tokenId: string;
}

/** A {@link WorkloadCertificateRecord} in the `/ca` document. */
export interface WorkloadCertificateSummary {
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly expiresInSeconds: number;
  readonly issuedAt: string;
  readonly issuedCount: number;
}
