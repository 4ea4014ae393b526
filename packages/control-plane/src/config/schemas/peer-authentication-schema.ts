// Schema of Istio `security.istio.io/v1` PeerAuthentication `spec`: the inbound mTLS mode of the
// workloads it selects, with per-port overrides.
// Spec: https://istio.io/latest/docs/reference/config/security/peer_authentication/
import { z } from 'zod';
import { istioObject, stringMap } from './schema-helpers.js';

/** Istio's `PeerAuthentication.MutualTLS.Mode`. */
export const mtlsModeSchema = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

const mtlsSchema = istioObject({ mode: mtlsModeSchema.optional() });

/** PeerAuthentication `spec`. */
export const peerAuthenticationSpecSchema = istioObject(
  {
    selector: istioObject({ matchLabels: stringMap.optional() }).optional(),
    mtls: mtlsSchema.optional(),
    /** Keys are port numbers (as strings in YAML maps). Istio requires a selector with them. */
    portLevelMtls: z
      .record(
        z.string().regex(/^[1-9][0-9]{0,4}$/, { message: 'expected a port number' }),
        mtlsSchema,
      )
      .optional(),
  },
  ['targetRef', 'targetRefs'],
);

/** A parsed PeerAuthentication `spec`. */
export type PeerAuthenticationSpec = z.output<typeof peerAuthenticationSpecSchema>;
