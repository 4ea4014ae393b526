// The control plane's CA side: the mesh CA opened from `caDir`, the certificate files it writes,
// the mTLS xDS port's serving certificate and server, and the CA metrics. DESIGN.md "Mesh CA".
import type { Registry } from 'prom-client';
import { experimental } from '@grpc/grpc-js';
import type { Clock, Logger } from '@weft/xds-client';
import { CA_SERVICE_NAME, createCaServiceImplementation } from './ca/ca-service.js';
import { MeshCa, type CaDocument } from './ca/mesh-ca.js';
import { CaMetrics } from './metrics/ca-metrics.js';
import { ControlPlaneCertificate } from './ca/control-plane-certificate.js';
import {
  CertificateFileWriter,
  type CertificateFilesStatus,
  type CertificateFilesTarget,
} from './ca/certificate-files.js';
import type { MeshSettings } from './config/mesh-model.js';
import type { ControlPlanePublish } from './control-plane-events.js';
import { REGISTRY_SERVICE_NAME, type RegistryService } from './registry/registry-service.js';
import {
  AdsServer,
  peerCertificateOf,
  type AdditionalGrpcService,
  type AdsServerOptions,
} from './server/ads-server.js';

/** Options of {@link ControlPlaneCa}. */
export interface ControlPlaneCaOptions {
  /** The CA directory (resolved). */
  readonly dir: string;
  /** Whether there is an mTLS xDS port (it needs a serving certificate). */
  readonly mtlsPort: boolean;
  readonly certificateFiles: readonly CertificateFilesTarget[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly publish: ControlPlanePublish;
}

/** @internal The CA side of a {@link ControlPlane} with `caDir`. */
export class ControlPlaneCa {
  readonly ca: MeshCa;
  /** The mTLS port's certificate; null with `xdsTlsPort: false`. */
  readonly servingCertificate: ControlPlaneCertificate | null;
  readonly #certificateFiles: CertificateFileWriter | null;
  /** Trust domain the certificate files were last written for. */
  #certificateFilesTrustDomain: string | null = null;
  #caMetrics: CaMetrics | null = null;
  readonly #publish: ControlPlanePublish;

  constructor(options: ControlPlaneCaOptions) {
    const { clock, logger } = options;
    this.#publish = options.publish;
    // Throws a ConfigError naming the bad CA file before anything is bound.
    this.ca = MeshCa.open({ dir: options.dir, clock, logger });
    this.ca.on('issued', (event) => this.#publish('certificate-issued', event));
    this.ca.on('refused', (event) => this.#publish('certificate-refused', event));
    this.#certificateFiles =
      options.certificateFiles.length === 0
        ? null
        : new CertificateFileWriter({
            ca: this.ca,
            targets: options.certificateFiles,
            clock,
            logger,
          });
    this.servingCertificate = options.mtlsPort
      ? new ControlPlaneCertificate({ ca: this.ca, clock, logger })
      : null;
  }

  /** The CA service on the plaintext xDS port (join-token requests). */
  plaintextServices(): AdditionalGrpcService[] {
    return [{ name: CA_SERVICE_NAME, implementation: createCaServiceImplementation(this.ca) }];
  }

  /** The mTLS xDS port's server: ADS, the registry and the CA; null without a serving certificate. */
  createMtlsAdsServer(
    server: Omit<AdsServerOptions, 'mtls' | 'services'>,
    registryService: RegistryService,
  ): AdsServer | null {
    const ca = this.ca;
    if (this.servingCertificate === null) return null;
    return new AdsServer({
      ...server,
      mtls: {
        // Requested, not required, at the TLS layer: the CA serves token requests too.
        credentials: experimental.createCertificateProviderServerCredentials(
          this.servingCertificate,
          this.servingCertificate,
          false,
        ),
        verifyPeer: (certificate) => ca.verifyPeer(certificate),
      },
      services: [
        {
          name: REGISTRY_SERVICE_NAME,
          // The certificate is required (guarded by the server); endpoints must be its identity.
          implementation: registryService.implementation({
            peer: (call) => {
              const verdict = ca.verifyPeer(peerCertificateOf(call));
              // Unverifiable now (e.g. expired on the CA clock): matches no endpoint.
              return verdict.ok
                ? verdict.peer
                : { spiffeId: `(${verdict.reason})`, namespace: '', serviceAccount: '' };
            },
            onIdentityMismatch: (message, peerSpiffeId) => {
              this.#publish('mtls-refused', {
                service: REGISTRY_SERVICE_NAME,
                reason: 'identity-mismatch',
                message,
                peerSpiffeId,
              });
            },
          }),
        },
        {
          name: CA_SERVICE_NAME,
          implementation: createCaServiceImplementation(ca, { mtls: true }),
          clientCertificate: 'optional',
        },
      ],
    });
  }

  /** Registers the `weft_cp_ca_*` metrics (after the control plane's own). */
  registerMetrics(registry: Registry, clock: Clock): void {
    this.#caMetrics = new CaMetrics({ registry, ca: this.ca, clock });
  }

  /**
   * Re-reads the CA directory and re-issues the certificate files and the serving certificate;
   * returns whether the trust bundle changed. Throws the directory's ConfigError if it is bad.
   */
  reload(): boolean {
    const before = this.ca.trustBundlePem().join('');
    this.ca.reload();
    this.#certificateFiles?.refreshAll();
    // A new certificate from the (maybe rotated) root, and the new bundle for client certificates.
    this.servingCertificate?.refresh();
    return this.ca.trustBundlePem().join('') !== before;
  }

  /** The admin `/ca` document. */
  document(): CaDocument & { certificateFiles?: CertificateFilesStatus[] } {
    const doc = this.ca.document();
    return this.#certificateFiles === null
      ? doc
      : { ...doc, certificateFiles: this.#certificateFiles.status() };
  }

  /** Follows an applied config's mesh settings (defaults, trust domain). */
  applySettings(settings: MeshSettings): void {
    this.ca.setMeshDefaults(settings);
    // The mTLS port's certificate: issued once the trust domain is known, again when it changes.
    if (
      this.servingCertificate !== null &&
      this.servingCertificate.status()?.spiffeId.startsWith(`spiffe://${settings.trustDomain}/`) !==
        true
    )
      this.servingCertificate.refresh();
    // Written once the trust domain is known, and again when MeshConfig changes it.
    if (
      this.#certificateFiles !== null &&
      this.#certificateFilesTrustDomain !== settings.trustDomain
    ) {
      this.#certificateFilesTrustDomain = settings.trustDomain;
      this.#certificateFiles.refreshAll();
    }
  }

  /** Unregisters the CA metrics and stops renewing the certificate files (after the servers closed). */
  close(): void {
    this.#caMetrics?.unregister();
    this.#certificateFiles?.close();
  }
}
