// The workload certificate agent: generates an EC P-256 key in this process, sends a CSR and the
// join token to the mesh CA (`weft.ca.v1.CertificateService` on the control plane's xDS port),
// keeps the SPIFFE certificate it gets back, and asks again at half its remaining lifetime
// (retrying with backoff while the old one is still valid). Issue 5 "Data plane"; Istio's
// SDS agent does the same (pilot-agent secretcache).
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  credentials,
  status as grpcStatus,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { WeftError } from '@weft/xds-client';
import {
  Backoff,
  DEFAULT_BACKOFF_OPTIONS,
  createCsr,
  formatName,
  loadXdsProtos,
  splitCertificates,
  type Clock,
  type Logger,
  type ResolvedBackoffOptions,
  type TimerHandle,
  type XdsProtos,
} from '@weft/xds-client';
import type { ResolvedIdentityOptions } from './identity-options.js';
import {
  createWorkloadTlsMaterial,
  noCertificateError,
  type WorkloadCertificates,
  type WorkloadTlsMaterial,
} from './workload-certificates.js';

/** The CA's gRPC service (control plane `CA_SERVICE_NAME`). */
const CA_SERVICE = 'weft.ca.v1.CertificateService';
/** How long one CreateCertificate call may take, in ms. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Why a certificate request failed (the `reason` key of the failure counters). */
export type CertificateFailureReason =
  /** The CA refused the token (malformed, forged, expired). */
  | 'token-refused'
  /** The CA refused the identity asked for (token is for another service account). */
  | 'identity-mismatch'
  /** The CA refused the request otherwise (bad CSR, bad TTL, its signer expiring). */
  | 'refused'
  /** The issued certificate is not for this workload's namespace / service account. */
  | 'workload-mismatch'
  /** The token file could not be read. */
  | 'token-file'
  /** `controlPlaneTls.caFile` could not be read or holds no certificate. */
  | 'ca-file'
  /** The control plane could not be reached or did not answer in time. */
  | 'unavailable'
  /** The answer was malformed (no chain, unparsable PEM, key does not match). */
  | 'bad-response';

/** The control plane's SPIFFE id is `spiffe://TD/ns/weft-system/sa/weft-control-plane`. */
const CONTROL_PLANE_IDENTITY_SUFFIX = '/ns/weft-system/sa/weft-control-plane';
/**
 * The TLS server name sent to the mTLS port. Its certificate has no DNS name (the SPIFFE id is
 * checked instead); a name keeps Node from sending an IP address as SNI (RFC 6066, DEP0123).
 */
const CONTROL_PLANE_SERVER_NAME = 'weft-control-plane.weft-system';
/** Channel options of connections to the mTLS port. */
export const CONTROL_PLANE_TLS_CHANNEL_OPTIONS = Object.freeze({
  'grpc.ssl_target_name_override': CONTROL_PLANE_SERVER_NAME,
  'grpc.default_authority': CONTROL_PLANE_SERVER_NAME,
});

/** The control plane's mTLS port (Istio's 15012), validated. */
export interface ResolvedControlPlaneTls {
  /** `host:port`. */
  readonly address: string;
  /** Trust anchor file (PEM roots); undefined: the bundle of the first certificate (TOFU). */
  readonly caFile: string | undefined;
}

/** Options of {@link WorkloadCertificateAgent}. */
export interface CertificateAgentOptions {
  /** `host:port` of the control plane's xDS port (the CA is served there). */
  readonly controlPlaneAddress: string;
  /**
   * The control plane's mTLS port: renewals go there with the current certificate instead of
   * the join token, and {@link WorkloadCertificateAgent.xdsChannel} offers it for ADS.
   */
  readonly controlPlaneTls?: ResolvedControlPlaneTls | undefined;
  readonly identity: ResolvedIdentityOptions;
  /** The node's namespace and service account: the certificate must be for them. */
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default: the shared proto set. */
  readonly protos?: XdsProtos;
  /** Retry schedule after a failure. Default: 1 s doubling-ish to 30 s (gRPC's). */
  readonly backoff?: ResolvedBackoffOptions;
}

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

