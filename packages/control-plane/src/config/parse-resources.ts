// Checks each YAML document's envelope (apiVersion, kind, metadata), finds its kind and validates
// its spec against that kind's schema. Spec: DESIGN.md "Configuration: what users write".
import { z } from 'zod';
import type { LocatedIssue } from '../contracts.js';
import { destinationRuleSpecSchema } from './schemas/destination-rule-schema.js';
import type { DestinationRuleSpec } from './schemas/destination-rule-schema.js';
import { localRateLimitSpecSchema } from './schemas/local-rate-limit-schema.js';
import type { LocalRateLimitSpec } from './schemas/local-rate-limit-schema.js';
import { authorizationPolicySpecSchema } from './schemas/authorization-policy-schema.js';
import type { AuthorizationPolicySpec } from './schemas/authorization-policy-schema.js';
import { peerAuthenticationSpecSchema } from './schemas/peer-authentication-schema.js';
import type { PeerAuthenticationSpec } from './schemas/peer-authentication-schema.js';
import { meshConfigSpecSchema } from './schemas/mesh-config-schema.js';
import type { MeshConfigSpec } from './schemas/mesh-config-schema.js';
import { NOT_SUPPORTED } from './schemas/schema-helpers.js';
import { serviceEntrySpecSchema } from './schemas/service-entry-schema.js';
import type { ServiceEntrySpec } from './schemas/service-entry-schema.js';
import { virtualServiceSpecSchema } from './schemas/virtual-service-schema.js';
import type { VirtualServiceSpec } from './schemas/virtual-service-schema.js';
import { workloadEntrySpecSchema } from './schemas/workload-entry-schema.js';
import type { WorkloadEntrySpec } from './schemas/workload-entry-schema.js';
import { formatFieldPath } from './yaml-documents.js';
import type { FieldPath, SourceDocument } from './yaml-documents.js';
import { locateZodIssues } from './zod-issues.js';

const ISTIO_NETWORKING_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const ISTIO_SECURITY_VERSIONS = ['v1', 'v1beta1'];

/** Common part of every parsed resource. */
interface ResourceBase {
  readonly namespace: string;
  readonly name: string;
  /** `Kind/namespace/name`. */
  readonly ref: string;
  readonly source: SourceDocument;
}

/** A resource whose envelope and spec validated. */
export type ParsedResource =
  | (ResourceBase & { readonly kind: 'VirtualService'; readonly spec: VirtualServiceSpec })
  | (ResourceBase & { readonly kind: 'DestinationRule'; readonly spec: DestinationRuleSpec })
  | (ResourceBase & { readonly kind: 'ServiceEntry'; readonly spec: ServiceEntrySpec })
  | (ResourceBase & { readonly kind: 'WorkloadEntry'; readonly spec: WorkloadEntrySpec })
  | (ResourceBase & { readonly kind: 'MeshConfig'; readonly spec: MeshConfigSpec })
  | (ResourceBase & { readonly kind: 'LocalRateLimit'; readonly spec: LocalRateLimitSpec })
  | (ResourceBase & {
      readonly kind: 'PeerAuthentication';
      readonly spec: PeerAuthenticationSpec;
    })
  | (ResourceBase & {
      readonly kind: 'AuthorizationPolicy';
      readonly spec: AuthorizationPolicySpec;
    });

const SPEC_SCHEMAS = {
  VirtualService: virtualServiceSpecSchema,
  DestinationRule: destinationRuleSpecSchema,
  ServiceEntry: serviceEntrySpecSchema,
  WorkloadEntry: workloadEntrySpecSchema,
  MeshConfig: meshConfigSpecSchema,
  LocalRateLimit: localRateLimitSpecSchema,
  PeerAuthentication: peerAuthenticationSpecSchema,
  AuthorizationPolicy: authorizationPolicySpecSchema,
} as const;

/** Weft's own kinds (`weft.dev/v1alpha1`). */
const WEFT_KINDS: readonly string[] = ['MeshConfig', 'LocalRateLimit'];

/** Istio's `security.istio.io` kinds Weft implements. */
const SECURITY_KINDS: readonly string[] = ['PeerAuthentication', 'AuthorizationPolicy'];

type SupportedKind = keyof typeof SPEC_SCHEMAS;

/** Kinds Istio (or Weft) defines that Weft does not implement yet, by API group. */
const KNOWN_UNSUPPORTED: Readonly<Record<string, readonly string[]>> = {
  'networking.istio.io': ['Gateway', 'Sidecar', 'EnvoyFilter', 'WorkloadGroup', 'ProxyConfig'],
  'security.istio.io': ['RequestAuthentication'],
  'telemetry.istio.io': ['Telemetry'],
};

