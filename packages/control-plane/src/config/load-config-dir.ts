// The YAML config loader: a directory of Istio (and Weft) resources → a frozen MeshModel, or every
// problem found, each located by file, line, resource and field. Spec: DESIGN.md "Configuration".
import type { LocatedIssue } from '../contracts.js';
import type { ConfigFileCache } from './config-file-cache.js';
import type { MeshModel, MeshSettings } from './mesh-model.js';
import { parseResources } from './parse-resources.js';
import type { ParsedResource } from './parse-resources.js';
import { resolveDestinationPolicies } from './resolve-destination-policies.js';
import { resolveLocalRateLimits } from './resolve-local-rate-limits.js';
import {
  resolveAuthorizationPolicies,
  resolvePeerAuthentications,
} from './resolve-security-policies.js';
import { resolveServices } from './resolve-services.js';
import { resolveVirtualServices } from './resolve-virtual-services.js';
import { resourceIssue } from './resource-issue.js';
import { readYamlDocuments } from './yaml-documents.js';

/** The outcome of loading a config directory. `files` are relative to it, sorted. */
export type ConfigLoadResult =
  | { readonly ok: true; readonly model: MeshModel; readonly files: readonly string[] }
  | {
      readonly ok: false;
      readonly issues: readonly LocatedIssue[];
      readonly files: readonly string[];
    };

/** Options of {@link loadConfigDir}. */
export interface LoadConfigDirOptions {
  /**
   * Keeps each file's parse between loads of the same directory, so only changed files are
   * re-parsed; default: none (every file is parsed, as `weft validate` wants).
   */
  readonly fileCache?: ConfigFileCache;
}

/** Mesh-wide defaults when no MeshConfig sets them. */
export const DEFAULT_MESH_SETTINGS: MeshSettings = Object.freeze({
  trustDomain: 'cluster.local',
  connectTimeoutMs: 10_000,
  certificateTtlMs: 24 * 3_600_000,
  rootNamespace: 'weft-system',
  tracingSamplingPercent: 1,
});

type Of<K extends ParsedResource['kind']> = Extract<ParsedResource, { kind: K }>;

function ofKind<K extends ParsedResource['kind']>(
  resources: readonly ParsedResource[],
  kind: K,
): Of<K>[] {
  return resources.filter((r): r is Of<K> => r.kind === kind);
}

function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    return value;
  }
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Resolves parsed resources into the model; cross-resource problems become issues. */
export function buildMeshModel(resources: readonly ParsedResource[]): {
  model: MeshModel;
  issues: LocatedIssue[];
} {
  const issues: LocatedIssue[] = [];
  const meshConfigs = ofKind(resources, 'MeshConfig');
  for (const extra of meshConfigs.slice(1))
    issues.push(
      resourceIssue(
        extra,
        ['kind'],
        `only one MeshConfig is allowed (first: ${meshConfigs[0]?.ref ?? ''})`,
      ),
    );
  const meshSpec = meshConfigs[0]?.spec;
  const settings: MeshSettings = {
    trustDomain: meshSpec?.trustDomain ?? DEFAULT_MESH_SETTINGS.trustDomain,
    connectTimeoutMs: meshSpec?.defaults?.connectTimeout ?? DEFAULT_MESH_SETTINGS.connectTimeoutMs,
    certificateTtlMs: meshSpec?.defaults?.certificateTtl ?? DEFAULT_MESH_SETTINGS.certificateTtlMs,
    rootNamespace: meshSpec?.rootNamespace ?? DEFAULT_MESH_SETTINGS.rootNamespace,
    tracingSamplingPercent:
      meshSpec?.tracing?.sampling ?? DEFAULT_MESH_SETTINGS.tracingSamplingPercent,
  };
  const svc = resolveServices(
    ofKind(resources, 'ServiceEntry'),
    ofKind(resources, 'WorkloadEntry'),
  );
  issues.push(...svc.issues);
  const dr = resolveDestinationPolicies(
    ofKind(resources, 'DestinationRule'),
    svc.services,
    settings,
  );
  issues.push(...dr.issues);
  const vs = resolveVirtualServices(ofKind(resources, 'VirtualService'), svc.services, dr.policies);
  issues.push(...vs.issues);
  const rl = resolveLocalRateLimits(
    ofKind(resources, 'LocalRateLimit'),
    svc.services,
    vs.virtualServices,
  );
  issues.push(...rl.issues);
  const pa = resolvePeerAuthentications(ofKind(resources, 'PeerAuthentication'));
  issues.push(...pa.issues);
  const az = resolveAuthorizationPolicies(ofKind(resources, 'AuthorizationPolicy'));
  issues.push(...az.issues);
  const model: MeshModel = {
    settings,
    services: svc.services,
    virtualServices: vs.virtualServices,
    destinationPolicies: dr.policies,
    localRateLimits: rl.localRateLimits,
    peerAuthentications: pa.peerAuthentications,
    authorizationPolicies: az.authorizationPolicies,
  };
  return { model: deepFreeze(model), issues };
}

/**
 * Loads every `*.yaml` / `*.yml` under `dir` (recursively, sorted; multi-document files) and
 * validates it all. Never throws for bad input and never stops at the first problem: every issue
 * is returned, sorted by file and line.
 */
export async function loadConfigDir(
  dir: string,
  options: LoadConfigDirOptions = {},
): Promise<ConfigLoadResult> {
  const read = await readYamlDocuments(dir, { fileCache: options.fileCache });
  const parsed = parseResources(read.documents);
  const built = buildMeshModel(parsed.resources);
  const issues = [...read.issues, ...parsed.issues, ...built.issues].sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0),
  );
  if (issues.length > 0) return { ok: false, issues, files: read.files };
  return { ok: true, model: built.model, files: read.files };
}

/** Alias of {@link loadConfigDir} for callers that only want the verdict (`weft validate`). */
export const validateConfigDir = loadConfigDir;
