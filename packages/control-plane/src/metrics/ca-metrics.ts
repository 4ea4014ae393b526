// Prometheus metrics of the mesh CA (weft_cp_ca_*), fed by MeshCa events; root expiry is read at
// scrape time. https://prometheus.io/docs/practices/naming/
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '@weft/xds-client';
import {
  CERTIFICATE_REFUSAL_REASONS,
  type CertificateRefusedEvent,
  type MeshCa,
} from '../ca/mesh-ca.js';

const NAMES = [
  'weft_cp_ca_certificates_issued_total',
  'weft_cp_ca_certificates_refused_total',
  'weft_cp_ca_root_expiry_seconds',
  'weft_cp_ca_workload_certificate_expiry_seconds',
] as const;

/** The `weft_cp_ca_*` metrics of one CA; {@link unregister} removes them (and the listeners). */
export class CaMetrics {
  readonly #registry: Registry;
  readonly #ca: MeshCa;
  readonly #issued: Counter;
  readonly #refused: Counter<'reason'>;

  constructor(options: {
    readonly registry: Registry;
    readonly ca: MeshCa;
    readonly clock: Clock;
  }) {
    const { registry, ca, clock } = options;
    this.#registry = registry;
    this.#ca = ca;
    const registers = [registry];
    this.#issued = new Counter({
      name: 'weft_cp_ca_certificates_issued_total',
      help: 'Workload certificates signed by the mesh CA.',
      registers,
    });
    this.#refused = new Counter({
      name: 'weft_cp_ca_certificates_refused_total',
      help: 'Certificate requests refused, by reason (malformed-token|forged-token|expired-token|identity-mismatch|invalid-csr|invalid-ttl|ca-expired|no-client-certificate|untrusted-certificate|expired-certificate|no-spiffe-id).',
      labelNames: ['reason'] as const,
      registers,
    });
    new Gauge({
      name: 'weft_cp_ca_root_expiry_seconds',
      help: 'Seconds until each trusted root expires, by root (SHA-256 fingerprint) and active (true|false).',
      labelNames: ['root', 'active'] as const,
      registers,
      collect() {
        this.reset();
        const now = clock.now();
        for (const [i, root] of ca.roots.entries())
          this.set(
            { root: root.fingerprint256, active: String(i === 0) },
            (root.validToDate.getTime() - now) / 1000,
          );
      },
    });
    new Gauge({
      name: 'weft_cp_ca_workload_certificate_expiry_seconds',
      help: 'Seconds until the latest certificate issued to each workload identity expires, by spiffe_id (negative: expired and not renewed).',
      labelNames: ['spiffe_id'] as const,
      registers,
      collect() {
        this.reset();
        const now = clock.now();
        for (const w of ca.workloadCertificates())
          this.set({ spiffe_id: w.spiffeId }, (w.notAfterMs - now) / 1000);
      },
    });
    this.#issued.inc(0);
    for (const reason of CERTIFICATE_REFUSAL_REASONS) this.#refused.inc({ reason }, 0);
    ca.on('issued', this.#onIssued);
    ca.on('refused', this.#onRefused);
  }

  /** Stops listening and removes the metrics from the registry. */
  unregister(): void {
    this.#ca.off('issued', this.#onIssued);
    this.#ca.off('refused', this.#onRefused);
    for (const name of NAMES) this.#registry.removeSingleMetric(name);
  }

  readonly #onIssued = (): void => {
    this.#issued.inc();
  };

  readonly #onRefused = (event: CertificateRefusedEvent): void => {
    this.#refused.inc({ reason: event.reason });
  };
}
