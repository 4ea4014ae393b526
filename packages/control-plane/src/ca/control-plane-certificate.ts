// The control plane's own serving certificate for the mTLS xDS port (Istio's istiod 15012):
// `spiffe://TD/ns/weft-system/sa/weft-control-plane`, signed by its mesh CA, renewed at half-life
// and re-issued when the CA is reloaded (root rotation). A grpc-js CertificateProvider for both
// the identity and the client-certificate roots (the trust bundle).
import { generateKeyPairSync } from 'node:crypto';
import type { experimental } from '@grpc/grpc-js';
import { createCsr, type Clock, type Logger, type TimerHandle } from '@weft/xds-client';
import { spiffeIdFor, type MeshCa } from './mesh-ca.js';

/** The control plane's namespace and service account in its SPIFFE id. */
export const CONTROL_PLANE_NAMESPACE = 'weft-system';
export const CONTROL_PLANE_SERVICE_ACCOUNT = 'weft-control-plane';
/** Retry delay after a failed issuance, ms. */
const RETRY_MS = 10_000;

/** The serving certificate in the admin `/config` document (no key). */
export interface ServingCertificateStatus {
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notAfter: string;
  readonly renewals: number;
}

/** Issues and renews the mTLS port's certificate; a grpc-js CertificateProvider. */
export class ControlPlaneCertificate implements experimental.CertificateProvider {
  readonly #ca: MeshCa;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  #identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  #bundle: { caCertificate: Buffer } | null = null;
  #status: ServingCertificateStatus | undefined;
  #timer: TimerHandle | undefined;
  #issued = 0;
  #closed = false;

  constructor(options: { readonly ca: MeshCa; readonly clock: Clock; readonly logger: Logger }) {
    this.#ca = options.ca;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** The current certificate (undefined until one was issued). */
  status(): ServingCertificateStatus | undefined {
    return this.#status;
  }

  /**
   * Issues a new certificate now and publishes the current trust bundle: first once the trust
   * domain is known (the first config), again when it changes, after a CA reload, at half-life.
   */
  refresh(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const spiffeId = spiffeIdFor(
      this.#ca.trustDomain,
      CONTROL_PLANE_NAMESPACE,
      CONTROL_PLANE_SERVICE_ACCOUNT,
    );
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const result = this.#ca.signForIdentity({
      csrPem: createCsr({ privateKey, publicKey, uris: [spiffeId] }),
      namespace: CONTROL_PLANE_NAMESPACE,
      serviceAccount: CONTROL_PLANE_SERVICE_ACCOUNT,
      serving: true,
    });
    if (!result.ok) {
      this.#logger.error('mTLS xDS port: cannot issue the serving certificate; retrying', {
        reason: result.reason,
        error: result.message,
        retryInMs: RETRY_MS,
      });
      this.#schedule(RETRY_MS);
      return;
    }
    this.#issued += 1;
    this.#identity = {
      certificate: Buffer.from(result.certChainPem.join('')),
      privateKey: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    };
    this.#bundle = { caCertificate: Buffer.from(result.trustBundlePem.join('')) };
    this.#status = {
      spiffeId: result.spiffeId,
      serialNumber: result.serialNumber,
      notAfter: new Date(result.notAfterMs).toISOString(),
      renewals: this.#issued - 1,
    };
    const renewInMs = Math.max(1000, Math.floor((result.notAfterMs - this.#clock.now()) / 2));
    this.#schedule(renewInMs);
    this.#logger.info(
      this.#issued === 1
        ? 'mTLS xDS port: serving certificate issued'
        : 'mTLS xDS port: serving certificate renewed',
      { spiffeId, serialNumber: result.serialNumber, notAfter: this.#status.notAfter, renewInMs },
    );
    for (const l of [...this.#identityListeners]) l(this.#identity);
    for (const l of [...this.#caListeners]) l(this.#bundle);
  }

  /** Stops renewing. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    // Asynchronously: grpc-js registers its server's watcher only after this call returns.
    queueMicrotask(() => {
      if (this.#bundle !== null && this.#caListeners.has(listener)) listener(this.#bundle);
    });
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.#identity !== null && this.#identityListeners.has(listener))
        listener(this.#identity);
    });
  }

  removeIdentityCertificateListener(
    listener: experimental.IdentityCertificateUpdateListener,
  ): void {
    this.#identityListeners.delete(listener);
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.refresh();
    }, delayMs);
    this.#timer.unref?.();
  }
}
