// The contract between the SDK's workload certificate agent and everything that uses its TLS
// material (outbound mTLS in the endpoint pools and gRPC, inbound mTLS in mesh.serve). Issue 5
// "Data plane"; SPIFFE X509-SVID: https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
import type { SecureContext } from 'node:tls';
import { WeftError } from '@weft/xds-client';

/**
 * One generation of the workload's TLS material: its SPIFFE certificate, the roots it trusts and
 * (non-enumerable, so it never reaches JSON, stats, logs or /config_dump) its private key.
 * Immutable; a rotation produces a new object.
 */
export interface WorkloadTlsMaterial {
  /** `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`, the leaf's URI SAN. */
  readonly spiffeId: string;
  /** Leaf first, then intermediates (not the root); PEM. */
  readonly certChainPem: readonly string[];
  /** Roots to trust: the CA's answer merged with the SDS `ROOTCA` secret when present; PEM. */
  readonly trustBundlePem: readonly string[];
  /** The leaf's serial number (hex, upper case as Node reports it). */
  readonly serialNumber: string;
  /** The leaf's validity, ms since the epoch. */
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** PKCS #8 PEM of the locally generated EC P-256 key. Non-enumerable; never log it. */
  readonly privateKeyPem: string;
}

/**
 * The workload's certificates as the rest of the SDK sees them. One per mesh, present only when
 * `createMesh({ identity })` (or WEFT_JOIN_TOKEN / WEFT_JOIN_TOKEN_FILE) configured one.
 */
export interface WorkloadCertificates {
  /** The current material; undefined until the first certificate arrived. */
  current(): WorkloadTlsMaterial | undefined;
  /**
   * Resolves with the current material, waiting for the first certificate when there is none
   * yet; rejects with a WeftError (WEFT_TLS_NO_CERTIFICATE) after the agent's ready timeout or
   * when the mesh closes.
   */
  ready(): Promise<WorkloadTlsMaterial>;
  /**
   * A `tls.SecureContext` holding key, chain and trust bundle of the current material (created
   * once per rotation, cached); undefined until the first certificate arrived. New connections
   * should call this at dial time so a rotation reaches them.
   */
  secureContext(): SecureContext | undefined;
  /** Called after every rotation (and the first issue) with the new material; returns `off()`. */
  onChange(listener: (material: WorkloadTlsMaterial) => void): () => void;
}

/** Builds a material object with its private key as a non-enumerable property. */
export function createWorkloadTlsMaterial(
  fields: Omit<WorkloadTlsMaterial, 'privateKeyPem'>,
  privateKeyPem: string,
): WorkloadTlsMaterial {
  const material = {
    spiffeId: fields.spiffeId,
    certChainPem: Object.freeze([...fields.certChainPem]),
    trustBundlePem: Object.freeze([...fields.trustBundlePem]),
    serialNumber: fields.serialNumber,
    notBeforeMs: fields.notBeforeMs,
    notAfterMs: fields.notAfterMs,
  };
  Object.defineProperty(material, 'privateKeyPem', {
    value: privateKeyPem,
    enumerable: false,
    writable: false,
    configurable: false,
  });
  return Object.freeze(material) as WorkloadTlsMaterial;
}

/**
 * The error of a request or server that needs the workload's certificate when there is none:
 * no `identity` configured, or none issued yet (WEFT_TLS_NO_CERTIFICATE, 503, UF).
 */
export function noCertificateError(what: string, detail: string, cause?: unknown): WeftError {
  return new WeftError('WEFT_TLS_NO_CERTIFICATE', `${what}: ${detail}`, { cause });
}
