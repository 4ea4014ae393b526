// One undici Pool per cluster × upstream endpoint, created on first use and closed when the
// endpoint leaves the config or the mesh closes; and the cluster's connection circuit breaker in
// front of them (max_connections, max_pending_requests). DESIGN.md "The request path", steps 4-5.
//
// How max_connections is enforced with undici (Envoy's connection pool, per host, re-done here):
// - each pool connects through a connector that counts sockets open or opening, per pool and per
//   cluster, and forgets a socket when it closes; pools are per cluster (as Envoy's are), so
//   every socket belongs to one cluster;
// - a request goes to its endpoint's pool at once when that pool has a socket not carrying a
//   request (HTTP/1.1, one request per connection at a time), or when the cluster may open one
//   more (below max_connections, or the pool has no socket at all: Envoy's rule, so a request is
//   never stuck behind other hosts' connections);
// - otherwise it waits, FIFO, in the cluster's pending queue, bounded by max_pending_requests
//   (past it: WEFT_OVERFLOW, UO), until a socket of its pool is free or closes. A request waiting
//   for a TCP connect is not counted as pending: the connect timeout bounds it.
// undici may still open a socket the gate did not expect in a race (a socket freed between our
// count and its own); the counts come from real sockets, so stats show any such overshoot.
//
// mTLS (a cluster with an UpstreamTlsContext): the pool's connector dials with the workload
// certificate's current secure context. On a rotation every TLS pool is retired (closed
// gracefully: in-flight requests finish on their connection) and new requests get new pools, so
// no connection outlives the certificate it was made with by more than a request.
import { Pool, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import type { CircuitBreakersUpdate, Clock, ClusterUpdate } from '@weft/xds-client';
import { WeftError } from '@weft/xds-client';
import type { WorkloadCertificateAgent } from '../security/certificate-agent.js';
import type { TlsHandshakes } from '../security/tls-handshakes.js';
import {
  connectUpstreamTls,
  upstreamTlsPolicy,
  type UpstreamTlsPolicy,
} from '../security/upstream-tls.js';
import type { ClusterAdmission, ClusterCounts } from '../cluster/cluster-admission.js';
import { DEFAULT_CIRCUIT_BREAKERS } from '../cluster/cluster-admission.js';
import type { UpstreamEndpoint } from '../runtime/mesh-runtime.js';
import type { LegacyHandler } from './legacy-handler.js';

/** The request the pools send: undici's dispatch options, the origin set per pool. */
export type PoolRequest = {
  -readonly [K in keyof Dispatcher.DispatchOptions]: Dispatcher.DispatchOptions[K];
};

/** A handler the pools can track: told when undici is done with it, cancellable while queued. */
export interface PooledHandler extends LegacyHandler {
  /** Set by the pools while the request waits in the pending queue; removes it from there. */
  dequeue: (() => void) | undefined;
  /** Set by the pools when the request is handed to undici; the handler calls it once at its end. */
  settled: (() => void) | undefined;
}

/** A pool, the origin its requests carry, and its socket accounting. */
export interface EndpointPool {
  readonly pool: Pool;
  /** `http://address:port` (IPv6 in brackets); `https://` for mTLS. */
  readonly origin: string;
  readonly cluster: string;
  /** The cluster's TLS settings this pool was made with ('' = plaintext). */
  readonly tlsKey: string;
  /** The cluster's max_requests_per_connection this pool was made with (undefined: no limit). */
  readonly maxRequestsPerConnection: number | undefined;
  /** Sockets open or opening. */
  sockets: number;
  /** Requests handed to undici and not yet ended. */
  inflight: number;
  /** Set once the pool is closing (endpoint gone, limit changed, dispatcher closed). */
  retired: boolean;
}

/** Options for every Pool; see undici's Pool.Options. */
export interface ResolvedPoolOptions {
  /** TCP connect timeout per attempt when the cluster gives none, in ms. */
  readonly connectTimeoutMs: number;
  /** For mTLS clusters: the workload certificates (undefined: no identity) and handshake counters. */
  readonly tls?: {
    readonly certificates: WorkloadCertificateAgent | undefined;
    readonly handshakes: TlsHandshakes;
    readonly clock: Clock;
  };
}

interface Waiting {
  readonly entry: EndpointPool;
  readonly request: PoolRequest;
  readonly handler: PooledHandler;
}

/** Whether a request can go to its pool now, must wait, or overflows. */
export type PoolAdmission = 'send' | 'queue' | WeftError;

/** The pools of one dispatcher, keyed by cluster and `UpstreamEndpoint.key`. */
export class EndpointPools {
  private readonly pools = new Map<string, EndpointPool>();
  /**
   * The same pools by endpoint object (immutable per EDS update): the hot path finds its pool
   * without building the string key.
   */
  private readonly byEndpoint = new WeakMap<UpstreamEndpoint, EndpointPool>();
  /** Requests waiting for a connection, per cluster, oldest first. */
  private readonly queues = new Map<string, Waiting[]>();
  private readonly pumpScheduled = new Set<string>();
  /** The breakers each cluster's queue was last admitted under (read when it is pumped). */
  private readonly breakersOf = new Map<string, CircuitBreakersUpdate | undefined>();
  /** Each cluster resource's TLS policy, compiled once per CDS update. */
  private readonly tlsPolicies = new WeakMap<ClusterUpdate, UpstreamTlsPolicy | WeftError>();
  private closed = false;

  constructor(
    private readonly options: ResolvedPoolOptions,
    private readonly admission: ClusterAdmission,
  ) {}

  /** Number of pools open now. */
  get size(): number {
    return this.pools.size;
  }

  /** The pool key of `endpoint`: pools are per cluster, like Envoy's. */
  static keyOf(endpoint: UpstreamEndpoint): string {
    return `${endpoint.clusterName}|${endpoint.key}`;
  }

  /**
   * Hot path: the endpoint's pool, created lazily with the cluster's connect timeout and
   * max_requests_per_connection (a pool made with another per-connection limit is replaced).
   * Undefined once closed.
   */
  get(endpoint: UpstreamEndpoint, cluster: ClusterUpdate | undefined): EndpointPool | undefined {
    const perConnection = cluster?.maxRequestsPerConnection;
    if (this.closed) return undefined;
    const tls = this.tlsPolicyOf(cluster);
    const tlsKey = tls === undefined ? '' : tls instanceof WeftError ? tls.message : tls.key;
    const cached = this.byEndpoint.get(endpoint);
    if (
      cached !== undefined &&
      !cached.retired &&
      cached.maxRequestsPerConnection === perConnection &&
      cached.tlsKey === tlsKey
    )
      return cached;
    const key = EndpointPools.keyOf(endpoint);
    const known = this.pools.get(key);
    if (known !== undefined) {
      if (known.maxRequestsPerConnection === perConnection && known.tlsKey === tlsKey) {
        this.byEndpoint.set(endpoint, known);
        return known;
      }
      this.pools.delete(key);
      this.retire(known);
    }
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    const origin = `${tls === undefined ? 'http' : 'https'}://${host}:${endpoint.port}`;
    const counts = this.admission.counts(endpoint.clusterName);
    const timeoutMs = cluster?.connectTimeoutMs ?? this.options.connectTimeoutMs;
    const plain = buildConnector({ timeout: timeoutMs });
    const tlsOptions = this.options.tls;
    const connect: buildConnector.connector =
      tls === undefined
        ? plain
        : function connectMeshTls(_opts, callback) {
            if (tls instanceof WeftError) {
              callback(tls, null);
              return;
            }
            if (tlsOptions === undefined) {
              callback(
                new WeftError('WEFT_UNSUPPORTED', `cluster ${tls.cluster}: mTLS is not set up`),
                null,
              );
              return;
            }
            connectUpstreamTls(
              {
                policy: tls,
                host: endpoint.address,
                port: endpoint.port,
                timeoutMs,
                certificates: tlsOptions.certificates,
                handshakes: tlsOptions.handshakes,
                clock: tlsOptions.clock,
              },
              (err, socket) => {
                if (err !== null || socket === null) callback(err ?? new Error('no socket'), null);
                else callback(null, socket);
              },
            );
          };
    const created: EndpointPool = {
      origin,
      cluster: endpoint.clusterName,
      tlsKey,
      maxRequestsPerConnection: perConnection,
      sockets: 0,
      inflight: 0,
      retired: false,
      pool: new Pool(origin, {
        connect: (opts, callback) => {
          this.opened(created, counts);
          let open = true;
          const closed = (): void => {
            if (!open) return;
            open = false;
            this.closedSocket(created, counts);
          };
          connect(opts, (err, socket) => {
            if (err !== null) {
              closed();
              callback(err, null);
              return;
            }
            socket.once('close', closed);
            callback(null, socket);
          });
        },
        // undici closes a socket after the request that finds `maxRequestsPerClient` already
        // sent on it, so N + 1 requests per socket: N - 1 gives Envoy's N (N = 1: see dispatch).
        ...(perConnection === undefined || perConnection < 2
          ? {}
          : { maxRequestsPerClient: perConnection - 1 }),
      }),
    };
    this.pools.set(key, created);
    this.byEndpoint.set(endpoint, created);
    return created;
  }

  /** The cluster's compiled TLS policy; undefined = plaintext; a WeftError = unsupported TLS. */
  private tlsPolicyOf(
    cluster: ClusterUpdate | undefined,
  ): UpstreamTlsPolicy | WeftError | undefined {
    if (cluster?.tls === undefined) return undefined;
    let policy = this.tlsPolicies.get(cluster);
    if (policy === undefined) {
      policy = upstreamTlsPolicy(cluster.name, cluster.tls);
      this.tlsPolicies.set(cluster, policy);
    }
    return policy;
  }

  /**
   * After a certificate rotation (or a new trust bundle): retires every mTLS pool, so new
   * requests open connections with the new certificate; in-flight ones finish where they are.
   * Returns how many pools were retired.
   */
  retireTls(): number {
    let retired = 0;
    for (const [key, entry] of this.pools) {
      if (entry.tlsKey === '') continue;
      this.pools.delete(key);
      this.retire(entry);
      retired++;
    }
    return retired;
  }

  /**
   * The connection circuit breaker: 'send' when `entry` has a free socket or the cluster may open
   * one, 'queue' when the request must wait for one, or the overflow error when the cluster's
   * pending queue is full.
   */
  admit(entry: EndpointPool, breakers: CircuitBreakersUpdate | undefined): PoolAdmission {
    if (this.canSend(entry, breakers)) return 'send';
    const limit = (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxPendingRequests;
    if (this.admission.counts(entry.cluster).pending >= limit) {
      return this.admission.overflow(entry.cluster, 'max_pending_requests', limit);
    }
    return 'queue';
  }

  /** Sends `request` on `entry` now (after `admit` said 'send') or queues it (after 'queue'). */
  send(
    entry: EndpointPool,
    request: PoolRequest,
    handler: PooledHandler,
    admitted: 'send' | 'queue',
    breakers: CircuitBreakersUpdate | undefined,
  ): void {
    if (admitted === 'send') {
      this.dispatch(entry, request, handler);
      return;
    }
    const waiting: Waiting = { entry, request, handler };
    let queue = this.queues.get(entry.cluster);
    if (queue === undefined) this.queues.set(entry.cluster, (queue = []));
    queue.push(waiting);
    const counts = this.admission.counts(entry.cluster);
    counts.pending++;
    handler.dequeue = () => {
      handler.dequeue = undefined;
      const q = this.queues.get(entry.cluster);
      const i = q?.indexOf(waiting) ?? -1;
      if (q === undefined || i < 0) return;
      q.splice(i, 1);
      counts.pending--;
    };
    this.breakersOf.set(entry.cluster, breakers);
  }

  private canSend(entry: EndpointPool, breakers: CircuitBreakersUpdate | undefined): boolean {
    if (entry.sockets > entry.inflight || entry.sockets === 0) return true;
    const limit = (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxConnections;
    return this.admission.counts(entry.cluster).connections < limit;
  }

  private dispatch(entry: EndpointPool, request: PoolRequest, handler: PooledHandler): void {
    entry.inflight++;
    handler.settled = () => {
      handler.settled = undefined;
      // undici reuses an HTTP/1.1 socket one event-loop turn after its response ended (client-h1
      // resumes in a setImmediate queued after onComplete returns): until then it is busy, and a
      // request sent to the pool would open another connection.
      queueMicrotask(() => {
        setImmediate(() => {
          entry.inflight--;
          this.pump(entry.cluster, false);
        });
      });
    };
    request.origin = entry.origin;
    // One request per connection: each request closes its socket when it ends.
    if (entry.maxRequestsPerConnection === 1) request.reset = true;
    entry.pool.dispatch(request, handler);
  }

  private opened(entry: EndpointPool, counts: ClusterCounts): void {
    entry.sockets++;
    counts.connections++;
  }

  private closedSocket(entry: EndpointPool, counts: ClusterCounts): void {
    entry.sockets--;
    counts.connections--;
    this.schedulePump(entry.cluster);
  }

  /**
   * After a socket closed: sends what waits in the cluster's queue and can go now. Run as a
   * microtask, after undici's own close handling.
   */
  private schedulePump(cluster: string): void {
    const queue = this.queues.get(cluster);
    if (queue === undefined || queue.length === 0 || this.pumpScheduled.has(cluster)) return;
    this.pumpScheduled.add(cluster);
    queueMicrotask(() => {
      this.pumpScheduled.delete(cluster);
      this.pump(cluster, false);
    });
  }

  private pump(cluster: string, all: boolean): void {
    const queue = this.queues.get(cluster);
    if (queue === undefined) return;
    const breakers = this.breakersOf.get(cluster);
    const counts = this.admission.counts(cluster);
    for (let i = 0; i < queue.length;) {
      const w = queue[i];
      if (w === undefined) break;
      if (!all && !this.canSend(w.entry, breakers)) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      counts.pending--;
      w.handler.dequeue = undefined;
      this.dispatch(w.entry, w.request, w.handler);
    }
    if (queue.length === 0) this.queues.delete(cluster);
  }

  /**
   * Closes (gracefully: in-flight requests finish) every pool whose key (`keyOf`) is not in
   * `live`. A request that picks such an endpoint later simply gets a new pool.
   */
  retain(live: ReadonlySet<string>): number {
    let closed = 0;
    for (const [key, entry] of this.pools) {
      if (live.has(key)) continue;
      this.pools.delete(key);
      closed++;
      this.retire(entry);
    }
    return closed;
  }

  /**
   * Closes `entry`'s pool gracefully; requests queued for it are sent first (a closing pool still
   * serves what it was given), so none waits for a socket of a pool that is gone.
   */
  private retire(entry: EndpointPool): void {
    entry.retired = true;
    const queue = this.queues.get(entry.cluster);
    if (queue !== undefined) {
      const counts = this.admission.counts(entry.cluster);
      for (const w of queue.filter((q) => q.entry === entry)) {
        queue.splice(queue.indexOf(w), 1);
        counts.pending--;
        w.handler.dequeue = undefined;
        this.dispatch(w.entry, w.request, w.handler);
      }
      if (queue.length === 0) this.queues.delete(entry.cluster);
    }
    entry.pool.close().catch(() => undefined);
  }

  /** Sends every queued request (draining lets them finish), then closes every pool. */
  async close(): Promise<void> {
    this.closed = true;
    for (const cluster of [...this.queues.keys()]) this.pump(cluster, true);
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.close().catch(() => undefined)));
  }

  /** Destroys every pool: in-flight and queued requests fail with `cause`. */
  async destroy(cause: Error): Promise<void> {
    this.closed = true;
    for (const [cluster, queue] of [...this.queues]) {
      this.queues.delete(cluster);
      this.admission.counts(cluster).pending -= queue.length;
      for (const w of queue) {
        w.handler.dequeue = undefined;
        w.handler.onError(cause);
      }
    }
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.destroy(cause).catch(() => undefined)));
  }
}
