// Counters of the inbound security layer (mesh.serve / gRPC server credentials): connections by
// transport, TLS handshake failures by reason, RBAC decisions by policy. Plain data for
// mesh.stats() and the admin /metrics. Issue 5 "Must show: handshake failures by reason".

import { Counter, type Registry } from 'prom-client';

/** Why an inbound connection was refused before any request was read. */
export type InboundHandshakeFailureReason =
  | 'no_certificate'
  | 'untrusted_ca'
  | 'expired'
  | 'not_yet_valid'
  | 'plaintext_rejected'
  | 'tls_rejected'
  | 'no_server_certificate'
  | 'no_listener'
  | 'sniff_timeout'
  | 'handshake_error';

/** One RBAC decision series. */
export interface RbacDecisionCount {
  /** `ns[NS]-policy[NAME]-rule[I]`, or `''` (no policy: nothing applied, or no ALLOW matched). */
  readonly policy: string;
  /** `ALLOW`, `DENY`, `AUDIT`, or `''` when no RBAC filter applies. */
  readonly action: string;
  /** `allowed`, `denied` or `logged` (AUDIT). */
  readonly result: 'allowed' | 'denied' | 'logged';
  readonly count: number;
}

/** A snapshot of {@link InboundSecurityStats}. */
export interface InboundSecurityStatsSnapshot {
  /** Inbound listeners being watched (one per served port). */
  readonly listeners: number;
  /** Accepted connections by transport. */
  readonly connections: { readonly mtls: number; readonly plaintext: number };
  readonly handshakeFailures: Readonly<Partial<Record<InboundHandshakeFailureReason, number>>>;
  readonly rbac: readonly RbacDecisionCount[];
}

/** Mutable counters shared by every server of one mesh. */
export class InboundSecurityStats {
  listeners = 0;
  readonly connections = { mtls: 0, plaintext: 0 };
  readonly #failures = new Map<InboundHandshakeFailureReason, number>();
  readonly #rbac = new Map<string, RbacDecisionCount>();

  handshakeFailed(reason: InboundHandshakeFailureReason): void {
    this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + 1);
  }

  rbacDecision(policy: string, action: string, result: RbacDecisionCount['result']): void {
    const key = `${policy}\n${action}\n${result}`;
    const prev = this.#rbac.get(key);
    this.#rbac.set(key, { policy, action, result, count: (prev?.count ?? 0) + 1 });
  }

  snapshot(): InboundSecurityStatsSnapshot {
    return {
      listeners: this.listeners,
      connections: { ...this.connections },
      handshakeFailures: Object.fromEntries(this.#failures),
      rbac: [...this.#rbac.values()],
    };
  }
}

/**
 * `weft_sdk_rbac_decisions_total{policy,action,result}` and
 * `weft_sdk_inbound_connections_total{security}`, read at scrape time. Inbound handshake
 * failures join the outbound ones in `weft_sdk_tls_handshake_failures_total{direction="inbound"}`
 * (admin/security-metrics.ts).
 */
export function registerInboundSecurityMetrics(
  registry: Registry,
  read: () => InboundSecurityStatsSnapshot,
): void {
  new Counter({
    name: 'weft_sdk_rbac_decisions_total',
    help: 'Inbound RBAC decisions by policy (ns[NS]-policy[NAME]-rule[I]), action and result',
    labelNames: ['policy', 'action', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read().rbac)
        this.inc({ policy: d.policy, action: d.action, result: d.result }, d.count);
    },
  });
  new Counter({
    name: 'weft_sdk_inbound_connections_total',
    help: 'Inbound connections accepted by mesh.serve, by transport security',
    labelNames: ['security'],
    registers: [registry],
    collect() {
      this.reset();
      const c = read().connections;
      this.inc({ security: 'mutual_tls' }, c.mtls);
      this.inc({ security: 'none' }, c.plaintext);
    },
  });
}
