// The mesh's HTTP entry point: an undici Dispatcher that routes each request by its authority,
// balances over the cluster's endpoints and fails over on connect errors. (STYLE rule 14;
// DESIGN.md "The request path".)
import { channel } from 'node:diagnostics_channel';
import type { Channel } from 'node:diagnostics_channel';
import { silentLogger, systemClock, ConfigError, WeftError } from '@weft/xds-client';
import type { Clock, ConfigIssue, Logger } from '@weft/xds-client';
import { Dispatcher } from 'undici';
import { ClusterAdmission } from '../cluster/cluster-admission.js';
import type { ServiceBreakers } from '../breaker/service-breakers.js';
import { RetryBudgets } from '../cluster/retry-budget.js';
import { LocalRateLimiter } from '../filters/local-rate-limit.js';
import { FaultInjector } from '../filters/fault.js';
import { HttpMirror } from '../filters/mirror.js';
import type { MeshRuntime } from '../runtime/mesh-runtime.js';
import { MeshTracing } from '../tracing/mesh-tracing.js';
import type { CallContext } from './call-context.js';
import { EndpointPools } from './endpoint-pools.js';
import { HTTP_REQUEST_CHANNEL, HttpCounters } from './http-request-event.js';
import type { HttpRequestOutcome, MeshHttpStats } from './http-request-event.js';
import { toLegacyHandler } from './legacy-handler.js';
import { MeshCall } from './mesh-call.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { UpstreamTargets } from './upstream-target.js';
import type { WorkloadCertificateAgent } from '../security/certificate-agent.js';
import { TlsHandshakes } from '../security/tls-handshakes.js';

/** Envoy's default route timeout, used when a route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
/** How long a request waits for its listener's first complete config (Envoy's initial fetch timeout). */
export const DEFAULT_RESOURCE_WAIT_MS = 15_000;
/** undici's own default connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Options of the mesh dispatcher. */
export interface MeshDispatcherOptions {
  /** The SDK core: routing tables and balancers. */
  readonly runtime: MeshRuntime;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. One debug line per request. */
  readonly logger?: Logger;
  /** TCP connect timeout per attempt, in ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** How long a request waits for its listener's config, in ms. Default 15000. */
  readonly resourceWaitMs?: number;
  /** Route timeout when the route sets none, in ms; 0 = none. Default 15000 (Envoy's). */
  readonly defaultRouteTimeoutMs?: number;
  /** Uniform in [0, 1), for retry back-off jitter, fault and mirror percentages. Default: Math.random. */
  readonly random?: () => number;
  /** Service-level breakers per cluster (shared with gRPC; createMesh passes the mesh's). Default: none. */
  readonly breakers?: ServiceBreakers;
  /**
   * The mesh's local rate limits (token buckets shared with its gRPC path). Default: one of the
   * dispatcher's own.
   */
  readonly localRateLimiter?: LocalRateLimiter;
  /** Istio metrics / access log of each request at its end (createMesh's). Default: none. */
  readonly telemetry?: MeshTelemetry;
  /** Spans and x-request-id (createMesh passes the mesh's). Default: tracing off, x-request-id only. */
  readonly tracing?: MeshTracing;
  /**
   * mTLS for clusters with an UpstreamTlsContext: the workload certificates (undefined: no
   * identity, such clusters fail with WEFT_TLS_NO_CERTIFICATE) and the handshake counters.
   * Default: no identity, handshakes counted by the dispatcher.
   */
  readonly security?: {
    readonly certificates: WorkloadCertificateAgent | undefined;
    readonly handshakes: TlsHandshakes;
  };
}

interface ResolvedMeshDispatcherOptions {
  readonly runtime: MeshRuntime;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
  readonly resourceWaitMs: number;
  readonly defaultRouteTimeoutMs: number;
  readonly random: () => number;
  readonly breakers: ServiceBreakers | undefined;
  readonly localRateLimiter: LocalRateLimiter | undefined;
  readonly telemetry: MeshTelemetry | undefined;
  readonly tracing: MeshTracing;
  readonly certificates: WorkloadCertificateAgent | undefined;
  readonly handshakes: TlsHandshakes;
}

