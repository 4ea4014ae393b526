// The generic resource-type interface: the xDS client is generic over values of this shape, so a
// new type (SDS, RLS, …) is one file plus one list entry. (STYLE rules 22-25; gRFC A88.)
import type { AnyMessage, XdsProtos } from '../protos/xds-protos.js';

/** What a decoder may consult besides the resource itself. */
export interface DecodeContext {
  readonly protos: XdsProtos;
}

/** One validation problem inside a resource, e.g. `{ path: 'virtual_hosts[0].domains', message: 'must not be empty' }`. */
export interface ResourceIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * The outcome of decoding one resource. Never thrown: a resource that fails validation yields
 * `issues` (and its name when it could be read, so the client can NACK it by name and keep the
 * previous value of that name in force).
 */
export type DecodeResult<T> =
  | { readonly ok: true; readonly name: string; readonly value: T }
  | {
      readonly ok: false;
      readonly name: string | undefined;
      readonly issues: readonly ResourceIssue[];
    };

/** A resource type: a value, passed to the client, never a global registration. */
export interface XdsResourceType<T> {
  readonly typeUrl: string;
  /** 'lds', 'rds', 'cds', 'eds', 'sds': used in logs, metrics and the admin API. */
  readonly shortName: string;
  /** True for LDS and CDS: in SotW a resource missing from a response is deleted. */
  readonly allResourcesRequiredInSotW: boolean;
  /** Decodes and validates. MUST NOT throw. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<T>;
  /** Structural equality: an update equal to the cached value notifies no watcher. */
  isEqual(a: T, b: T): boolean;
}

/** Formats a resource's issues the way NACK error_detail and logs show them. */
export function formatIssues(issues: readonly ResourceIssue[]): string {
  return issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ');
}
