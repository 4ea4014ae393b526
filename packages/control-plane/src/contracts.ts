// The contract between the control plane's halves: config (YAML → model), translate
// (model → xDS objects per client view) and snapshot/server (xDS objects → ADS pushes).
import type { AdsTypeUrl } from '@weft/xds-client';

/** Which kind of xDS client a stream belongs to; the translator shapes resources per kind (DESIGN "xDS conventions"). */
export type ClientKind = 'weft' | 'grpc' | 'envoy';

/** A client's locality, from its bootstrap `node.locality` (empty string when unset). */
export interface ClientLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/**
 * Node metadata key a gRPC client sets (to the bootstrap `certificate_providers` instance name,
 * `default` as `weft bootstrap --cert-dir` writes it) to say it can do xDS mTLS (gRFC A29): it is
 * then sent ISTIO_MUTUAL clusters with certificate-provider instances; without it, plaintext.
 */
export const CERTIFICATE_PROVIDER_METADATA_KEY = 'WEFT_CERTIFICATE_PROVIDER';

/** Everything about a client that changes what it is sent. Snapshots are cached per distinct view. */
export interface ClientView {
  readonly kind: ClientKind;
  readonly locality: ClientLocality;
  /**
   * gRPC clients: the bootstrap certificate-provider instance named in their node metadata
   * ({@link CERTIFICATE_PROVIDER_METADATA_KEY}); absent = the client cannot do xDS mTLS.
   */
  readonly certificateProvider?: string;
}

/**
 * xDS resources as plain protobuf objects (snake_case field names as in the .proto files; a nested
 * Any written `{ '@type': TYPE_URL, ...fields }`), by type URL, then by resource name. Encoded with
 * `XdsProtos.encodeAny`.
 */
export type XdsResourceSet = ReadonlyMap<
  AdsTypeUrl,
  ReadonlyMap<string, Readonly<Record<string, unknown>>>
>;

/** A problem in the user's configuration, located as precisely as the input allows. */
export interface LocatedIssue {
  /** Path of the YAML file, relative to the config directory. */
  readonly file: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number;
  /** `Kind/namespace/name` of the resource, when known. */
  readonly resource?: string;
  /** Dotted path inside the resource, e.g. `spec.http[0].route[1].weight`. */
  readonly field: string;
  readonly message: string;
}

/** `file:line: Kind/ns/name: field: message` — the one format the CLI, logs and admin API print. */
export function formatLocatedIssue(issue: LocatedIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const parts = [where];
  if (issue.resource !== undefined) parts.push(issue.resource);
  if (issue.field !== '') parts.push(issue.field);
  return `${parts.join(': ')}: ${issue.message}`;
}

/** Something the translator changed for a client kind (e.g. LEAST_REQUEST → ROUND_ROBIN for gRPC); shown in the admin API. */
export interface TranslationNote {
  readonly clientKind: ClientKind;
  readonly resource: string;
  readonly message: string;
}
