// Schema of a VirtualService `spec` (networking.istio.io): the subset Weft implements, every other
// Istio field rejected by name. Spec: https://istio.io/latest/docs/reference/config/networking/virtual-service/
import { z } from 'zod';
import {
  NOT_SUPPORTED,
  durationMs,
  istioObject,
  percentSchema,
  portNumber,
  stringMatchSchema,
} from './schema-helpers.js';

/** Envoy HTTP retry conditions (router filter `x-envoy-retry-on`). */
export const HTTP_RETRY_CONDITIONS: readonly string[] = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
];

/** gRPC retry conditions (`x-envoy-retry-grpc-on`); the only ones gRPC's own clients honour. */
export const GRPC_RETRY_CONDITIONS: readonly string[] = [
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
];

/** gRPC status names as Istio's `abort.grpcStatus` spells them → numeric codes. */
export const GRPC_STATUS_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

const portSelector = istioObject({ number: portNumber });

const destinationSchema = istioObject({
  host: z.string().min(1),
  subset: z.string().min(1).optional(),
  port: portSelector.optional(),
});

const routeDestinationSchema = istioObject(
  { destination: destinationSchema, weight: z.number().int().min(0).max(100).optional() },
  ['headers'],
);

const matchSchema = istioObject(
  {
    name: z.string().optional(),
    uri: stringMatchSchema.optional(),
    headers: z.record(z.string().min(1), stringMatchSchema).optional(),
    queryParams: z.record(z.string().min(1), stringMatchSchema).optional(),
    withoutHeaders: z.record(z.string().min(1), stringMatchSchema).optional(),
    ignoreUriCase: z.boolean().optional(),
  },
  [
    'scheme',
    'method',
    'authority',
    'port',
    'sourceLabels',
    'gateways',
    'sourceNamespace',
    'statPrefix',
  ],
);

const retryOnSchema = z.string().superRefine((text, ctx) => {
  for (const token of text.split(',').map((t) => t.trim())) {
    if (/^[1-5]\d\d$/.test(token)) continue;
    if (HTTP_RETRY_CONDITIONS.includes(token) || GRPC_RETRY_CONDITIONS.includes(token)) continue;
    ctx.addIssue({
      code: 'custom',
      message: `unknown retry condition ${JSON.stringify(token)} (expected an Envoy or gRPC retry condition or an HTTP status code)`,
    });
  }
});

const retriesSchema = istioObject(
  {
    attempts: z.number().int().min(0),
    perTryTimeout: durationMs(1).optional(),
    retryOn: retryOnSchema.optional(),
    retryRemoteLocalities: z
      .boolean()
      .refine((v) => !v, { message: `true is ${NOT_SUPPORTED}` })
      .optional(),
  },
  ['retryIgnorePreviousHosts', 'backoff'],
);

const faultSchema = istioObject({
  delay: istioObject({ percentage: percentSchema.optional(), fixedDelay: durationMs(1) }, [
    'exponentialDelay',
    'percent',
  ]).optional(),
  abort: istioObject(
    {
      percentage: percentSchema.optional(),
      httpStatus: z.number().int().min(200).max(599).optional(),
      grpcStatus: z.enum(Object.keys(GRPC_STATUS_CODES) as [string, ...string[]]).optional(),
    },
    ['http2Error'],
  )
    .superRefine((a, ctx) => {
      if ((a.httpStatus === undefined) === (a.grpcStatus === undefined))
        ctx.addIssue({ code: 'custom', message: 'set exactly one of httpStatus, grpcStatus' });
    })
    .optional(),
});

const headerOpsSchema = istioObject({
  set: z.record(z.string().min(1), z.string()).optional(),
  add: z.record(z.string().min(1), z.string()).optional(),
  remove: z.array(z.string().min(1)).optional(),
});

const httpRouteSchema = istioObject(
  {
    name: z.string().optional(),
    match: z.array(matchSchema).optional(),
    route: z.array(routeDestinationSchema).min(1),
    timeout: durationMs(0).optional(),
    retries: retriesSchema.optional(),
    fault: faultSchema.optional(),
    mirror: destinationSchema.optional(),
    mirrorPercentage: percentSchema.optional(),
    headers: istioObject({
      request: headerOpsSchema.optional(),
      response: headerOpsSchema.optional(),
    }).optional(),
  },
  [
    'redirect',
    'directResponse',
    'delegate',
    'rewrite',
    'mirrors',
    'mirrorPercent',
    'mirror_percent',
    'corsPolicy',
  ],
);

/** VirtualService `spec`. */
export const virtualServiceSpecSchema = istioObject(
  {
    hosts: z.array(z.string().min(1)).min(1),
    gateways: z
      .array(z.string())
      .refine((g) => g.every((name) => name === 'mesh'), {
        message: `only 'mesh' is supported; gateways are ${NOT_SUPPORTED}`,
      })
      .optional(),
    http: z.array(httpRouteSchema).optional(),
  },
  ['tls', 'tcp', 'exportTo'],
);

/** A parsed VirtualService `spec`. */
export type VirtualServiceSpec = z.output<typeof virtualServiceSpecSchema>;
