// The mesh certificate authority: signs workload CSRs as SPIFFE X509-SVIDs for the identity a join
// token proves, and serves the trust bundle. Issue 5 "Certificate authority (control plane)";
// https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import {
  certificateUris,
  ConfigError,
  createCertificate,
  formatName,
  parseCsr,
  randomSerial,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from '@weft/xds-client';
import { loadCaDir, type LoadedCaDir } from './ca-dir.js';
import {
  checkIdentityName,
  createJoinToken,
  verifyJoinToken,
  type JoinTokenClaims,
} from './join-token.js';
import {
  CERTIFICATE_REFUSAL_REASONS,
  type CaDocument,
  type CertificateRefusalReason,
  type CertificateRequest,
  type CertificateResult,
  type MeshCaEvents,
  type PeerVerdict,
  type WorkloadCertificateRecord,
} from './mesh-ca-types.js';

export { CERTIFICATE_REFUSAL_REASONS } from './mesh-ca-types.js';
export type {
  CaDocument,
  CaRootSummary,
  CertificateIssuedEvent,
  CertificateRefusalReason,
  CertificateRefusedEvent,
  CertificateRequest,
  CertificateResult,
  IssuedCertificate,
  MeshCaEvents,
  PeerRefusalReason,
  PeerVerdict,
  VerifiedPeer,
  WorkloadCertificateRecord,
  WorkloadCertificateSummary,
} from './mesh-ca-types.js';

/** `spiffe://TD/ns/NS/sa/SA`, captured. */
const SPIFFE_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;
/** Longest chain (leaf to root) {@link MeshCa.verifyPeer} walks. */
const MAX_CHAIN_DEPTH = 5;

/** Identities the CA remembers its latest certificate for (the oldest issuance is forgotten first). */
export const MAX_WORKLOAD_RECORDS = 10_000;
/** A remembered certificate is forgotten this long after it expired. */
export const WORKLOAD_RECORD_GRACE_MS = 3_600_000;

/** Shortest certificate TTL the CA issues: 1 minute. */
export const MIN_CERTIFICATE_TTL_MS = 60_000;
/** Default certificate TTL (MeshConfig `defaults.certificateTtl`): 24 h. */
export const DEFAULT_CERTIFICATE_TTL_MS = 24 * 3_600_000;
/** How far NotBefore is backdated for clock skew between workloads: 5 minutes. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60_000;

/** Options of {@link MeshCa.open}. */
export interface MeshCaOptions {
  /** CA directory (created, and a root generated in it, if empty). */
  readonly dir: string;
  /** SPIFFE trust domain; default `cluster.local` (the control plane passes MeshConfig's). */
  readonly trustDomain?: string;
  /** Certificate TTL when a request gives none, ms; default 24 h, at least 1 min. */
  readonly defaultTtlMs?: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** `spiffe://TRUST_DOMAIN/ns/NS/sa/SA`. */
export function spiffeIdFor(
  trustDomain: string,
  namespace: string,
  serviceAccount: string,
): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * A CA over a directory (see `ca-dir.ts` for the layout). Create with {@link MeshCa.open}; it
 * holds the keys in memory and never returns them.
 */
export class MeshCa extends EventEmitter<MeshCaEvents> {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #dir: string;
  #ca: LoadedCaDir;
  #trustDomain: string;
  #defaultTtlMs: number;
  #issued = 0;
  /** Latest certificate per SPIFFE id, in issuance order (oldest first). */
  readonly #workloads = new Map<string, WorkloadCertificateRecord>();
  readonly #refused: Record<CertificateRefusalReason, number> = Object.fromEntries(
    CERTIFICATE_REFUSAL_REASONS.map((r) => [r, 0]),
  ) as Record<CertificateRefusalReason, number>;

