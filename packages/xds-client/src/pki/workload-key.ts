// Workload side of certificate issuance: an EC P-256 key generated locally and a CSR for one
// SPIFFE identity (used by `weft cert issue`, tests and the SDK's workload certificate agent).
import { generateKeyPairSync } from 'node:crypto';
import { createCsr } from './x509-der.js';

/** A fresh key pair (PEM) and a CSR asking for `spiffeId`. */
export function createWorkloadCsr(spiffeId: string): {
  readonly privateKeyPem: string;
  readonly csrPem: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    csrPem: createCsr({ privateKey, publicKey, uris: [spiffeId] }),
  };
}
