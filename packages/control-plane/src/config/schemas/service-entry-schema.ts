// Schema of a ServiceEntry `spec`: STATIC resolution with inline endpoints or a workloadSelector.
// Spec: https://istio.io/latest/docs/reference/config/networking/service-entry/
import { z } from 'zod';
import { NOT_SUPPORTED, istioObject, portNumber, stringMap } from './schema-helpers.js';
import { workloadEntrySpecSchema } from './workload-entry-schema.js';

const SUPPORTED_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC'] as const;
const ISTIO_PROTOCOLS = ['HTTPS', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'GRPC-WEB', 'UDP'];

const portSchema = istioObject(
  {
    number: portNumber,
    name: z.string().min(1),
    protocol: z
      .string()
      .superRefine((p, ctx) => {
        if ((SUPPORTED_PROTOCOLS as readonly string[]).includes(p)) return;
        ctx.addIssue({
          code: 'custom',
          message: ISTIO_PROTOCOLS.includes(p)
            ? `protocol ${p} is ${NOT_SUPPORTED} (HTTP, HTTP2, GRPC)`
            : `unknown protocol ${JSON.stringify(p)} (expected HTTP, HTTP2 or GRPC)`,
        });
      })
      .transform((p) => p as (typeof SUPPORTED_PROTOCOLS)[number])
      .optional(),
  },
  ['targetPort'],
);

/** ServiceEntry `spec`. */
export const serviceEntrySpecSchema = istioObject(
  {
    hosts: z.array(z.string().min(1)).min(1),
    ports: z.array(portSchema).min(1),
    location: z.enum(['MESH_INTERNAL', 'MESH_EXTERNAL']).optional(),
    resolution: z
      .string({
        error: (iss) =>
          iss.input === undefined
            ? `required: Weft supports resolution STATIC only (Istio's default NONE is ${NOT_SUPPORTED})`
            : undefined,
      })
      .superRefine((r, ctx) => {
        if (r === 'STATIC') return;
        ctx.addIssue({
          code: 'custom',
          message: ['NONE', 'DNS', 'DNS_ROUND_ROBIN'].includes(r)
            ? `resolution ${r} is ${NOT_SUPPORTED} (STATIC only)`
            : `unknown resolution ${JSON.stringify(r)} (expected STATIC)`,
        });
      }),
    endpoints: z.array(workloadEntrySpecSchema).optional(),
    workloadSelector: istioObject({ labels: stringMap }).optional(),
  },
  ['addresses', 'exportTo', 'subjectAltNames'],
).superRefine((se, ctx) => {
  if (se.endpoints !== undefined && se.workloadSelector !== undefined)
    ctx.addIssue({ code: 'custom', message: 'set at most one of endpoints, workloadSelector' });
  const seen = new Map<number, number>();
  for (const [i, port] of se.ports.entries()) {
    if (seen.has(port.number))
      ctx.addIssue({
        code: 'custom',
        path: ['ports', i, 'number'],
        message: `duplicate port ${port.number} (also ports[${seen.get(port.number) ?? 0}])`,
      });
    seen.set(port.number, i);
  }
});

/** A parsed ServiceEntry `spec`. */
export type ServiceEntrySpec = z.output<typeof serviceEntrySpecSchema>;