  private constructor(
    ca: LoadedCaDir,
    trustDomain: string,
    defaultTtlMs: number,
    clock: Clock,
    logger: Logger,
  ) {
    super();
    this.#dir = ca.dir;
    this.#ca = ca;
    this.#trustDomain = trustDomain;
    this.#defaultTtlMs = defaultTtlMs;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Loads (or initialises) the CA directory; throws a ConfigError naming each bad file. */
  static open(options: MeshCaOptions): MeshCa {
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? silentLogger;
    const trustDomain = options.trustDomain ?? 'cluster.local';
    const defaultTtlMs = options.defaultTtlMs ?? DEFAULT_CERTIFICATE_TTL_MS;
    if (!Number.isFinite(defaultTtlMs) || defaultTtlMs < MIN_CERTIFICATE_TTL_MS)
      throw new ConfigError('mesh CA options', [
        {
          path: 'defaultTtlMs',
          message: `expected at least ${MIN_CERTIFICATE_TTL_MS} ms, got ${defaultTtlMs}`,
        },
      ]);
    const ca = loadCaDir(options.dir, trustDomain, clock.now());
    for (const path of ca.expiredRoots)
      logger.warn('expired trusted root skipped; delete the file to retire it', { path });
    logger.info(ca.generated ? 'mesh CA root generated' : 'mesh CA loaded', {
      dir: ca.dir,
      root: formatName(ca.root.subject),
      rootNotAfter: ca.root.validToDate.toISOString(),
      trustedRoots: ca.roots.length,
      intermediate: ca.intermediates.length > 0,
    });
    return new MeshCa(ca, trustDomain, defaultTtlMs, clock, logger);
  }

  /**
   * Re-reads the CA directory (after `weft cert rotate-root`, or a root file added to or removed
   * from trusted-roots/). A directory that no longer loads throws its ConfigError and the CA keeps
   * signing with what it had.
   */
  reload(): void {
    const previous = this.#ca;
    const next = loadCaDir(this.#dir, this.#trustDomain, this.#clock.now());
    this.#ca = next;
    for (const path of next.expiredRoots)
      this.#logger.warn('expired trusted root skipped; delete the file to retire it', { path });
    this.#logger.info('mesh CA reloaded', {
      dir: next.dir,
      root: formatName(next.root.subject),
      rootChanged: previous.root.fingerprint256 !== next.root.fingerprint256,
      trustedRoots: next.roots.length,
    });
  }

  /** The trust domain in SPIFFE ids. */
  get trustDomain(): string {
    return this.#trustDomain;
  }

  /** Certificates issued since open. */
  get issuedCount(): number {
    return this.#issued;
  }

  /** Every trusted root, active first. */
  get roots(): readonly X509Certificate[] {
    return this.#ca.roots;
  }

  /** The signer's intermediates (leaf side first); empty when the root signs. */
  get intermediates(): readonly X509Certificate[] {
    return this.#ca.intermediates;
  }

  /** The trust bundle as PEM strings, active root first. */
  trustBundlePem(): string[] {
    return this.#ca.roots.map((r) => r.toString());
  }