function resolveOptions(options: MeshDispatcherOptions): ResolvedMeshDispatcherOptions {
  const issues: ConfigIssue[] = [];
  const ms = (path: string, value: unknown, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      issues.push({
        path,
        message: `expected a finite number >= ${min}, got ${typeof value === 'number' ? value : typeof value}`,
      });
      return fallback;
    }
    return value;
  };
  if (options.random !== undefined && typeof options.random !== 'function') {
    issues.push({ path: 'random', message: 'expected a function returning [0, 1)' });
  }
  const resolved = Object.freeze({
    runtime: options.runtime,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    connectTimeoutMs: ms(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
      1,
    ),
    resourceWaitMs: ms('resourceWaitMs', options.resourceWaitMs, DEFAULT_RESOURCE_WAIT_MS, 1),
    defaultRouteTimeoutMs: ms(
      'defaultRouteTimeoutMs',
      options.defaultRouteTimeoutMs,
      DEFAULT_ROUTE_TIMEOUT_MS,
      0,
    ),
    random: options.random ?? Math.random,
    breakers: options.breakers,
    localRateLimiter: options.localRateLimiter,
    telemetry: options.telemetry,
    tracing: options.tracing ?? new MeshTracing(undefined, 'off'),
    certificates: options.security?.certificates,
    handshakes: options.security?.handshakes ?? new TlsHandshakes(),
  });
  if (issues.length > 0) throw new ConfigError('mesh dispatcher options', issues);
  return resolved;
}

/**
 * An undici Dispatcher for the mesh. Use it with any undici API (`request`, `fetch`, `stream`,
 * `pipeline`) or as `dispatcher` of one call. The request's origin `http://HOST[:PORT]` names the
 * xDS listener; the request goes to an endpoint of the routed cluster with `Host: HOST[:PORT]`.
 * The route's retry policy and timeouts apply (see the package README, "Retries and timeouts").
 * Mesh failures reach the handler's `onError` as WeftError (NR, UH, UF, UC, UT, URX, UO).
 */
export class MeshDispatcher extends Dispatcher {
  private readonly ctx: CallContext;
  private readonly targets = new UpstreamTargets();
  private readonly pools: EndpointPools;
  private readonly admission: ClusterAdmission;
  private readonly counters = new HttpCounters();
  private readonly mirror: HttpMirror;
  private readonly followed = new Map<string, () => void>();
  private readonly requestChannel: Channel;
  private state: 'open' | 'closed' | 'destroyed' = 'open';
  private closing: Promise<void> | undefined = undefined;
  private readonly offCertificateChange: (() => void) | undefined;

  /** Throws ConfigError for bad options. */
  constructor(options: MeshDispatcherOptions) {
    super();
    const o = resolveOptions(options);
    this.admission = new ClusterAdmission(o.logger, 'http');
    this.pools = new EndpointPools(
      {
        connectTimeoutMs: o.connectTimeoutMs,
        tls: { certificates: o.certificates, handshakes: o.handshakes, clock: o.clock },
      },
      this.admission,
    );
    // A new certificate (or bundle) reaches new connections: mTLS pools are retired gracefully.
    this.offCertificateChange = o.certificates?.onChange(() => {
      const retired = this.pools.retireTls();
      if (retired > 0)
        o.logger.debug('mesh http: mTLS pools retired after a certificate change', { retired });
    });
    this.requestChannel = channel(HTTP_REQUEST_CHANNEL);
    const logRequests = o.logger !== silentLogger;
    const requestChannel = this.requestChannel;
    const telemetry = o.telemetry;
    this.mirror = new HttpMirror({
      pools: this.pools,
      clock: o.clock,
      logger: o.logger,
      random: o.random,
      counters: this.counters,
      admission: this.admission,
    });
    this.ctx = {
      runtime: o.runtime,
      pools: this.pools,
      clock: o.clock,
      logger: o.logger,
      counters: this.counters,
      random: o.random,
      rateLimiter:
        o.localRateLimiter ??
        new LocalRateLimiter({ clock: o.clock, logger: o.logger, random: o.random }),
      retryBudgets: new RetryBudgets(),
      admission: this.admission,
      breakers: o.breakers,
      faults: new FaultInjector(o.random, this.counters, o.logger, 'http'),
      mirror: this.mirror,
      tracing: o.tracing,
      resourceWaitMs: o.resourceWaitMs,
      defaultRouteTimeoutMs: o.defaultRouteTimeoutMs,
      follow: (authority) => {
        this.follow(authority);
      },
      isClosed: () => this.state !== 'open',
      publish: function publishRequest(
        call: MeshCall,
        outcome: HttpRequestOutcome,
        err: Error | undefined,
      ): void {
        if (!logRequests && !requestChannel.hasSubscribers && telemetry === undefined) return;
        const event = call.describe(outcome, err);
        telemetry?.httpClientEnded(event, (name) => call.sentHeader(name));
        if (requestChannel.hasSubscribers) requestChannel.publish(event);
        if (logRequests) {
          o.logger.debug('mesh http request', {
            ...event,
            error: err === undefined ? undefined : err.message,
          });
        }
      },
    };
  }

