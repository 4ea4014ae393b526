// An immutable, encoded xDS snapshot: per type URL a content-hash version and per resource its
// encoded Any and version. https://github.com/envoyproxy/go-control-plane/blob/main/pkg/cache/v3/snapshot.go
import { createHash } from 'node:crypto';
import { ADS_TYPE_URLS, type AdsTypeUrl, type AnyMessage, type XdsProtos } from '@weft/xds-client';
import type { XdsResourceSet } from '../contracts.js';
import type { EncodedResource, EncodedResourceCache } from './encoded-resource-cache.js';

/** One encoded resource of a snapshot. */
export interface SnapshotResource {
  readonly name: string;
  /** Content hash of the encoded bytes (hex, 16 chars): the Delta per-resource version. */
  readonly version: string;
  readonly any: AnyMessage;
}

/** All resources of one type in a snapshot. */
export interface SnapshotTypeEntry {
  /** Content hash over every (name, version) of this type; the SotW `version_info`. */
  readonly version: string;
  readonly resources: ReadonlyMap<string, SnapshotResource>;
}

/** An immutable set of encoded resources for one client view. Must not be mutated. */
export interface Snapshot {
  /** Control-plane generation this snapshot was built for (increments per accepted config). */
  readonly generation: number;
  /** Every ADS type URL has an entry (possibly empty). */
  readonly types: ReadonlyMap<AdsTypeUrl, SnapshotTypeEntry>;
}

const HASH_CHARS = 16;

function hash(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const part of parts) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex').slice(0, HASH_CHARS);
}

/** Options of {@link createSnapshot}. */
export interface CreateSnapshotOptions {
  /** Reuses the encoding of resources equal to ones encoded before; default: encode every resource. */
  readonly encodedCache?: EncodedResourceCache;
}

function encodeResource(
  protos: XdsProtos,
  typeUrl: AdsTypeUrl,
  name: string,
  plain: Readonly<Record<string, unknown>>,
): EncodedResource {
  let any: AnyMessage;
  try {
    any = protos.encodeAny(typeUrl, { ...plain });
  } catch (err) {
    throw new Error(
      `${typeUrl} ${name}: cannot encode: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  return { any, version: hash([typeUrl, any.value]) };
}

/** Encodes one resource (name + plain proto) as a snapshot resource. Throws if it does not fit. */
export function encodeSnapshotResource(
  protos: XdsProtos,
  typeUrl: AdsTypeUrl,
  name: string,
  plain: Readonly<Record<string, unknown>>,
): SnapshotResource {
  return { name, ...encodeResource(protos, typeUrl, name, plain) };
}

/**
 * A snapshot with `extra` resources added to one type (per-client resources such as inbound
 * Listeners); the type's version covers them too. `base` is not modified.
 */
export function withExtraResources(
  base: Snapshot,
  typeUrl: AdsTypeUrl,
  extra: readonly SnapshotResource[],
): Snapshot {
  if (extra.length === 0) return base;
  const entry = base.types.get(typeUrl);
  const byName = new Map(entry?.resources ?? []);
  for (const r of extra) byName.set(r.name, r);
  const sorted = new Map([...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const version = hash([typeUrl, ...[...sorted.values()].flatMap((r) => [r.name, r.version])]);
  const types = new Map(base.types);
  types.set(typeUrl, { version, resources: sorted });
  return { generation: base.generation, types };
}

/**
 * Encodes a resource set. Versions are content hashes, so identical input yields identical
 * versions across rebuilds and processes (no push when nothing changed). Throws if a
 * resource does not fit its message type; the caller treats that as a rejected update.
 */
export function createSnapshot(
  protos: XdsProtos,
  resources: XdsResourceSet,
  generation: number,
  options: CreateSnapshotOptions = {},
): Snapshot {
  const { encodedCache } = options;
  const types = new Map<AdsTypeUrl, SnapshotTypeEntry>();
  for (const typeUrl of ADS_TYPE_URLS) {
    const byName = new Map<string, SnapshotResource>();
    const input = resources.get(typeUrl);
    const names = input === undefined ? [] : [...input.keys()].sort();
    for (const name of names) {
      const plain = input?.get(name);
      if (plain === undefined) continue;
      const encode = (): EncodedResource => encodeResource(protos, typeUrl, name, plain);
      const { any, version } =
        encodedCache === undefined ? encode() : encodedCache.lookup(typeUrl, plain, encode);
      byName.set(name, { name, version, any });
    }
    const version = hash([typeUrl, ...[...byName.values()].flatMap((r) => [r.name, r.version])]);
    types.set(typeUrl, { version, resources: byName });
  }
  return { generation, types };
}

/** An empty snapshot (every type present, no resources), served before any config exists. */
export function createEmptySnapshot(protos: XdsProtos, generation = 0): Snapshot {
  return createSnapshot(protos, new Map(), generation);
}
