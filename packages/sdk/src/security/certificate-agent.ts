// The workload certificate agent: generates an EC P-256 key in this process, sends a CSR and the
// join token to the mesh CA (`weft.ca.v1.CertificateService` on the control plane's xDS port),
// keeps the SPIFFE certificate it gets back, and asks again at half its remaining lifetime
// (retrying with backoff while the old one is still valid). Issue 5 "Data plane"; Istio's
// SDS agent does the same (pilot-agent secretcache).
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { WeftError } from '@weft/xds-client';
import {
  Backoff,
  DEFAULT_BACKOFF_OPTIONS,
  certificateUris,
  createCsr,
  loadXdsProtos,
  splitCertificates,
  type Clock,
  type Logger,
  type ResolvedBackoffOptions,
  type TimerHandle,
  type XdsProtos,
} from '@weft/xds-client';
import {
  dumpWorkloadSecrets,
  type WorkloadCertificateStats,
  type WorkloadSecretsDump,
} from './certificate-agent-stats.js';
import {
  CA_SERVICE,
  CONTROL_PLANE_TLS_CHANNEL_OPTIONS,
  CertificateRequestError,
  callCreateCertificate,
  controlPlaneTlsCredentials,
  readControlPlaneRoots,
  type CertificateFailureReason,
  type ResolvedControlPlaneTls,
  type Unary,
} from './certificate-request.js';
import type { ResolvedIdentityOptions } from './identity-options.js';
import {
  createWorkloadTlsMaterial,
  noCertificateError,
  type WorkloadCertificates,
  type WorkloadTlsMaterial,
} from './workload-certificates.js';

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
    return {
      address: tls.address,
      credentials: controlPlaneTlsCredentials(roots, m),
    };
  }

  /** The secrets for /config_dump: chain, SANs, expiry and roots; never the key. */
  dump(): WorkloadSecretsDump | undefined {
    const m = this.#material;
    if (m === undefined) return undefined;
    return dumpWorkloadSecrets(m);
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
    const response = await callCreateCertificate(
      client,
      call,
      { csr_pem: csrPem, token, ttl_seconds: Math.ceil(identity.ttlMs / 1000) },
      where,
      clock,
    ).finally(() => {
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
    const roots = await readControlPlaneRoots(file);
    this.#tlsRoots = Object.freeze(roots);
  }

  #protos(): XdsProtos {
    return this.#o.protos ?? loadXdsProtos();
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
      const spiffeId = certificateUris(leaf).find((u) => u.startsWith('spiffe://'));
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