class CertificateRequestError extends Error {
  constructor(
    readonly reason: CertificateFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface CreateCertificateResponse {
  readonly cert_chain_pem?: readonly string[];
  readonly trust_bundle_pem?: readonly string[];
}

type Unary = (
  request: object,
  callback: (err: ServiceError | null, response?: CreateCertificateResponse) => void,
) => { cancel(): void };

const normalizePem = (pem: string): string => pem.replace(/\s+/g, '');

/** The union of `a` and `b` (PEM certificates), `a`'s order first, each root once. */
function mergeBundles(a: readonly string[], b: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of [...a, ...b]) {
    const key = normalizePem(pem);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(pem);
  }
  return out;
}

function uriSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

const CA_REASONS: Readonly<Record<string, CertificateFailureReason>> = {
  'malformed-token': 'token-refused',
  'forged-token': 'token-refused',
  'expired-token': 'token-refused',
  'identity-mismatch': 'identity-mismatch',
};

/**
 * The mesh's {@link WorkloadCertificates}: call `start()` once; `close()` stops renewals. Never
 * throws into user code: failures are logged, counted and retried while the last good
 * certificate keeps serving (STYLE rule 21).
 */
export class WorkloadCertificateAgent implements WorkloadCertificates {
  readonly #o: CertificateAgentOptions;
  readonly #backoff: Backoff;
  readonly #listeners = new Set<(m: WorkloadTlsMaterial) => void>();
  readonly #waiters = new Set<(err?: Error) => void>();
  #client: InstanceType<ReturnType<XdsProtos['serviceClient']>> | undefined;
  #material: WorkloadTlsMaterial | undefined;
  #context: SecureContext | undefined;
  /** The bundle of the CA's last answer, and the SDS ROOTCA roots (undefined: none). */
  #caBundle: readonly string[] = [];
  #sdsRoots: readonly string[] | undefined;
  /** The SPIFFE ID learnt from the first certificate; later CSRs ask for it. */
  #spiffeId: string | undefined;
  #renewTimer: TimerHandle | undefined;
  #nextRequestAtMs: number | undefined;
  #inflight = false;
  #closed = false;
  #issued = 0;
  #failures = 0;
  readonly #failuresByReason: Partial<Record<CertificateFailureReason, number>> = {};
  #lastFailure: Error | undefined;
  #rootCaUpdates = 0;
  #issuedByToken = 0;
  #issuedByMtls = 0;
  #tokenFallbacks = 0;
  /** Roots of `controlPlaneTls.caFile`, read once. */
  #tlsRoots: readonly string[] | undefined;

  constructor(options: CertificateAgentOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF_OPTIONS, options.clock);
  }

  /** Sends the first request. */
  start(): void {
    this.#request();
  }

