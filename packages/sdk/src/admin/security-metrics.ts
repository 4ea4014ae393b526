// Prometheus metrics of the workload certificate and mTLS handshakes, read at scrape time from
// `mesh.stats().security` (issue 5 "Must show": seconds until expiry, rotations, handshake
// failures by reason).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MeshSecurityStats } from '../mesh.js';
import { TLS_HANDSHAKE_FAILURE_REASONS } from '../security/tls-handshakes.js';

/**
 * Registers into `registry`:
 * - `weft_sdk_certificate_expiry_seconds{spiffe_id}`: seconds until the workload certificate
 *   expires (no sample without one);
 * - `weft_sdk_certificate_rotations_total`, `weft_sdk_certificate_issued_total`,
 *   `weft_sdk_certificate_failures_total{reason}`;
 * - `weft_sdk_tls_handshakes_total` and `weft_sdk_tls_handshake_failures_total{reason}` (every
 *   reason present from the start).
 */
export function registerSecurityMetrics(
  registry: Registry,
  security: () => MeshSecurityStats,
): void {
  new Gauge({
    name: 'weft_sdk_certificate_expiry_seconds',
    help: 'Seconds until the workload certificate expires',
    labelNames: ['spiffe_id'],
    registers: [registry],
    collect() {
      this.reset();
      const c = security().certificate;
      if (c?.spiffeId !== undefined && c.secondsToExpiry !== undefined)
        this.set({ spiffe_id: c.spiffeId }, c.secondsToExpiry);
    },
  });
  for (const [field, help] of [
    ['rotations', 'Workload certificates received that replaced a previous one'],
    ['issued', 'Workload certificates received'],
  ] as const) {
    new Counter({
      name: `weft_sdk_certificate_${field}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(security().certificate?.[field] ?? 0);
      },
    });
  }
  new Counter({
    name: 'weft_sdk_certificate_failures_total',
    help: 'Failed workload certificate requests, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(security().certificate?.failuresByReason ?? {}))
        this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'weft_sdk_tls_handshakes_total',
    help: 'mTLS handshakes that succeeded',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(security().handshakes.ok);
    },
  });
  new Counter({
    name: 'weft_sdk_tls_handshake_failures_total',
    help: `mTLS handshakes that failed, by reason (${TLS_HANDSHAKE_FAILURE_REASONS.join('|')})`,
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const failures = security().handshakes.failures;
      for (const reason of TLS_HANDSHAKE_FAILURE_REASONS) this.inc({ reason }, failures[reason]);
    },
  });
}