  /**
   * Follows MeshConfig (trust domain, `defaults.certificateTtl`) after a config reload. Already
   * issued certificates keep their identity until they expire.
   */
  setMeshDefaults(settings: {
    readonly trustDomain: string;
    readonly certificateTtlMs: number;
  }): void {
    if (
      settings.trustDomain !== this.#trustDomain ||
      settings.certificateTtlMs !== this.#defaultTtlMs
    )
      this.#logger.info('mesh CA defaults changed', {
        trustDomain: settings.trustDomain,
        defaultTtlMs: settings.certificateTtlMs,
      });
    this.#trustDomain = settings.trustDomain;
    this.#defaultTtlMs = Math.max(MIN_CERTIFICATE_TTL_MS, settings.certificateTtlMs);
  }

  /** Signs a join token for one service account, valid `ttlMs` (default 1 h). */
  createJoinToken(identity: {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly ttlMs?: number;
  }): { readonly token: string; readonly claims: JoinTokenClaims } {
    const problems = [
      checkIdentityName('namespace', identity.namespace),
      checkIdentityName('serviceAccount', identity.serviceAccount),
    ].filter((p): p is string => p !== null);
    const ttlMs = identity.ttlMs ?? 3_600_000;
    if (!Number.isFinite(ttlMs) || ttlMs < 1000)
      problems.push(`ttlMs: expected at least 1000, got ${ttlMs}`);
    if (problems.length > 0) throw new RangeError(problems.join('; '));
    const out = createJoinToken(this.#ca.tokenKey, identity, this.#clock.now(), ttlMs);
    this.#logger.info('join token created', {
      tokenId: out.claims.id,
      identity: spiffeIdFor(this.#trustDomain, identity.namespace, identity.serviceAccount),
      expiresAt: new Date(out.claims.expiresAtMs).toISOString(),
    });
    return out;
  }

  /**
   * Signs a workload CSR for the identity its join token names. A CSR that asks for another
   * identity (URI SAN) is refused and logged with the token id and both identities.
   */
  issue(request: CertificateRequest): CertificateResult {
    const now = this.#clock.now();
    const verified = verifyJoinToken(this.#ca.tokenKey, request.token, now);
    if (!verified.ok) return this.#refuse(verified.reason, verified.message, verified.id);
    const { claims } = verified;
    return this.#sign(
      request.csrPem,
      claims.namespace,
      claims.serviceAccount,
      request.ttlMs,
      claims.id,
      now,
    );
  }

  /**
   * Verifies a client certificate (DER, as the mTLS port's TLS layer presented it) against the
   * current trust bundle and the CA's own intermediates, the CA clock and the trust domain. The
   * TLS layer has already checked it against the bundle with the system clock; this repeats the
   * check with the CA's clock and bundle, and extracts the SPIFFE identity.
   */
  verifyPeer(certificate: Buffer | undefined): PeerVerdict {
    if (certificate === undefined || certificate.length === 0)
      return {
        ok: false,
        reason: 'no-client-certificate',
        message: 'no client certificate verified by the TLS layer',
      };
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certificate);
    } catch (err) {
      return {
        ok: false,
        reason: 'untrusted-certificate',
        message: `unparsable: ${(err as Error).message}`,
      };
    }
    const now = this.#clock.now();
    const roots = this.#ca.roots;
    const candidates = [...this.#ca.intermediates, ...roots];
    let cert = leaf;
    let trusted = false;
    for (let depth = 0; depth < MAX_CHAIN_DEPTH && !trusted; depth++) {
      if (cert.validFromDate.getTime() > now || cert.validToDate.getTime() < now)
        return {
          ok: false,
          reason: 'expired-certificate',
          message: `${depth === 0 ? 'certificate' : 'issuer'} ${formatName(cert.subject) || cert.serialNumber} valid ${cert.validFromDate.toISOString()} to ${cert.validToDate.toISOString()}`,
        };
      const current = cert;
      const issuer = candidates.find((c) => current.checkIssued(c) && current.verify(c.publicKey));
      if (issuer === undefined) break;
      trusted = roots.some((r) => r.fingerprint256 === issuer.fingerprint256);
      cert = issuer;
    }
    if (!trusted)
      return {
        ok: false,
        reason: 'untrusted-certificate',
        message: `serial ${leaf.serialNumber} does not chain to the trust bundle`,
      };
    const uris = certificateUris(leaf).filter((u) => u.startsWith('spiffe://'));
    const match = uris.length === 1 ? SPIFFE_ID.exec(uris[0] ?? '') : null;
    if (match === null)
      return {
        ok: false,
        reason: 'no-spiffe-id',
        message: `expected one spiffe://TD/ns/NS/sa/SA URI SAN, got ${uris.length === 0 ? 'none' : uris.join(', ')}`,
      };
    const [spiffeId, trustDomain, namespace, serviceAccount] = match as unknown as [
      string,
      string,
      string,
      string,
    ];
    if (trustDomain !== this.#trustDomain)
      return {
        ok: false,
        reason: 'untrusted-certificate',
        message: `${spiffeId} is not in trust domain ${this.#trustDomain}`,
      };
    return {
      ok: true,
      peer: {
        spiffeId,
        namespace,
        serviceAccount,
        serialNumber: leaf.serialNumber,
        notAfterMs: leaf.validToDate.getTime(),
      },
    };
  }

  /**
   * Renewal by certificate (mTLS port, no token): signs a CSR for the identity of the client
   * certificate the TLS layer presented, which {@link verifyPeer} must accept. The CSR may ask
   * for that identity only.
   */
  renew(request: {
    readonly csrPem: string;
    readonly peerCertificate: Buffer | undefined;
    readonly ttlMs?: number;
  }): CertificateResult {
    const verdict = this.verifyPeer(request.peerCertificate);
    if (!verdict.ok) return this.#refuse(verdict.reason, verdict.message, 'certificate');
    const { peer } = verdict;
    return this.#sign(
      request.csrPem,
      peer.namespace,
      peer.serviceAccount,
      request.ttlMs,
      `certificate:${peer.serialNumber}`,
      this.#clock.now(),
    );
  }

  /**
   * Operator path (`weft cert issue`): signs for an identity without a token. `serving: true`
   * (the control plane's own mTLS-port certificate) is logged but not counted, remembered or
   * emitted as a workload certificate.
   */
  signForIdentity(request: {
    readonly csrPem: string;
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly ttlMs?: number;
    readonly serving?: boolean;
  }): CertificateResult {
    for (const [field, value] of [
      ['namespace', request.namespace],
      ['serviceAccount', request.serviceAccount],
    ] as const) {
      const problem = checkIdentityName(field, value);
      if (problem !== null) return this.#refuse('identity-mismatch', problem, 'operator');
    }
    return this.#sign(
      request.csrPem,
      request.namespace,
      request.serviceAccount,
      request.ttlMs,
      request.serving === true ? 'control-plane' : 'operator',
      this.#clock.now(),
      request.serving !== true,
    );
  }

  /** The admin `/ca` document. */
  document(): CaDocument {
    const now = this.#clock.now();
    return {
      dir: this.#ca.dir,
      trustDomain: this.#trustDomain,
      defaultTtlMs: this.#defaultTtlMs,
      signer: {
        subject: formatName(this.#ca.signerCert.subject),
        notAfter: this.#ca.signerCert.validToDate.toISOString(),
        intermediate: this.#ca.intermediates.length > 0,
      },
      roots: this.#ca.roots.map((r, i) => ({
        subject: formatName(r.subject),
        serialNumber: r.serialNumber,
        fingerprint256: r.fingerprint256,
        notAfter: r.validToDate.toISOString(),
        expiresInSeconds: Math.floor((r.validToDate.getTime() - now) / 1000),
        active: i === 0,
      })),
      issued: this.#issued,
      refused: { ...this.#refused },
      workloads: this.workloadCertificates()
        .map((w) => ({
          spiffeId: w.spiffeId,
          serialNumber: w.serialNumber,
          notBefore: new Date(w.notBeforeMs).toISOString(),
          notAfter: new Date(w.notAfterMs).toISOString(),
          expiresInSeconds: Math.floor((w.notAfterMs - now) / 1000),
          issuedAt: new Date(w.issuedAtMs).toISOString(),
          issuedCount: w.issuedCount,
        }))
        .sort((a, b) => a.expiresInSeconds - b.expiresInSeconds),
    };
  }

  /**
   * The latest certificate issued per identity (soonest expiry is not implied: issuance order).
   * Records of certificates expired for more than {@link WORKLOAD_RECORD_GRACE_MS} are dropped.
   */
  workloadCertificates(): readonly WorkloadCertificateRecord[] {
    const now = this.#clock.now();
    for (const [id, w] of this.#workloads)
      if (w.notAfterMs + WORKLOAD_RECORD_GRACE_MS < now) this.#workloads.delete(id);
    return [...this.#workloads.values()];
  }

  /** The latest certificate issued for `spiffeId`, if the CA still remembers one. */
  workloadCertificate(spiffeId: string): WorkloadCertificateRecord | undefined {
    return this.workloadCertificates().find((w) => w.spiffeId === spiffeId);
  }

  #sign(
    csrPem: string,
    namespace: string,
    serviceAccount: string,
    ttlMsRequested: number | undefined,
    tokenId: string,
    now: number,
    workload = true,
  ): CertificateResult {
    const spiffeId = spiffeIdFor(this.#trustDomain, namespace, serviceAccount);
    const ttlMs =
      ttlMsRequested === undefined || ttlMsRequested === 0 ? this.#defaultTtlMs : ttlMsRequested;
    if (!Number.isFinite(ttlMs) || ttlMs < MIN_CERTIFICATE_TTL_MS)
      return this.#refuse(
        'invalid-ttl',
        `ttl: expected at least ${MIN_CERTIFICATE_TTL_MS / 1000} s, got ${ttlMs / 1000} s`,
        tokenId,
      );
    let csr;
    try {
      csr = parseCsr(csrPem);
    } catch (err) {
      return this.#refuse('invalid-csr', `csr: ${(err as Error).message}`, tokenId);
    }
    const other = [...csr.uris.filter((u) => u !== spiffeId), ...csr.dnsNames];
    if (other.length > 0) {
      this.#logger.warn('certificate request for another identity refused', {
        tokenId,
        tokenIdentity: spiffeId,
        requestedIdentities: [...csr.uris, ...csr.dnsNames],
      });
      return this.#refuse(
        'identity-mismatch',
        `csr asks for ${other.join(', ')} but the credential is for ${spiffeId}`,
        tokenId,
        true,
      );
    }
    // Never outlive the signer: a chain with an expired intermediate fails anyway.
    const signerNotAfter = this.#ca.signerCert.validToDate.getTime();
    if (signerNotAfter < now + MIN_CERTIFICATE_TTL_MS) {
      this.#logger.error('mesh CA signing certificate expires within a minute: rotate it', {
        signer: formatName(this.#ca.signerCert.subject),
        notAfter: this.#ca.signerCert.validToDate.toISOString(),
      });
      return this.#refuse(
        'ca-expired',
        `the signing CA expires at ${this.#ca.signerCert.validToDate.toISOString()}`,
        tokenId,
        true,
      );
    }
    const notAfterMs = Math.min(now + ttlMs, signerNotAfter);
    if (notAfterMs < now + ttlMs)
      this.#logger.warn("certificate TTL cut to the signing CA's expiry", {
        spiffeId,
        notAfter: new Date(notAfterMs).toISOString(),
      });
    const notBeforeMs = now - NOT_BEFORE_BACKDATE_MS;
    const serial = randomSerial();
    const leafPem = createCertificate(
      {
        serial,
        subject: {},
        subjectPublicKey: csr.publicKey,
        notBefore: new Date(notBeforeMs),
        notAfter: new Date(notAfterMs),
        isCa: false,
        uris: [spiffeId],
      },
      { certificate: this.#ca.signerCert, privateKey: this.#ca.signerKey },
    );
    const serialNumber = serial.toString('hex').toUpperCase();
    const certChainPem = [leafPem, ...this.#ca.intermediates.map((c) => c.toString())];
    if (workload) this.#issued += 1;
    if (workload)
      this.#remember({
        spiffeId,
        serialNumber,
        certChainPem,
        notBeforeMs,
        notAfterMs,
        issuedAtMs: now,
        issuedCount: (this.#workloads.get(spiffeId)?.issuedCount ?? 0) + 1,
        tokenId,
      });
    this.#logger.info('certificate issued', {
      spiffeId,
      serialNumber,
      notAfter: new Date(notAfterMs).toISOString(),
      tokenId,
    });
    if (workload) this.emit('issued', { spiffeId, serialNumber, notAfterMs, tokenId });
    return {
      ok: true,
      certChainPem,
      trustBundlePem: this.trustBundlePem(),
      spiffeId,
      serialNumber,
      notBeforeMs,
      notAfterMs,
    };
  }

  #remember(record: WorkloadCertificateRecord): void {
    this.#workloads.delete(record.spiffeId);
    this.#workloads.set(record.spiffeId, record);
    if (this.#workloads.size > MAX_WORKLOAD_RECORDS) {
      const oldest = this.#workloads.keys().next().value;
      if (oldest !== undefined) this.#workloads.delete(oldest);
    }
  }

  #refuse(
    reason: CertificateRefusalReason,
    message: string,
    tokenId: string,
    logged = false,
  ): CertificateResult {
    this.#refused[reason] += 1;
    if (!logged) this.#logger.warn('certificate request refused', { reason, message, tokenId });
    this.emit('refused', { reason, message, tokenId });
    return { ok: false, reason, message };
  }
}
