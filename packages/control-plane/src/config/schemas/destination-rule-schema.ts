// Schema of a DestinationRule `spec` (networking.istio.io): the subset Weft implements, every other
// Istio field rejected by name. Spec: https://istio.io/latest/docs/reference/config/networking/destination-rule/
import { z } from 'zod';
import { NOT_SUPPORTED, durationMs, istioObject, stringMap, uint32 } from './schema-helpers.js';

const LOCALITY_PATTERN = /^[^/]+(\/[^/]+){0,2}$/;

const localityPattern = z
  .string()
  .regex(LOCALITY_PATTERN, { message: 'expected a locality region[/zone[/subzone]]' });

const consistentHashSchema = istioObject(
  {
    httpHeaderName: z.string().min(1).optional(),
    useSourceIp: z.literal(true).optional(),
    httpQueryParameterName: z.string().min(1).optional(),
    ringHash: istioObject({ minimumRingSize: uint32.min(1).optional() }).optional(),
    minimumRingSize: uint32.min(1).optional(),
  },
  ['httpCookie', 'maglev'],
).superRefine((h, ctx) => {
  const keys = [h.httpHeaderName, h.useSourceIp, h.httpQueryParameterName].filter(
    (v) => v !== undefined,
  ).length;
  if (keys !== 1)
    ctx.addIssue({
      code: 'custom',
      message: 'set exactly one of httpHeaderName, useSourceIp, httpQueryParameterName',
    });
});

const localityLbSchema = istioObject(
  {
    enabled: z.boolean().optional(),
    distribute: z
      .array(
        istioObject({
          from: localityPattern,
          to: z.record(localityPattern, uint32).superRefine((to, ctx) => {
            const sum = Object.values(to).reduce((a, b) => a + b, 0);
            if (sum !== 100)
              ctx.addIssue({ code: 'custom', message: `weights must sum to 100, got ${sum}` });
          }),
        }),
      )
      .optional(),
    failover: z
      .array(
        istioObject({
          from: z.string().regex(/^[^/]+$/, { message: 'expected a region' }),
          to: z.string().regex(/^[^/]+$/, { message: 'expected a region' }),
        }).refine((f) => f.from !== f.to, { message: 'from and to must differ' }),
      )
      .optional(),
  },
  ['failoverPriority'],
).superRefine((l, ctx) => {
  if (l.distribute !== undefined && l.failover !== undefined)
    ctx.addIssue({ code: 'custom', message: 'set at most one of distribute, failover' });
  const seen = new Set<string>();
  for (const [i, f] of (l.failover ?? []).entries()) {
    if (seen.has(f.from))
      ctx.addIssue({
        code: 'custom',
        path: ['failover', i, 'from'],
        message: `a failover rule from ${JSON.stringify(f.from)} already exists`,
      });
    seen.add(f.from);
  }
});

const loadBalancerSchema = istioObject(
  {
    simple: z
      .enum(['UNSPECIFIED', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH'])
      .refine((v) => v !== 'PASSTHROUGH', { message: `PASSTHROUGH is ${NOT_SUPPORTED}` })
      .optional(),
    consistentHash: consistentHashSchema.optional(),
    localityLbSetting: localityLbSchema.optional(),
  },
  ['warmupDurationSecs', 'warmup'],
).superRefine((lb, ctx) => {
  if (lb.simple !== undefined && lb.consistentHash !== undefined)
    ctx.addIssue({ code: 'custom', message: 'set at most one of simple, consistentHash' });
});

const connectionPoolSchema = istioObject({
  tcp: istioObject(
    { maxConnections: uint32.min(1).optional(), connectTimeout: durationMs(1).optional() },
    ['tcpKeepalive', 'maxConnectionDuration', 'idleTimeout'],
  ).optional(),
  http: istioObject(
    {
      http1MaxPendingRequests: uint32.min(1).optional(),
      http2MaxRequests: uint32.min(1).optional(),
      maxRequestsPerConnection: uint32.optional(),
      maxRetries: uint32.optional(),
      idleTimeout: durationMs(1).optional(),
    },
    ['h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams'],
  ).optional(),
});

const outlierDetectionSchema = istioObject(
  {
    consecutive5xxErrors: uint32.optional(),
    consecutiveGatewayErrors: uint32.optional(),
    consecutiveLocalOriginFailures: uint32.optional(),
    splitExternalLocalOriginErrors: z.boolean().optional(),
    interval: durationMs(1).optional(),
    baseEjectionTime: durationMs(1).optional(),
    maxEjectionPercent: z.number().int().min(0).max(100).optional(),
    minHealthPercent: z.number().int().min(0).max(100).optional(),
  },
  ['consecutiveErrors'],
);

const tlsSchema = istioObject(
  {
    mode: z
      .enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'])
      .refine((m) => m !== 'SIMPLE' && m !== 'MUTUAL', {
        message: `SIMPLE and MUTUAL are ${NOT_SUPPORTED} (use ISTIO_MUTUAL or DISABLE)`,
      }),
    sni: z.string().optional(),
    subjectAltNames: z.array(z.string().min(1)).optional(),
  },
  [
    'clientCertificate',
    'privateKey',
    'caCertificates',
    'credentialName',
    'insecureSkipVerify',
    'caCrl',
  ],
);

/** A `trafficPolicy` (host level or subset level). */
export const trafficPolicySchema = istioObject(
  {
    loadBalancer: loadBalancerSchema.optional(),
    connectionPool: connectionPoolSchema.optional(),
    outlierDetection: outlierDetectionSchema.optional(),
    tls: tlsSchema.optional(),
  },
  ['portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'],
);

/** DestinationRule `spec`. */
export const destinationRuleSpecSchema = istioObject(
  {
    host: z.string().min(1),
    trafficPolicy: trafficPolicySchema.optional(),
    subsets: z
      .array(
        istioObject({
          name: z.string().regex(/^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/, {
            message: 'expected a DNS label-like name',
          }),
          labels: stringMap.optional(),
          trafficPolicy: trafficPolicySchema.optional(),
        }),
      )
      .optional(),
  },
  ['exportTo', 'workloadSelector'],
);

/** A parsed DestinationRule `spec`. */
export type DestinationRuleSpec = z.output<typeof destinationRuleSpecSchema>;
/** A parsed `trafficPolicy`. */
export type TrafficPolicySpec = z.output<typeof trafficPolicySchema>;
