// Schema of Weft's own `weft.dev/v1alpha1` MeshConfig `spec`: mesh-wide settings Istio has no
// resource for. Spec: DESIGN.md "Configuration: what users write".
import { z } from 'zod';
import { durationMs } from './schema-helpers.js';

/** MeshConfig `spec`. */
export const meshConfigSpecSchema = z.strictObject({
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: 'expected a DNS-like trust domain' })
    .optional(),
  /** Namespace whose selector-less PeerAuthentication / AuthorizationPolicy apply mesh-wide. */
  rootNamespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'expected a namespace name' })
    .optional(),
  /** Tracing the control plane pushes to every client (HCM `tracing` of each Listener). */
  tracing: z
    .strictObject({
      /**
       * Percent (0-100) of requests that start a trace which are sampled; Istio's
       * `defaultConfig.tracing.sampling`. Default 1 (Istio's).
       */
      sampling: z.number().min(0).max(100).optional(),
    })
    .optional(),
  defaults: z
    .strictObject({
      connectTimeout: durationMs(1).optional(),
      certificateTtl: durationMs(60_000).optional(),
    })
    .optional(),
});

/** A parsed MeshConfig `spec`. */
export type MeshConfigSpec = z.output<typeof meshConfigSpecSchema>;