const envelopeSchema = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  metadata: z.strictObject({
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.unknown(),
});

function str(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The kind a document declares, or an issue message explaining why it is not loadable. */
function classify(apiVersion: string, kind: string): SupportedKind | { message: string } {
  const [group = '', version = ''] = apiVersion.includes('/')
    ? apiVersion.split('/', 2)
    : ['', apiVersion];
  if (group === 'security.istio.io' && SECURITY_KINDS.includes(kind)) {
    if (ISTIO_SECURITY_VERSIONS.includes(version)) return kind as SupportedKind;
    return {
      message: `unsupported apiVersion ${apiVersion} for ${kind} (expected security.istio.io/v1 or v1beta1)`,
    };
  }
  if (
    group === 'networking.istio.io' &&
    kind in SPEC_SCHEMAS &&
    !WEFT_KINDS.includes(kind) &&
    !SECURITY_KINDS.includes(kind)
  ) {
    if (ISTIO_NETWORKING_VERSIONS.includes(version)) return kind as SupportedKind;
    return {
      message: `unsupported apiVersion ${apiVersion} for ${kind} (expected networking.istio.io/v1, v1beta1 or v1alpha3)`,
    };
  }
  if (group === 'weft.dev' && WEFT_KINDS.includes(kind)) {
    if (version === 'v1alpha1') return kind as SupportedKind;
    return {
      message: `unsupported apiVersion ${apiVersion} for ${kind} (expected weft.dev/v1alpha1)`,
    };
  }
  if (KNOWN_UNSUPPORTED[group]?.includes(kind) === true)
    return { message: `kind ${kind} (${apiVersion}) is ${NOT_SUPPORTED}` };
  return { message: `unknown kind ${kind} in apiVersion ${apiVersion}` };
}

/**
 * Validates every document; returns the resources that passed and an issue for every problem
 * (including duplicates of `Kind/namespace/name`, reported at the second occurrence).
 */
export function parseResources(documents: readonly SourceDocument[]): {
  resources: ParsedResource[];
  issues: LocatedIssue[];
} {
  const resources: ParsedResource[] = [];
  const issues: LocatedIssue[] = [];
  const seen = new Map<string, SourceDocument>();
  for (const source of documents) {
    const value = source.value;
    const kindText = str(value, 'kind');
    const metadata =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)['metadata']
        : undefined;
    const nameText = str(metadata, 'name');
    const nsText = str(metadata, 'namespace') ?? 'default';
    const ref =
      kindText !== undefined && nameText !== undefined
        ? `${kindText}/${nsText}/${nameText}`
        : undefined;
    const at = (path: FieldPath, message: string): LocatedIssue => ({
      file: source.file,
      line: source.lineOf(path),
      ...(ref === undefined ? {} : { resource: ref }),
      field: formatFieldPath(path),
      message,
    });

    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(at([], 'expected a resource (a map with apiVersion, kind, metadata, spec)'));
      continue;
    }
    const envelope = envelopeSchema.safeParse(value);
    if (!envelope.success) {
      issues.push(...locateZodIssues(envelope.error.issues, source, ref, []));
      continue;
    }
    const { apiVersion, kind, metadata: meta } = envelope.data;
    const cls = classify(apiVersion, kind);
    if (typeof cls !== 'string') {
      issues.push(at(['kind'], cls.message));
      continue;
    }
    const fullRef = `${kind}/${nsText}/${meta.name}`;
    const earlier = seen.get(fullRef);
    if (earlier !== undefined) {
      issues.push(
        at(
          ['metadata', 'name'],
          `duplicate resource (first defined in ${earlier.file}:${earlier.lineOf([])})`,
        ),
      );
      continue;
    }
    seen.set(fullRef, source);
    if (envelope.data.spec === undefined) {
      issues.push(at(['spec'], 'required'));
      continue;
    }
    const parsed = SPEC_SCHEMAS[cls].safeParse(envelope.data.spec);
    if (!parsed.success) {
      issues.push(...locateZodIssues(parsed.error.issues, source, fullRef, ['spec']));
      continue;
    }
    const base = { namespace: nsText, name: meta.name, ref: fullRef, source };
    // The schema table and the union are keyed alike; the cast restores the pairing TS cannot see.
    resources.push({ ...base, kind: cls, spec: parsed.data } as ParsedResource);
  }
  return { resources, issues };
}
