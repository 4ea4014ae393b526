// The `weft.ca.v1.CertificateService` gRPC service (xds-client protos/weft/ca/v1/ca.proto) on the
// ADS port: CreateCertificate → MeshCa.issue (join token), or on the mTLS port without a token
// MeshCa.renew (the client certificate); refusals mapped to gRPC status codes.
import {
  status as grpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { peerCertificateOf } from '../server/ads-server.js';
import type { CertificateRefusalReason, MeshCa } from './mesh-ca.js';

/** Fully qualified name of the certificate service. */
export const CA_SERVICE_NAME = 'weft.ca.v1.CertificateService';

/** A `CreateCertificateRequest` as proto-loader decodes it (keepCase). */
export interface CreateCertificateRequestMessage {
  readonly csr_pem?: string;
  readonly token?: string;
  readonly ttl_seconds?: number;
}

/** A `CreateCertificateResponse` in proto-loader object form. */
export interface CreateCertificateResponseMessage {
  readonly cert_chain_pem: readonly string[];
  readonly trust_bundle_pem: readonly string[];
}

const STATUS_BY_REASON: Readonly<Record<CertificateRefusalReason, grpcStatus>> = {
  'malformed-token': grpcStatus.UNAUTHENTICATED,
  'forged-token': grpcStatus.UNAUTHENTICATED,
  'expired-token': grpcStatus.UNAUTHENTICATED,
  'identity-mismatch': grpcStatus.PERMISSION_DENIED,
  'invalid-csr': grpcStatus.INVALID_ARGUMENT,
  'invalid-ttl': grpcStatus.INVALID_ARGUMENT,
  'ca-expired': grpcStatus.FAILED_PRECONDITION,
  'no-client-certificate': grpcStatus.UNAUTHENTICATED,
  'untrusted-certificate': grpcStatus.UNAUTHENTICATED,
  'expired-certificate': grpcStatus.UNAUTHENTICATED,
  'no-spiffe-id': grpcStatus.UNAUTHENTICATED,
};

/** Where the service is served: the plaintext xDS port (token only) or the mTLS one. */
export interface CaServiceOptions {
  /**
   * mTLS port: a request without a token is a renewal authenticated by the client certificate
   * (MeshCa.renew); with a token it is a token request as on the plaintext port. Default false.
   */
  readonly mtls?: boolean;
}

/** The handler map for `Server.addService(protos.service(CA_SERVICE_NAME), …)`. */
export function createCaServiceImplementation(
  ca: MeshCa,
  options: CaServiceOptions = {},
): UntypedServiceImplementation {
  const mtls = options.mtls ?? false;
  return {
    CreateCertificate: (
      call: ServerUnaryCall<CreateCertificateRequestMessage, CreateCertificateResponseMessage>,
      callback: sendUnaryData<CreateCertificateResponseMessage>,
    ) => {
      const { csr_pem: csrPem = '', token = '', ttl_seconds: ttlSeconds = 0 } = call.request;
      const ttlMs = ttlSeconds * 1000;
      const result =
        mtls && token === ''
          ? ca.renew({ csrPem, peerCertificate: peerCertificateOf(call), ttlMs })
          : ca.issue({ csrPem, token, ttlMs });
      if (!result.ok) {
        callback({
          code: STATUS_BY_REASON[result.reason],
          details: `${result.reason}: ${result.message}`,
        });
        return;
      }
      callback(null, {
        cert_chain_pem: result.certChainPem,
        trust_bundle_pem: result.trustBundlePem,
      });
    },
  };
}
