// The JSON shapes the control plane reports (admin `/config`, reload results, events).
// DESIGN.md "Configuration": a rejection is visible in the CLI, admin API, metric and log.
import { TYPE_SHORT_NAMES } from './server/client-status.js';
import type { MeshModel } from './config/mesh-model.js';
import {
  formatLocatedIssue,
  type ClientView,
  type LocatedIssue,
  type TranslationNote,
} from './contracts.js';
import type { Snapshot } from './snapshot/snapshot.js';

/** Why a config was not applied. */
export interface ConfigRejection {
  /** `invalid-config`: the loader found issues; `inconsistent`: translation or the consistency check failed. */
  readonly reason: 'invalid-config' | 'inconsistent';
  /** One line per issue: `file:line: Kind/ns/name: field: message` (or a consistency problem). */
  readonly issues: readonly string[];
  /** Located issues, when the loader produced them. */
  readonly details: readonly LocatedIssue[];
  /** ms since the epoch (injected clock). */
  readonly atMs: number;
  /** ISO 8601 of `atMs`. */
  readonly at: string;
}

/** Outcome of `ControlPlane.reload()`. */
export type ReloadResult =
  | { readonly ok: true; readonly version: number; readonly files: readonly string[] }
  | { readonly ok: false; readonly rejection: ConfigRejection };

/** Payload of 'config-applied'. */
export interface ConfigAppliedEvent {
  /** Snapshot generation now being served. */
  readonly version: number;
  readonly files: readonly string[];
  readonly notes: readonly TranslationNote[];
  /** When the snapshots were swapped in, ms since the epoch (injected clock). */
  readonly atMs: number;
  /** What caused the rebuild: the config directory, the workload registry (same config, new registrations) or a new CA trust bundle. */
  readonly trigger: 'config' | 'registry' | 'ca';
}

/** Payload of 'snapshot-build': one build of every view's snapshot for a loaded config. */
export interface SnapshotBuildEvent {
  /** Translate + encode + consistency check of every view, ms (injected clock). */
  readonly durationMs: number;
  /** False when the consistency check rejected the result. */
  readonly ok: boolean;
}

/** A short summary of the model for `/config`. */
export interface ModelSummary {
  readonly services: readonly {
    host: string;
    namespace: string;
    ports: readonly number[];
    endpoints: number;
  }[];
  readonly virtualServices: readonly string[];
  readonly destinationPolicies: readonly string[];
  /** Hosts with a LocalRateLimit (not applied to gRPC clients: see the snapshot notes). */
  readonly localRateLimits: readonly string[];
  /** PeerAuthentication and AuthorizationPolicy refs (`Kind/namespace/name`). */
  readonly securityPolicies: readonly string[];
}

/** One served snapshot in `/config`. */
export interface SnapshotSummary {
  readonly view: ClientView;
  /** Version per short type name. */
  readonly versions: Readonly<Record<string, string>>;
  /** Resource names per short type name. */
  readonly resources: Readonly<Record<string, readonly string[]>>;
}

/** The `/config` document. */
export interface ConfigDocument {
  readonly configDir: string;
  /** Bound xDS ports; `xdsTlsPort` null without the mTLS port. */
  readonly xdsPort: number;
  readonly xdsTlsPort: number | null;
  /** The mTLS port's own certificate (no key). */
  readonly servingCertificate?: {
    readonly spiffeId: string;
    readonly serialNumber: string;
    readonly notAfter: string;
    readonly renewals: number;
  };
  /** Snapshot generation being served (0 = none). */
  readonly version: number;
  readonly ready: boolean;
  readonly files: readonly string[];
  readonly appliedAtMs: number | null;
  readonly model: ModelSummary | null;
  readonly snapshots: readonly SnapshotSummary[];
  readonly notes: readonly TranslationNote[];
  readonly lastRejection: ConfigRejection | null;
  readonly counters: { readonly applied: number; readonly rejected: number };
}

/** Builds a rejection record. */
export function createRejection(
  reason: ConfigRejection['reason'],
  details: readonly LocatedIssue[],
  problems: readonly string[],
  atMs: number,
): ConfigRejection {
  return {
    reason,
    issues: [...details.map(formatLocatedIssue), ...problems],
    details,
    atMs,
    at: new Date(atMs).toISOString(),
  };
}

/** Summarises a model for `/config`. */
export function summarizeModel(model: MeshModel): ModelSummary {
  return {
    services: [...model.services.values()].map((s) => ({
      host: s.host,
      namespace: s.namespace,
      ports: s.ports.map((p) => p.number),
      endpoints: s.endpoints.length,
    })),
    virtualServices: [...model.virtualServices.keys()],
    destinationPolicies: [...model.destinationPolicies.keys()],
    localRateLimits: [...model.localRateLimits.keys()],
    securityPolicies: [...model.peerAuthentications, ...model.authorizationPolicies].map(
      (p) => p.source,
    ),
  };
}

/** Summarises one snapshot for `/config`. */
export function summarizeSnapshot(view: ClientView, snapshot: Snapshot): SnapshotSummary {
  const versions: Record<string, string> = {};
  const resources: Record<string, readonly string[]> = {};
  for (const [typeUrl, entry] of snapshot.types) {
    versions[TYPE_SHORT_NAMES[typeUrl]] = entry.version;
    resources[TYPE_SHORT_NAMES[typeUrl]] = [...entry.resources.keys()];
  }
  return { view, versions, resources };
}
