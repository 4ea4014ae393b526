// The certificate agent's side of the mesh CA call: why a request failed, the control plane's
// mTLS port (channel options, server identity, `caFile` roots), and the CreateCertificate call
// with its timeout.
import { readFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import {
  credentials,
  status as grpcStatus,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { splitCertificates, type Clock, type TimerHandle } from '@weft/xds-client';
import type { WorkloadTlsMaterial } from './workload-certificates.js';

/** The CA's gRPC service (control plane `CA_SERVICE_NAME`). */
export const CA_SERVICE = 'weft.ca.v1.CertificateService';
/** How long one CreateCertificate call may take, in ms. */
export const REQUEST_TIMEOUT_MS = 10_000;

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

/** A failed certificate request, with the reason it is counted under. */
export class CertificateRequestError extends Error {
  constructor(
    readonly reason: CertificateFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface CreateCertificateResponse {
  readonly cert_chain_pem?: readonly string[];
  readonly trust_bundle_pem?: readonly string[];
}

export type Unary = (
  request: object,
  callback: (err: ServiceError | null, response?: CreateCertificateResponse) => void,
) => { cancel(): void };

const CA_REASONS: Readonly<Record<string, CertificateFailureReason>> = {
  'malformed-token': 'token-refused',
  'forged-token': 'token-refused',
  'expired-token': 'token-refused',
  'identity-mismatch': 'identity-mismatch',
};

/** The request error for a failed CreateCertificate call (CA refusal reasons mapped). */
export function caCallError(err: ServiceError | null, address: string): CertificateRequestError {
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

/**
 * One CreateCertificate call on `client`, cancelled after {@link REQUEST_TIMEOUT_MS}; rejects
 * with a {@link CertificateRequestError}.
 */
export function callCreateCertificate(
  client: object,
  call: Unary,
  request: object,
  where: string,
  clock: Clock,
): Promise<CreateCertificateResponse> {
  return new Promise<CreateCertificateResponse>((resolve, reject) => {
    let timer: TimerHandle | undefined = undefined;
    let timedOut = false;
    const pending = call.call(client, request, (err, res) => {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (timedOut)
        reject(
          new CertificateRequestError(
            'unavailable',
            `CA at ${where}: no answer within ${REQUEST_TIMEOUT_MS}ms`,
          ),
        );
      else if (err !== null || res === undefined) reject(caCallError(err, where));
      else resolve(res);
    });
    timer = clock.setTimeout(() => {
      timer = undefined;
      timedOut = true;
      pending.cancel();
    }, REQUEST_TIMEOUT_MS);
  });
}

/**
 * Credentials for the control plane's mTLS port with the certificate `m`, trusting `roots`; the
 * server must present `spiffe://TD/ns/weft-system/sa/weft-control-plane` (TD: `m`'s).
 */
export function controlPlaneTlsCredentials(
  roots: readonly string[],
  m: WorkloadTlsMaterial,
): ChannelCredentials {
  const trustDomain = /^spiffe:\/\/([^/]+)\//.exec(m.spiffeId)?.[1] ?? '';
  const expected = `spiffe://${trustDomain}${CONTROL_PLANE_IDENTITY_SUFFIX}`;
  return credentials.createSsl(
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
  );
}

/** The roots of `controlPlaneTls.caFile`; rejects with a `ca-file` {@link CertificateRequestError}. */
export async function readControlPlaneRoots(file: string): Promise<string[]> {
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
  return roots;
}