  /** Counters since creation. */
  stats(): MeshHttpStats {
    return this.counters.snapshot(this.pools.size, this.admission.snapshot());
  }

  /** Routes and sends one request; errors (mesh or upstream) reach `handler`. Always returns true. */
  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    const target = handler as Dispatcher.DispatchHandler | undefined;
    if (target === undefined || typeof target !== 'object') {
      throw new WeftError('WEFT_INVALID_CONFIG', 'mesh dispatcher: handler must be an object');
    }
    const legacy = toLegacyHandler(handler);
    this.counters.requests++;
    if (this.state !== 'open') {
      this.counters.failures++;
      legacy.onError(
        this.state === 'closed'
          ? new WeftError('WEFT_CLOSED', 'mesh dispatcher is closed')
          : new WeftError('WEFT_DESTROYED', 'mesh dispatcher is destroyed'),
      );
      return true;
    }
    const upstream = this.targets.resolve(options.origin);
    if (upstream instanceof WeftError) {
      this.counters.failures++;
      legacy.onError(upstream);
      return true;
    }
    new MeshCall(this.ctx, options, legacy, upstream).start();
    return true;
  }

  /** Drains: new requests fail WEFT_CLOSED, in-flight ones finish, then every pool closes. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.closeAll();
    if (callback === undefined) return done;
    done.then(callback, callback);
  }

  /** Aborts: in-flight requests fail with `err` (default WEFT_DESTROYED), pools are destroyed. */
  /* eslint-disable @typescript-eslint/unified-signatures -- mirrors undici's overloads */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  /* eslint-enable @typescript-eslint/unified-signatures */
  override destroy(
    errOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const err =
      typeof errOrCallback === 'function' || errOrCallback === null || errOrCallback === undefined
        ? new WeftError('WEFT_DESTROYED', 'mesh dispatcher is destroyed')
        : errOrCallback;
    this.unfollowAll();
    this.offCertificateChange?.();
    this.mirror.close();
    this.state = 'destroyed';
    const done = this.pools.destroy(err);
    if (cb === undefined) return done;
    done.then(cb, cb);
  }

  private closeAll(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state === 'open') this.state = 'closed';
    this.unfollowAll();
    this.offCertificateChange?.();
    this.mirror.close(); // copies are fire-and-forget: never hold a close back
    this.closing = this.pools.close();
    return this.closing;
  }

  private follow(authority: string): void {
    if (this.followed.has(authority) || this.state !== 'open') return;
    const unsubscribe = this.ctx.runtime.onUpdate(authority, () => {
      this.collectPools();
    });
    this.followed.set(authority, unsubscribe);
  }

  private unfollowAll(): void {
    for (const unsubscribe of this.followed.values()) unsubscribe();
    this.followed.clear();
  }

  /** Closes the pools of endpoints no followed listener references any more. */
  private collectPools(): void {
    if (this.state !== 'open') return;
    const live = new Set<string>();
    for (const authority of this.followed.keys()) {
      for (const endpoint of this.ctx.runtime.endpointsOf(authority)) {
        live.add(EndpointPools.keyOf(endpoint));
      }
    }
    const closed = this.pools.retain(live);
    if (closed > 0)
      this.ctx.logger.debug('mesh http: closed pools of removed endpoints', { closed });
  }
}
