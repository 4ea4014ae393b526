// Outcomes of the mesh's mTLS handshakes (outbound today, inbound with mesh.serve's TLS): why one
// failed, as a small closed set of reasons, counted and published on a diagnostics channel.
import { channel } from 'node:diagnostics_channel';

/** `weft:tls:handshake`: one message per TLS handshake the SDK made, ok or not. */
export const TLS_HANDSHAKE_CHANNEL = 'weft:tls:handshake' as const;

/** Why a TLS handshake failed (the `reason` label of `weft_sdk_tls_handshake_failures_total`). */
export type TlsHandshakeFailureReason =
  /** The peer's certificate is fine but its SPIFFE ID is not one the cluster expects. */
  | 'bad-san'
  /** The peer's chain does not lead to a root of the trust bundle. */
  | 'untrusted'
  | 'expired'
  | 'not-yet-valid'
  /** The peer refused us (a TLS alert: our certificate, protocol). */
  | 'peer-rejected'
  /** The connection ended or timed out during the handshake. */
  | 'connection'
  | 'other';

/** Every reason, for zero-initialised metrics. */
export const TLS_HANDSHAKE_FAILURE_REASONS: readonly TlsHandshakeFailureReason[] = Object.freeze([
  'bad-san',
  'untrusted',
  'expired',
  'not-yet-valid',
  'peer-rejected',
  'connection',
  'other',
]);

/** A message of {@link TLS_HANDSHAKE_CHANNEL}. */
export interface TlsHandshakeEvent {
  readonly direction: 'outbound' | 'inbound';
  /** The cluster (outbound) or service (inbound). */
  readonly target: string;
  /** `address:port` of the peer. */
  readonly peer: string;
  readonly ok: boolean;
  readonly reason: TlsHandshakeFailureReason | undefined;
  /** The peer's URI SAN (SPIFFE ID) when it showed a certificate. */
  readonly peerSpiffeId: string | undefined;
  readonly peerNotBeforeMs: number | undefined;
  readonly peerNotAfterMs: number | undefined;
  /** Serial and validity of the certificate this process presented. */
  readonly ownSerialNumber: string | undefined;
  readonly ownNotBeforeMs: number | undefined;
  readonly ownNotAfterMs: number | undefined;
  /** When the handshake ended, ms since the epoch (mesh clock). */
  readonly atMs: number;
}

/** OpenSSL verify codes (Node's `err.code`) and what they mean for the mesh. */
const REASON_BY_CODE: Readonly<Record<string, TlsHandshakeFailureReason>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted',
  CERT_SIGNATURE_FAILURE: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
  CERT_REJECTED: 'untrusted',
  INVALID_CA: 'untrusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'bad-san',
  ECONNRESET: 'connection',
  EPIPE: 'connection',
  ETIMEDOUT: 'connection',
  UND_ERR_CONNECT_TIMEOUT: 'connection',
};

/** The reason of a handshake error as Node reports it. */
export function handshakeFailureReason(err: unknown): TlsHandshakeFailureReason {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  const known = REASON_BY_CODE[code];
  if (known !== undefined) return known;
  if (code.startsWith('ERR_SSL_') && code.includes('ALERT')) return 'peer-rejected';
  return 'other';
}

/** Plain counters of handshakes (a part of `mesh.stats().security`). */
export interface TlsHandshakeStats {
  readonly ok: number;
  readonly failures: Readonly<Record<TlsHandshakeFailureReason, number>>;
}

/** Counts handshakes and publishes each on {@link TLS_HANDSHAKE_CHANNEL}. */
export class TlsHandshakes {
  ok = 0;
  readonly failures: Record<TlsHandshakeFailureReason, number> = Object.fromEntries(
    TLS_HANDSHAKE_FAILURE_REASONS.map((r) => [r, 0]),
  ) as Record<TlsHandshakeFailureReason, number>;
  readonly #channel = channel(TLS_HANDSHAKE_CHANNEL);

  record(event: TlsHandshakeEvent): void {
    if (event.ok) this.ok++;
    else this.failures[event.reason ?? 'other']++;
    if (this.#channel.hasSubscribers) this.#channel.publish(event);
  }

  stats(): TlsHandshakeStats {
    return { ok: this.ok, failures: { ...this.failures } };
  }
}
