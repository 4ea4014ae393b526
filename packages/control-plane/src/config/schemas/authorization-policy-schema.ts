// Schema of Istio `security.istio.io/v1` AuthorizationPolicy `spec`: ALLOW / DENY / AUDIT rules on
// the source identity, the operation and request headers. Fields Weft does not implement are
// errors naming them. Spec: https://istio.io/latest/docs/reference/config/security/authorization-policy/
import { z } from 'zod';
import { istioObject, stringMap } from './schema-helpers.js';

const strings = z.array(z.string().min(1)).min(1, { message: 'must not be empty when present' });
const portStrings = z
  .array(
    z.union([z.number().int(), z.string()]).transform((value, ctx) => {
      const n = typeof value === 'number' ? value : Number(value);
      if (
        !Number.isInteger(n) ||
        n < 1 ||
        n > 65535 ||
        (typeof value === 'string' && !/^\d+$/.test(value))
      ) {
        ctx.addIssue({ code: 'custom', message: `invalid port ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return n;
    }),
  )
  .min(1, { message: 'must not be empty when present' });

const sourceSchema = istioObject(
  {
    principals: strings.optional(),
    notPrincipals: strings.optional(),
    namespaces: strings.optional(),
    notNamespaces: strings.optional(),
  },
  [
    'requestPrincipals',
    'notRequestPrincipals',
    'ipBlocks',
    'notIpBlocks',
    'remoteIpBlocks',
    'notRemoteIpBlocks',
    'serviceAccounts',
    'notServiceAccounts',
  ],
);

const operationSchema = istioObject(
  {
    methods: strings.optional(),
    notMethods: strings.optional(),
    paths: strings.optional(),
    notPaths: strings.optional(),
    ports: portStrings.optional(),
    notPorts: portStrings.optional(),
  },
  ['hosts', 'notHosts'],
);

/** `when[].key` Weft evaluates: `request.headers[NAME]`, `source.principal`, `source.namespace`. */
export const WHEN_KEY_PATTERN =
  /^(request\.headers\[[^\]\s]+\]|source\.principal|source\.namespace)$/;

const conditionSchema = istioObject({
  key: z.string().regex(WHEN_KEY_PATTERN, {
    message:
      'unsupported key (Weft supports request.headers[NAME], source.principal, source.namespace)',
  }),
  values: strings.optional(),
  notValues: strings.optional(),
}).superRefine((c, ctx) => {
  if (c.values === undefined && c.notValues === undefined)
    ctx.addIssue({ code: 'custom', message: 'set values or notValues' });
});

const ruleSchema = istioObject({
  from: z.array(istioObject({ source: sourceSchema })).optional(),
  to: z.array(istioObject({ operation: operationSchema })).optional(),
  when: z.array(conditionSchema).optional(),
});

/** AuthorizationPolicy `spec`. */
export const authorizationPolicySpecSchema = istioObject(
  {
    selector: istioObject({ matchLabels: stringMap.optional() }).optional(),
    action: z
      .enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'])
      .superRefine((action, ctx) => {
        if (action === 'CUSTOM')
          ctx.addIssue({
            code: 'custom',
            message: 'action CUSTOM (external authorization) is not supported by Weft yet',
          });
      })
      .optional(),
    rules: z.array(ruleSchema).optional(),
  },
  ['provider', 'targetRef', 'targetRefs'],
);

/** A parsed AuthorizationPolicy `spec`. */
export type AuthorizationPolicySpec = z.output<typeof authorizationPolicySpecSchema>;