  current(): WorkloadTlsMaterial | undefined {
    const m = this.#material;
    if (m === undefined || this.#o.clock.now() >= m.notAfterMs) return undefined;
    return m;
  }

  ready(): Promise<WorkloadTlsMaterial> {
    const now = this.current();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#closed)
      return Promise.reject(
        noCertificateError('workload certificate', 'the mesh is closed', undefined),
      );
    const { clock, identity } = this.#o;
    return new Promise<WorkloadTlsMaterial>((resolve, reject) => {
      let timer: TimerHandle | undefined = undefined;
      const settle = (err?: Error): void => {
        this.#waiters.delete(settle);
        if (timer !== undefined) clock.clearTimeout(timer);
        const m = this.current();
        if (err === undefined && m !== undefined) resolve(m);
        else reject(err ?? this.#unavailableError());
      };
      this.#waiters.add(settle);
      timer = clock.setTimeout(() => {
        timer = undefined;
        settle(
          noCertificateError(
            'workload certificate',
            `none issued within ${identity.readyTimeoutMs}ms` +
              (this.#lastFailure === undefined ? '' : `: ${this.#lastFailure.message}`),
            this.#lastFailure,
          ),
        );
      }, identity.readyTimeoutMs);
    });
  }

  secureContext(): SecureContext | undefined {
    return this.current() === undefined ? undefined : this.#context;
  }

  onChange(listener: (material: WorkloadTlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * The error for a connection that needs the certificate now and has none: why (never issued
   * yet, expired, last failure).
   */
  unavailableError(what = 'mTLS'): WeftError {
    return this.#unavailableError(what);
  }

  /** The SDS `ROOTCA` roots (PEM); undefined when the Secret is gone. Merged into the bundle. */
  setRootCa(pems: readonly string[] | undefined): void {
    const next = pems === undefined ? undefined : Object.freeze([...pems]);
    const same =
      next?.map(normalizePem).join() === this.#sdsRoots?.map(normalizePem).join() &&
      (next === undefined) === (this.#sdsRoots === undefined);
    if (same) return;
    this.#sdsRoots = next;
    this.#rootCaUpdates++;
    this.#o.logger.info('workload certificates: trust bundle updated from SDS ROOTCA', {
      roots: next?.length ?? 0,
    });
    const m = this.#material;
    if (m !== undefined) this.#install(m.certChainPem, this.#caBundle, m.privateKeyPem, false);
  }

  stats(): WorkloadCertificateStats {
    const m = this.#material;
    return {
      spiffeId: m?.spiffeId,
      serialNumber: m?.serialNumber,
      notBeforeMs: m?.notBeforeMs,
      notAfterMs: m?.notAfterMs,
      secondsToExpiry:
        m === undefined ? undefined : Math.floor((m.notAfterMs - this.#o.clock.now()) / 1000),
      nextRequestAtMs: this.#nextRequestAtMs,
      issued: this.#issued,
      rotations: Math.max(0, this.#issued - 1),
      failures: this.#failures,
      failuresByReason: { ...this.#failuresByReason },
      lastFailure: this.#lastFailure?.message,
      trustBundleRoots: m?.trustBundlePem.length ?? 0,
      rootCaUpdates: this.#rootCaUpdates,
      issuedBy: { token: this.#issuedByToken, mtls: this.#issuedByMtls },
      tokenFallbacks: this.#tokenFallbacks,
    };
  }

  /**
   * gRPC credentials for the control plane's mTLS port with the current certificate, when
   * `controlPlaneTls` is set and a valid certificate is held; undefined otherwise (then the
   * plaintext port). The server must present `spiffe://TD/ns/weft-system/sa/weft-control-plane`.
   */
  xdsChannel(): { readonly address: string; readonly credentials: ChannelCredentials } | undefined {
    const tls = this.#o.controlPlaneTls;
    const m = this.current();
    if (tls === undefined || m === undefined) return undefined;
    const roots = this.#tlsRoots ?? m.trustBundlePem;
    if (roots.length === 0) return undefined;
    const trustDomain = /^spiffe:\/\/([^/]+)\//.exec(m.spiffeId)?.[1] ?? '';
    const expected = `spiffe://${trustDomain}${CONTROL_PLANE_IDENTITY_SUFFIX}`;
    return {
      address: tls.address,
      credentials: credentials.createSsl(
        Buffer.from(roots.join('')),
        Buffer.from(m.privateKeyPem),
        Buffer.from(m.certChainPem.join('')),
        {
          // The control plane's certificate carries its SPIFFE id, no DNS name: check that.
          checkServerIdentity: (_host: string, cert: PeerCertificate) => {
            const sans = (cert.subjectaltname ?? '').split(/,\s*/);
            return sans.includes(`URI:${expected}`)
              ? undefined
              : new Error(
                  `control plane certificate is not ${expected} (SANs: ${cert.subjectaltname ?? 'none'})`,
                );
          },
        },
      ),
    };
  }

  /** The secrets for /config_dump: chain, SANs, expiry and roots; never the key. */
  dump(): WorkloadSecretsDump | undefined {
    const m = this.#material;
    if (m === undefined) return undefined;
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
          uriSans: uriSans(c),
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

  /** Stops renewals; waiters of `ready()` reject. */
  close(): void {
    this.#closed = true;
    this.#backoff.cancel();
    if (this.#renewTimer !== undefined) this.#o.clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#nextRequestAtMs = undefined;
    for (const settle of [...this.#waiters])
      settle(noCertificateError('workload certificate', 'the mesh is closed'));
    this.#client?.close();
    this.#client = undefined;
    this.#listeners.clear();
  }

  #unavailableError(what = 'workload certificate'): WeftError {
    const m = this.#material;
    const last = this.#lastFailure;
    const why =
      m === undefined
        ? 'no certificate issued yet'
        : `certificate ${m.spiffeId} expired at ${new Date(m.notAfterMs).toISOString()}`;
    return noCertificateError(
      what,
      why + (last === undefined ? '' : ` (last request failed: ${last.message})`),
      last,
    );
  }

  #request(): void {
    if (this.#closed || this.#inflight) return;
    this.#inflight = true;
    this.#nextRequestAtMs = undefined;
    this.#fetch().then(
      (result) => {
        this.#inflight = false;
        if (this.#closed) return;
        this.#backoff.reset();
        if (result.via === 'mtls') this.#issuedByMtls++;
        else this.#issuedByToken++;
        this.#install(result.chain, result.bundle, result.privateKeyPem, true);
      },
      (err: unknown) => {
        this.#inflight = false;
        if (this.#closed) return;
        this.#failed(err);
      },
    );
  }

  async #fetch(): Promise<{
    chain: string[];
    bundle: string[];
    privateKeyPem: string;
    via: 'token' | 'mtls';
  }> {
    const { identity, clock } = this.#o;
    await this.#loadTlsRoots();
    // Renew over mTLS with the current certificate (no token) while it is valid.
    const mtls = this.#issued > 0 ? this.xdsChannel() : undefined;
    if (this.#o.controlPlaneTls !== undefined && this.#issued > 0 && mtls === undefined) {
      this.#tokenFallbacks++;
      this.#o.logger.warn(
        'workload certificates: no valid certificate to renew over mTLS; falling back to the join token',
        {
          lastNotAfter:
            this.#material === undefined
              ? undefined
              : new Date(this.#material.notAfterMs).toISOString(),
        },
      );
    }
    // Over mTLS the certificate is the credential: no token is read or sent.
    let token = '';
    if (mtls !== undefined) token = '';
    else if (identity.token.kind === 'inline') token = identity.token.value;
    else {
      try {
        token = (await readFile(identity.token.path, 'utf8')).trim();
      } catch (err) {
        throw new CertificateRequestError(
          'token-file',
          `join token file ${identity.token.path}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csrPem = createCsr({
      privateKey,
      publicKey,
      uris: this.#spiffeId === undefined ? [] : [this.#spiffeId],
    });
    const Ctor = this.#protos().serviceClient(CA_SERVICE);
    // The mTLS client carries this certificate: a new one per renewal, closed after it.
    const tlsClient =
      mtls === undefined
        ? undefined
        : new Ctor(mtls.address, mtls.credentials, { ...CONTROL_PLANE_TLS_CHANNEL_OPTIONS });
    this.#client ??=
      tlsClient === undefined
        ? new Ctor(this.#o.controlPlaneAddress, credentials.createInsecure())
        : undefined;
    const client = tlsClient ?? this.#client;
    if (client === undefined) throw new CertificateRequestError('unavailable', 'no CA client');
    const where = mtls === undefined ? this.#o.controlPlaneAddress : mtls.address;
    const call = client['CreateCertificate'] as Unary;
    const response = await new Promise<CreateCertificateResponse>((resolve, reject) => {
      let timer: TimerHandle | undefined = undefined;
      let timedOut = false;
      const pending = call.call(
        client,
        { csr_pem: csrPem, token, ttl_seconds: Math.ceil(identity.ttlMs / 1000) },
        (err, res) => {
          if (timer !== undefined) clock.clearTimeout(timer);
          if (timedOut)
            reject(
              new CertificateRequestError(
                'unavailable',
                `CA at ${where}: no answer within ${REQUEST_TIMEOUT_MS}ms`,
              ),
            );
          else if (err !== null || res === undefined) reject(this.#callError(err, where));
          else resolve(res);
        },
      );
      timer = clock.setTimeout(() => {
        timer = undefined;
        timedOut = true;
        pending.cancel();
      }, REQUEST_TIMEOUT_MS);
    }).finally(() => {
      tlsClient?.close();
    });
    const chain = (response.cert_chain_pem ?? []).flatMap((p) => splitCertificates(p));
    const bundle = (response.trust_bundle_pem ?? []).flatMap((p) => splitCertificates(p));
    if (chain.length === 0 || bundle.length === 0)
      throw new CertificateRequestError('bad-response', 'the CA answered without a chain or roots');
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return { chain, bundle, privateKeyPem, via: mtls === undefined ? 'token' : 'mtls' };
  }

  /** Reads `controlPlaneTls.caFile` once (a failure is a request failure, retried). */
  async #loadTlsRoots(): Promise<void> {
    const file = this.#o.controlPlaneTls?.caFile;
    if (file === undefined || this.#tlsRoots !== undefined) return;
    let roots: string[];
    try {
      roots = splitCertificates(await readFile(file, 'utf8'));
    } catch (err) {
      throw new CertificateRequestError(
        'ca-file',
        `controlPlaneTls.caFile ${file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (roots.length === 0)
      throw new CertificateRequestError(
        'ca-file',
        `controlPlaneTls.caFile ${file}: no PEM certificate in it`,
      );
    this.#tlsRoots = Object.freeze(roots);
  }

  #protos(): XdsProtos {
    return this.#o.protos ?? loadXdsProtos();
  }

  #callError(err: ServiceError | null, address: string): CertificateRequestError {
    if (err === null) return new CertificateRequestError('bad-response', 'empty answer');
    const details = err.details || err.message;
    const caReason = /^([a-z-]+):/.exec(details)?.[1];
    const where = `CA at ${address}`;
    const refused: readonly grpcStatus[] = [
      grpcStatus.UNAUTHENTICATED,
      grpcStatus.PERMISSION_DENIED,
      grpcStatus.INVALID_ARGUMENT,
      grpcStatus.FAILED_PRECONDITION,
    ];
    if (refused.includes(err.code))
      return new CertificateRequestError(
        CA_REASONS[caReason ?? ''] ?? 'refused',
        `${where} refused: ${details}`,
        { cause: err },
      );
    if (err.code === grpcStatus.UNIMPLEMENTED)
      return new CertificateRequestError(
        'unavailable',
        `${where}: the control plane runs no CA (start it with a CA directory)`,
        { cause: err },
      );
    return new CertificateRequestError('unavailable', `${where}: ${details}`, { cause: err });
  }

  /** Takes a new chain (first issue, rotation) or a new SDS bundle for the current one. */
  #install(
    chain: readonly string[],
    caBundle: readonly string[],
    privateKeyPem: string,
    fresh: boolean,
  ): void {
    const { clock, logger, namespace, serviceAccount } = this.#o;
    let leaf: X509Certificate;
    let context: SecureContext;
    const bundle = mergeBundles(caBundle, this.#sdsRoots ?? []);
    try {
      leaf = new X509Certificate(chain[0] ?? '');
      const spiffeId = uriSans(leaf).find((u) => u.startsWith('spiffe://'));
      if (spiffeId === undefined)
        throw new CertificateRequestError('bad-response', 'the leaf has no SPIFFE URI SAN');
      if (!spiffeId.endsWith(`/ns/${namespace}/sa/${serviceAccount}`))
        throw new CertificateRequestError(
          'workload-mismatch',
          `the join token is for ${spiffeId}, but this workload is namespace ${namespace}, service account ${serviceAccount} (workload.namespace / workload.serviceAccount)`,
        );
      context = createSecureContext({
        key: privateKeyPem,
        cert: chain.join(''),
        ca: bundle,
        minVersion: 'TLSv1.2',
      });
      this.#spiffeId = spiffeId;
    } catch (err) {
      if (fresh) this.#failed(err);
      else
        logger.error('workload certificates: trust bundle update not applied', {
          error: (err as Error).message,
        });
      return;
    }
    const material = createWorkloadTlsMaterial(
      {
        spiffeId: this.#spiffeId,
        certChainPem: chain,
        trustBundlePem: bundle,
        serialNumber: leaf.serialNumber,
        notBeforeMs: leaf.validFromDate.getTime(),
        notAfterMs: leaf.validToDate.getTime(),
      },
      privateKeyPem,
    );
    this.#material = material;
    this.#context = context;
    this.#caBundle = Object.freeze([...caBundle]);
    if (fresh) {
      this.#issued++;
      const now = clock.now();
      // Half of what is left at receipt (the CA backdates notBefore, so not of notAfter - notBefore).
      const delayMs = Math.max(0, Math.floor((material.notAfterMs - now) / 2));
      this.#schedule(delayMs);
      logger.info(
        this.#issued === 1 ? 'workload certificate issued' : 'workload certificate rotated',
        {
          spiffeId: material.spiffeId,
          serialNumber: material.serialNumber,
          notAfter: new Date(material.notAfterMs).toISOString(),
          renewInMs: delayMs,
          rotations: this.#issued - 1,
        },
      );
      for (const settle of [...this.#waiters]) settle();
    }
    for (const listener of [...this.#listeners]) {
      try {
        listener(material);
      } catch (err) {
        logger.error('workload certificates: onChange listener threw', {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  #schedule(delayMs: number): void {
    const { clock } = this.#o;
    if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
    this.#nextRequestAtMs = clock.now() + delayMs;
    this.#renewTimer = clock.setTimeout(() => {
      this.#renewTimer = undefined;
      this.#request();
    }, delayMs);
  }

  #failed(err: unknown): void {
    const error =
      err instanceof CertificateRequestError
        ? err
        : new CertificateRequestError('bad-response', (err as Error).message, { cause: err });
    // A CSR naming the learnt identity was refused: maybe the trust domain changed; ask for
    // whatever the token proves next time.
    if (error.reason === 'identity-mismatch') this.#spiffeId = undefined;
    this.#failures++;
    this.#failuresByReason[error.reason] = (this.#failuresByReason[error.reason] ?? 0) + 1;
    this.#lastFailure = error;
    const m = this.#material;
    const now = this.#o.clock.now();
    const delayMs = this.#backoff.nextDelayMs();
    this.#schedule(delayMs);
    const fields = {
      reason: error.reason,
      error: error.message,
      retryInMs: delayMs,
      current: m === undefined ? undefined : m.spiffeId,
      currentNotAfter: m === undefined ? undefined : new Date(m.notAfterMs).toISOString(),
    };
    if (m === undefined || now >= m.notAfterMs)
      this.#o.logger.error('workload certificate request failed; no valid certificate', fields);
    else
      this.#o.logger.warn(
        'workload certificate request failed; the current one keeps serving',
        fields,
      );
  }
}
