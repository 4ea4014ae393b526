// Remembers each resource's encoded Any and version by its plain content, so a snapshot rebuild
// encodes only the resources that changed. https://github.com/envoyproxy/go-control-plane/blob/main/pkg/cache/v3/snapshot.go
import type { AnyMessage } from '@weft/xds-client';

/** An encoded resource: the Any and its content-hash version. Must not be mutated. */
export interface EncodedResource {
  readonly any: AnyMessage;
  readonly version: string;
}

/** Counters of an {@link EncodedResourceCache}, cumulative since it was created. */
export interface EncodedResourceCacheStats {
  /** Entries held now (those used by the serving generation, plus a build in progress). */
  readonly entries: number;
  /** Resources encoded because no entry had their content. */
  readonly encoded: number;
  /** Resources whose earlier encoding was reused. */
  readonly reused: number;
}

const UNDEFINED_ITEM = Object.freeze({ '\u0000undefined': true });

/**
 * JSON.stringify replacer making the key exact for what protobufjs' `fromObject` tells apart:
 * bytes, non-finite numbers and `undefined` array items would otherwise collide with other
 * values; anything else that is not plain data makes the resource uncacheable.
 */
function exactReplacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before its toJSON() (Buffer has one).
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return { '\u0000bytes': Buffer.from(raw).toString('base64') };
  switch (typeof raw) {
    case 'number':
      return Number.isFinite(raw) ? raw : { '\u0000number': String(raw) };
    case 'undefined':
      return Array.isArray(this) ? UNDEFINED_ITEM : undefined;
    case 'object': {
      if (raw === null || Array.isArray(raw)) return value;
      const proto: unknown = Object.getPrototypeOf(raw);
      if (proto === Object.prototype || proto === null) return value;
      throw new Uncacheable();
    }
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new Uncacheable();
  }
}

class Uncacheable extends Error {}

/**
 * The cache key of a plain resource: its type URL plus an exact JSON rendering, or undefined when
 * the object holds something that rendering cannot represent (it is then encoded every time).
 */
function contentKey(typeUrl: string, plain: Readonly<Record<string, unknown>>): string | undefined {
  try {
    return `${typeUrl}\n${JSON.stringify(plain, exactReplacer)}`;
  } catch (err) {
    if (err instanceof Uncacheable) return undefined;
    throw err;
  }
}

/**
 * Encoded resources keyed by type URL and content, owned by one {@link SnapshotCache}. A build
 * (`beginBuild` … `commitBuild` or `abortBuild`) collects the entries it uses; committing keeps
 * exactly those, so the cache is bounded by the serving generation's distinct resources. Between
 * builds (lazily built views) lookups add to the serving set.
 */
export class EncodedResourceCache {
  #serving = new Map<string, EncodedResource>();
  #building: Map<string, EncodedResource> | undefined;
  #encoded = 0;
  #reused = 0;

  /** Counters for tests, logs and benchmarks. */
  get stats(): EncodedResourceCacheStats {
    const building = this.#building?.size ?? 0;
    return { entries: this.#serving.size + building, encoded: this.#encoded, reused: this.#reused };
  }

  /**
   * The encoding of `plain` as `typeUrl`: a remembered one when an equal object was encoded
   * before, else `encode()` (MUST be pure in `typeUrl` and `plain`; may throw, nothing is kept).
   */
  lookup(
    typeUrl: string,
    plain: Readonly<Record<string, unknown>>,
    encode: () => EncodedResource,
  ): EncodedResource {
    const key = contentKey(typeUrl, plain);
    if (key === undefined) {
      this.#encoded += 1;
      return encode();
    }
    const target = this.#building ?? this.#serving;
    const known = target.get(key) ?? this.#serving.get(key);
    if (known !== undefined) {
      this.#reused += 1;
      target.set(key, known);
      return known;
    }
    const fresh = encode();
    this.#encoded += 1;
    target.set(key, fresh);
    return fresh;
  }

  /** Starts collecting the entries of a new generation (discarding an unfinished build). */
  beginBuild(): void {
    this.#building = new Map();
  }

  /** The build's generation is served now: keep its entries, drop the rest. */
  commitBuild(): void {
    if (this.#building === undefined) return;
    this.#serving = this.#building;
    this.#building = undefined;
  }

  /** The build was rejected: keep serving the previous entries. */
  abortBuild(): void {
    this.#building = undefined;
  }
}
