// The admin `/config_dump?node=ID` document: CSDS's per-resource view of one client with every
// resource decoded to plain JSON (Anys unpacked, protobuf-JSON style `@type`).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/status/v3/csds.proto
import type { AnyMessage, XdsProtos } from '@weft/xds-client';
import type { ClientKind } from '../contracts.js';
import type { NackRecord } from '../server/client-status.js';
import type {
  ClientConfigSnapshot,
  ResourceClientStatus,
  ResourceConfigEntry,
  ResourceConfigStatus,
} from '../server/client-resources.js';

/** A decoded resource: `@type` plus the message's fields (snake_case, as in the .proto). */
export type DecodedResource = { readonly '@type': string } & Readonly<Record<string, unknown>>;

/** One resource of one client. */
export interface ResourceDocument {
  readonly name: string;
  /** Version the client holds ('' = none): SotW the response's version_info, Delta the resource's. */
  readonly version: string;
  readonly clientStatus: ResourceClientStatus;
  readonly configStatus: ResourceConfigStatus;
  /** When the client accepted it, ms since the epoch; null = nothing accepted yet. */
  readonly updatedAtMs: number | null;
  /** What the client holds; null = nothing accepted yet. */
  readonly resource: DecodedResource | null;
  /** The last rejected version of this resource, until an accepted update clears it. */
  readonly error: {
    readonly version: string;
    readonly message: string;
    readonly atMs: number;
    readonly resource: DecodedResource;
  } | null;
}

/** One type of one client. */
export interface TypeConfigDocument {
  readonly typeUrl: string;
  readonly subscribed: '*' | readonly string[];
  readonly lastNack: NackRecord | null;
  readonly resources: readonly ResourceDocument[];
}

/** One connected client (one ADS stream). */
export interface ClientConfigDocument {
  readonly streamId: number;
  readonly nodeId: string;
  readonly kind: ClientKind;
  readonly userAgent: string;
  readonly protocol: 'sotw' | 'delta';
  readonly connectedAtMs: number;
  /** The `node` of the stream's first request (snake_case fields). */
  readonly node: Readonly<Record<string, unknown>>;
  /** Keyed by short type name (cds, eds, lds, rds, sds); only types the client asked for. */
  readonly types: Readonly<Record<string, TypeConfigDocument>>;
}

/** The `/config_dump?node=ID` body. */
export interface ConfigDumpDocument {
  readonly nodeId: string;
  /** Every stream of that node id (usually one). */
  readonly clients: readonly ClientConfigDocument[];
}

/** The document for `nodeId`, or undefined when no client with that id is connected. */
export function createConfigDumpDocument(
  protos: XdsProtos,
  nodeId: string,
  configs: readonly ClientConfigSnapshot[],
): ConfigDumpDocument | undefined {
  const mine = configs.filter((c) => c.nodeId === nodeId);
  if (mine.length === 0) return undefined;
  return {
    nodeId,
    clients: mine.map((c) => ({
      streamId: c.streamId,
      nodeId: c.nodeId,
      kind: c.kind,
      userAgent: c.userAgent,
      protocol: c.protocol,
      connectedAtMs: c.connectedAtMs,
      node: c.node as Readonly<Record<string, unknown>>,
      types: Object.fromEntries(
        c.types.map((t) => [
          t.shortName,
          {
            typeUrl: t.typeUrl,
            subscribed: t.subscribed,
            lastNack: t.lastNack,
            resources: t.resources.map((r) => resourceDocument(protos, r)),
          },
        ]),
      ),
    })),
  };
}

function resourceDocument(protos: XdsProtos, r: ResourceConfigEntry): ResourceDocument {
  return {
    name: r.name,
    version: r.version,
    clientStatus: r.clientStatus,
    configStatus: r.configStatus,
    updatedAtMs: r.updatedAtMs,
    resource: r.any === null ? null : decodeAnyDeep(protos, r.any),
    error:
      r.error === null
        ? null
        : {
            version: r.error.version,
            message: r.error.message,
            atMs: r.error.atMs,
            resource: decodeAnyDeep(protos, r.error.any),
          },
  };
}

/**
 * Decodes an Any and every Any nested in it (typed_config, typed_per_filter_config…) to
 * `{ '@type', ...fields }`. An Any of a type not loaded stays `{ '@type', value: base64 }`;
 * other bytes become base64 strings.
 */
export function decodeAnyDeep(protos: XdsProtos, any: AnyMessage): DecodedResource {
  if (!protos.hasType(any.type_url))
    return { '@type': any.type_url, value: Buffer.from(any.value).toString('base64') };
  return { '@type': any.type_url, ...(plain(protos, protos.decodeAny(any)) as object) };
}

function isAny(v: object): v is AnyMessage {
  const r = v as Record<string, unknown>;
  return typeof r['type_url'] === 'string' && r['value'] instanceof Uint8Array;
}

function plain(protos: XdsProtos, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map((x) => plain(protos, x));
  if (typeof v !== 'object' || v === null) return v;
  if (isAny(v)) return decodeAnyDeep(protos, v);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) out[key] = plain(protos, value);
  return out;
}
