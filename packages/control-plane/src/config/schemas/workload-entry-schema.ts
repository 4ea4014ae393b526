// Schema of a WorkloadEntry `spec`, also the shape of ServiceEntry `endpoints[]`.
// Spec: https://istio.io/latest/docs/reference/config/networking/workload-entry/
import { z } from 'zod';
import {
  NOT_SUPPORTED,
  ipAddress,
  istioObject,
  portNumber,
  stringMap,
  uint32,
} from './schema-helpers.js';

/** WorkloadEntry `spec` (and ServiceEntry `endpoints[]`). */
export const workloadEntrySpecSchema = istioObject({
  address: ipAddress,
  ports: z.record(z.string().min(1), portNumber).optional(),
  labels: stringMap.optional(),
  locality: z
    .string()
    .regex(/^[^/]*(\/[^/]*){0,2}$/, { message: 'expected region/zone/subzone' })
    .optional(),
  weight: uint32.optional(),
  serviceAccount: z.string().optional(),
  network: z
    .string()
    .refine((n) => n === '', { message: `multi-network meshes are ${NOT_SUPPORTED}` })
    .optional(),
});

/** A parsed WorkloadEntry `spec`. */
export type WorkloadEntrySpec = z.output<typeof workloadEntrySpecSchema>;
