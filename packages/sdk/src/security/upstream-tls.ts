// Outbound mTLS for one connection: dials `tls.connect` with the workload's CURRENT secure context
// (so a rotation reaches every new connection), trusts the mesh's bundle, and checks the server's
// SPIFFE ID (URI SAN) against the cluster's SAN matchers instead of its hostname. Envoy's
// UpstreamTlsContext with Istio's ISTIO_MUTUAL shape (SDS `default` + `ROOTCA`).
import type { Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Clock, UpstreamTlsUpdate } from '@weft/xds-client';
import { subjectAltNameUris, WeftError } from '@weft/xds-client';
import { compileStringMatch } from '../routing/string-matcher.js';
import type { WorkloadCertificateAgent } from './certificate-agent.js';
import {
  handshakeFailureReason,
  type TlsHandshakeFailureReason,
  type TlsHandshakes,
} from './tls-handshakes.js';
import { noCertificateError } from './workload-certificates.js';

/** The SDS name of the workload certificate (Istio's). */
export const SDS_DEFAULT_SECRET = 'default' as const;
/** The SDS name of the trust bundle (Istio's). */
export const SDS_ROOT_CA_SECRET = 'ROOTCA' as const;

/** A handshake that failed, with its reason; a connect failure (the request was never sent). */
export class TlsHandshakeError extends Error {
  /** `ERR_TLS_HANDSHAKE`: the pools treat every `ERR_TLS_*` code as a connect failure. */
  readonly code = 'ERR_TLS_HANDSHAKE';
  constructor(
    readonly reason: TlsHandshakeFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A cluster's TLS settings, checked and compiled once per CDS update. */
export interface UpstreamTlsPolicy {
  readonly cluster: string;
  readonly sni: string;
  /** Empty: any SPIFFE ID the bundle trusts is accepted (Envoy: no matchers = no SAN check). */
  readonly sanMatchers: readonly ((san: string) => boolean)[];
  /** What the matchers ask for, for messages. */
  readonly expected: string;
  /** Stable text of the settings: pools are replaced when it changes. */
  readonly key: string;
}

/**
 * Checks that the cluster's TLS needs only what the SDK has (its own certificate as SDS `default`,
 * the bundle as `ROOTCA`) and compiles its SAN matchers. A WeftError (WEFT_UNSUPPORTED) names the
 * field otherwise: never plaintext instead.
 */
export function upstreamTlsPolicy(
  cluster: string,
  tls: UpstreamTlsUpdate,
): UpstreamTlsPolicy | WeftError {
  const problems: string[] = [];
  if (tls.certificateProviderInstance !== undefined || tls.validationProviderInstance !== undefined)
    problems.push('certificate provider instances (gRPC file-watcher) are not supported; use SDS');
  if (
    tls.certificateSecretNames.length !== 1 ||
    tls.certificateSecretNames[0] !== SDS_DEFAULT_SECRET
  )
    problems.push(
      `tls_certificate_sds_secret_configs must name exactly "${SDS_DEFAULT_SECRET}" (the workload certificate), got ${JSON.stringify(tls.certificateSecretNames)}`,
    );
  if (tls.validationSecretName !== undefined && tls.validationSecretName !== SDS_ROOT_CA_SECRET)
    problems.push(
      `validation secret must be "${SDS_ROOT_CA_SECRET}", got ${JSON.stringify(tls.validationSecretName)}`,
    );
  if (problems.length > 0)
    return new WeftError(
      'WEFT_UNSUPPORTED',
      `cluster ${cluster}: transport_socket UpstreamTlsContext: ${problems.join('; ')}`,
    );
  const expected = tls.matchSubjectAltNames
    .map((m) => (m.kind === 'safe_regex' ? `~${m.regex}` : `${m.kind}:${m.value}`))
    .join(', ');
  return Object.freeze({
    cluster,
    sni: tls.sni,
    sanMatchers: tls.matchSubjectAltNames.map(compileStringMatch),
    expected,
    key: JSON.stringify([tls.sni, tls.matchSubjectAltNames, tls.alpnProtocols]),
  });
}

/** What {@link connectUpstreamTls} needs beyond the policy. */
export interface UpstreamTlsConnect {
  readonly policy: UpstreamTlsPolicy;
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Undefined: no identity configured (every connection fails with WEFT_TLS_NO_CERTIFICATE). */
  readonly certificates: WorkloadCertificateAgent | undefined;
  readonly handshakes: TlsHandshakes;
  readonly clock: Clock;
  /** A TCP connection already made (grpc-js connects, then hands the socket over); default: dial host:port. */
  readonly socket?: Socket;
  /** ALPN to offer; default `['http/1.1']` (gRPC: `['h2']`). */
  readonly alpnProtocols?: readonly string[];
}

/**
 * Opens one mTLS connection. The callback gets the socket after a verified handshake, or a
 * WeftError (no certificate) / TlsHandshakeError (with its reason; counted) / socket error.
 */
export function connectUpstreamTls(
  o: UpstreamTlsConnect,
  callback: (err: Error | null, socket: TLSSocket | null) => void,
): void {
  const { policy, certificates, handshakes, clock } = o;
  const material = certificates?.current();
  const secureContext = certificates?.secureContext();
  if (certificates !== undefined && material === undefined && certificates.stats().issued === 0) {
    // The first certificate is on its way (the mesh just started): wait for it, bounded by the
    // agent's ready timeout, rather than failing the first requests.
    certificates.ready().then(
      () => {
        connectUpstreamTls(o, callback);
      },
      (err: unknown) => {
        callback(err as Error, null);
      },
    );
    return;
  }
  if (material === undefined || secureContext === undefined) {
    callback(
      certificates === undefined
        ? noCertificateError(
            `cluster ${policy.cluster}`,
            'the cluster requires mTLS (ISTIO_MUTUAL) but this mesh has no identity: pass createMesh({ identity: { token } }) or set WEFT_JOIN_TOKEN',
          )
        : certificates.unavailableError(`cluster ${policy.cluster}: mTLS`),
      null,
    );
    return;
  }
  const peer = `${o.host}:${o.port}`;
  let sanError: TlsHandshakeError | undefined = undefined;
  let settled = false;
  const socket = tlsConnect({
    ...(o.socket === undefined ? { host: o.host, port: o.port } : { socket: o.socket }),
    secureContext,
    // SNI only for names (RFC 6066 forbids IP literals); the identity check below is SPIFFE's.
    ...(policy.sni === '' ? {} : { servername: policy.sni }),
    ALPNProtocols: [...(o.alpnProtocols ?? ['http/1.1'])],
    rejectUnauthorized: true,
    // No session resumption: every connection presents the current certificate.
    session: undefined,
    checkServerIdentity: (_host, cert) => {
      const sans = subjectAltNameUris(cert.subjectaltname);
      if (policy.sanMatchers.length === 0) return undefined;
      if (sans.some((san) => policy.sanMatchers.some((match) => match(san)))) return undefined;
      sanError = new TlsHandshakeError(
        'bad-san',
        `cluster ${policy.cluster}: TLS handshake with ${peer} failed (bad-san): the server is ${sans.join(', ') || 'without a URI SAN'}, expected ${policy.expected}`,
      );
      return sanError;
    },
  });
  const record = (ok: boolean, reason: TlsHandshakeFailureReason | undefined): void => {
    // Null once the socket lost its handle (a failed handshake), despite the declared type.
    const cert = socket.getPeerCertificate() as PeerCertificate | null;
    const has = cert !== null && 'valid_to' in cert;
    handshakes.record({
      direction: 'outbound',
      target: policy.cluster,
      peer,
      ok,
      reason,
      peerSpiffeId: has ? subjectAltNameUris(cert.subjectaltname)[0] : undefined,
      peerNotBeforeMs: has ? new Date(cert.valid_from).getTime() : undefined,
      peerNotAfterMs: has ? new Date(cert.valid_to).getTime() : undefined,
      ownSerialNumber: material.serialNumber,
      ownNotBeforeMs: material.notBeforeMs,
      ownNotAfterMs: material.notAfterMs,
      atMs: clock.now(),
    });
  };
  const fail = (err: Error): void => {
    if (settled) return;
    settled = true;
    socket.setTimeout(0);
    if ((err as { syscall?: unknown }).syscall === 'connect') {
      // TCP never connected (refused, unreachable): a plain connect failure, no handshake.
      socket.destroy();
      callback(err, null);
      return;
    }
    const reason = sanError !== undefined ? 'bad-san' : handshakeFailureReason(err);
    record(false, reason);
    socket.destroy();
    callback(
      sanError ??
        new TlsHandshakeError(
          reason,
          `cluster ${policy.cluster}: TLS handshake with ${peer} failed (${reason}): ${err.message}`,
          { cause: err },
        ),
      null,
    );
  };
  // The connect timeout covers TCP and the handshake (an idle-socket timer: no mesh timer needed).
  socket.setTimeout(o.timeoutMs, () => {
    const err = new Error(`no TLS handshake within ${o.timeoutMs}ms`) as Error & { code: string };
    err.code = 'ETIMEDOUT';
    fail(err);
  });
  socket.once('error', fail);
  socket.once('secureConnect', () => {
    if (settled) return;
    settled = true;
    socket.setTimeout(0);
    socket.removeListener('error', fail);
    record(true, undefined);
    callback(null, socket);
  });
}
