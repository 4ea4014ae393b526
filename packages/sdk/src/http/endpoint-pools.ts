// One undici Pool per upstream endpoint, created on first use and closed when the endpoint
// leaves the config or the mesh closes. DESIGN.md "The request path", step 5.
import { Pool } from 'undici';
import type { UpstreamEndpoint } from '../runtime/mesh-runtime.js';

/** A pool and the origin its requests carry. */
export interface EndpointPool {
  readonly pool: Pool;
  /** `http://address:port` (IPv6 in brackets). */
  readonly origin: string;
}

/** Options for every Pool; see undici's Pool.Options. */
export interface ResolvedPoolOptions {
  /** TCP connect timeout per attempt when the cluster gives none, in ms. */
  readonly connectTimeoutMs: number;
}

/** The pools of one dispatcher, keyed by `UpstreamEndpoint.key`. */
export class EndpointPools {
  private readonly pools = new Map<string, EndpointPool>();
  private closed = false;

  constructor(private readonly options: ResolvedPoolOptions) {}

  /** Number of pools open now. */
  get size(): number {
    return this.pools.size;
  }

  /**
   * Hot path: the endpoint's pool, created lazily (with the cluster's connect timeout when
   * given, in ms). Undefined once closed.
   */
  get(endpoint: UpstreamEndpoint, connectTimeoutMs?: number): EndpointPool | undefined {
    const known = this.pools.get(endpoint.key);
    if (known !== undefined) return known;
    if (this.closed) return undefined;
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    const origin = `http://${host}:${endpoint.port}`;
    const created = {
      origin,
      pool: new Pool(origin, {
        connectTimeout: connectTimeoutMs ?? this.options.connectTimeoutMs,
      }),
    };
    this.pools.set(endpoint.key, created);
    return created;
  }

  /**
   * Closes (gracefully: in-flight requests finish) every pool whose key is not in `live`.
   * A request that picks such an endpoint later simply gets a new pool.
   */
  retain(live: ReadonlySet<string>): number {
    let closed = 0;
    for (const [key, entry] of this.pools) {
      if (live.has(key)) continue;
      this.pools.delete(key);
      closed++;
      entry.pool.close().catch(() => undefined);
    }
    return closed;
  }

  /** Closes every pool, waiting for in-flight requests. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.close().catch(() => undefined)));
  }

  /** Destroys every pool: in-flight requests fail with `cause`. */
  async destroy(cause: Error): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.destroy(cause).catch(() => undefined)));
  }
}
