// Request mirroring for HTTP: a fire-and-forget copy of a request to an endpoint of the route's
// mirror cluster, Host suffixed `-shadow`, that never delays or changes the primary response.
// Envoy's RouteAction.request_mirror_policies; Istio VirtualService `mirror` + `mirrorPercentage`.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction-requestmirrorpolicy
import type { Clock, Logger, TimerHandle } from '@weft/xds-client';
import { WeftError } from '@weft/xds-client';
import type { Dispatcher } from 'undici';
import type { EndpointPools, PooledHandler, PoolRequest } from '../http/endpoint-pools.js';
import { indexHeaders } from '../http/request-headers.js';
import { isConnectError, isReplayable } from '../http/upstream-failures.js';
import { DEFAULT_CIRCUIT_BREAKERS } from '../cluster/cluster-admission.js';
import type { ClusterAdmission } from '../cluster/cluster-admission.js';
import { UNUSED_LEASE } from '../runtime/mesh-runtime.js';
import type { MirrorPick, RouteDecision } from '../runtime/mesh-runtime.js';

const PER_MILLION = 1_000_000;

/** Bound on routes remembered for "logged once" warnings. */
const MAX_WARNED_ROUTES = 1024;

/** Counters of mirrored requests (plain numbers, read by `stats()`). */
export interface MirrorCounters {
  /** Copies sent to a mirror cluster. */
  mirrored: number;
  /** Copies that failed (no endpoint, connect failure, reset, timeout); any response counts as done. */
  mirrorFailures: number;
  /** Requests drawn for mirroring whose body is a stream: not mirrored (never read twice). */
  mirrorsSkippedStreamedBody: number;
  /**
   * Copies dropped because the mirror cluster was at its circuit breaker's max_requests (Envoy
   * bounds shadow traffic the same way; the cluster's `overflows` count them too).
   */
  mirrorsOverflowed: number;
}

/** What a mirror needs from its dispatcher. */
export interface HttpMirrorContext {
  readonly pools: EndpointPools;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Uniform in [0, 1): the mirror percentage draw. */
  readonly random: () => number;
  readonly counters: MirrorCounters;
  /** The dispatcher's per-cluster admission: a copy holds one of its cluster's max_requests. */
  readonly admission: ClusterAdmission;
}

/**
 * The Host of a shadow request: Envoy appends `-shadow` to the host part, keeping the port
 * (`inventory:8080` → `inventory-shadow:8080`).
 */
export function shadowHost(host: string): string {
  const colon = host.lastIndexOf(':');
  const bracket = host.lastIndexOf(']');
  if (colon > bracket && colon > 0) return `${host.slice(0, colon)}-shadow${host.slice(colon)}`;
  return `${host}-shadow`;
}

/** Sends the mirror copies of one dispatcher's requests, and aborts those in flight on close. */
export class HttpMirror {
  private readonly inFlight = new Set<MirrorCopy>();
  private readonly warnedRoutes = new Set<string>();
  private closed = false;

  constructor(private readonly ctx: HttpMirrorContext) {}

  /** Copies in flight now. */
  get size(): number {
    return this.inFlight.size;
  }

  /**
   * For each mirror policy of `decision`, draws its percentage and sends a copy of the request
   * (`opts`, `host` = the Host the primary carries) to an endpoint of the mirror cluster, bounded
   * by `timeoutMs` (0 = none). Never throws; never touches the primary request.
   */
  mirror(
    decision: RouteDecision,
    opts: Dispatcher.DispatchOptions,
    host: string,
    timeoutMs: number,
  ): void {
    if (this.closed) return;
    for (const policy of decision.action.requestMirrorPolicies) {
      const share = policy.percentagePerMillion;
      if (share <= 0 || (share < PER_MILLION && this.ctx.random() * PER_MILLION >= share)) continue;
      if (!isReplayable(opts.body)) {
        this.ctx.counters.mirrorsSkippedStreamedBody++;
        this.warnOnce(decision, policy.cluster);
        continue;
      }
      this.send(decision, policy.cluster, opts, host, timeoutMs);
    }
  }

  /** Aborts every copy in flight; later `mirror()` calls do nothing. */
  close(): void {
    this.closed = true;
    const reason = new WeftError('WEFT_CLOSED', 'mesh closed');
    for (const copy of [...this.inFlight]) copy.cancel(reason);
    this.inFlight.clear();
  }

  private send(
    decision: RouteDecision,
    clusterName: string,
    opts: Dispatcher.DispatchOptions,
    host: string,
    timeoutMs: number,
  ): void {
    const { ctx } = this;
    let picked: MirrorPick | undefined;
    try {
      picked = decision.pickMirror(clusterName);
    } catch (err) {
      this.failed(clusterName, undefined, WeftError.from(err));
      return;
    }
    if (picked === undefined) {
      this.failed(
        clusterName,
        undefined,
        new WeftError('WEFT_NO_HEALTHY_UPSTREAM', `mirror cluster ${clusterName}: no endpoint`),
      );
      return;
    }
    const { lease, cluster } = picked;
    const breakers = cluster?.circuitBreakers;
    if (!ctx.admission.tryStartRequest(clusterName, breakers)) {
      lease.done('success', UNUSED_LEASE);
      ctx.counters.mirrorsOverflowed++;
      const limit = (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxRequests;
      ctx.admission.overflow(clusterName, 'max_requests', limit); // counts and logs
      return;
    }
    const entry = ctx.pools.get(lease.endpoint, cluster);
    if (entry === undefined) {
      ctx.admission.endRequest(clusterName);
      lease.done('success', UNUSED_LEASE);
      return; // the dispatcher closed
    }
    // Circuit breaker max_connections / max_pending_requests of the mirror cluster, as for a try.
    const admitted = ctx.pools.admit(entry, breakers);
    if (admitted instanceof WeftError) {
      ctx.admission.endRequest(clusterName);
      lease.done('success', UNUSED_LEASE);
      ctx.counters.mirrorsOverflowed++;
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of indexHeaders(opts.headers)) headers[name] = value;
    headers['host'] = shadowHost(host);
    let timer: TimerHandle | undefined;
    let timedOut = false;
    const copy = new MirrorCopy((statusCode, error) => {
      if (timer !== undefined) ctx.clock.clearTimeout(timer);
      timer = undefined;
      this.inFlight.delete(copy);
      ctx.admission.endRequest(clusterName);
      if (error === undefined) {
        const status = statusCode ?? 0;
        lease.done(status >= 500 ? 'server-error' : 'success', { httpStatus: status });
      } else if (this.closed) {
        lease.done('success', UNUSED_LEASE);
      } else {
        lease.done(timedOut ? 'timeout' : isConnectError(error) ? 'connect-failure' : 'reset');
        this.failed(clusterName, lease.endpoint.key, error);
      }
    });
    this.inFlight.add(copy);
    if (timeoutMs > 0) {
      timer = ctx.clock.setTimeout(() => {
        timer = undefined;
        timedOut = true;
        copy.cancel(new WeftError('WEFT_TIMEOUT', `mirror timeout after ${timeoutMs}ms`));
      }, timeoutMs);
    }
    ctx.counters.mirrored++;
    const request: PoolRequest = {
      path: opts.path,
      method: opts.method,
      headers,
      body: opts.body ?? null,
    };
    ctx.pools.send(entry, request, copy, admitted, breakers);
  }

  private failed(cluster: string, endpoint: string | undefined, err: Error): void {
    this.ctx.counters.mirrorFailures++;
    this.ctx.logger.debug('mesh http: mirror request failed', {
      cluster,
      endpoint,
      error: err.message,
    });
  }

  private warnOnce(decision: RouteDecision, cluster: string): void {
    const key = `${decision.routeConfigName}/${decision.virtualHostName}/${decision.routeName}`;
    if (this.warnedRoutes.has(key)) return;
    if (this.warnedRoutes.size >= MAX_WARNED_ROUTES) this.warnedRoutes.clear();
    this.warnedRoutes.add(key);
    this.ctx.logger.info('mesh http: streamed request bodies are not mirrored', {
      route: key,
      mirrorCluster: cluster,
    });
  }
}

/**
 * The undici handler of one copy: reads and drops the response, reports its end once (status,
 * or the error), and can be cancelled while queued, connecting or in flight.
 */
class MirrorCopy implements PooledHandler {
  dequeue: (() => void) | undefined = undefined;
  settled: (() => void) | undefined = undefined;
  private abortUpstream: ((err?: Error) => void) | undefined = undefined;
  private statusCode: number | undefined = undefined;
  private cancelledWith: Error | undefined = undefined;
  private ended = false;

  constructor(
    private readonly onEnd: (statusCode: number | undefined, error: Error | undefined) => void,
  ) {}

  /** Stops the copy (route timeout, mesh closed); it ends with `reason`. */
  cancel(reason: Error): void {
    if (this.ended) return;
    this.cancelledWith = reason;
    if (this.dequeue !== undefined) {
      this.dequeue();
      this.end(reason);
      return;
    }
    // In flight: undici answers with onError. Still connecting: onConnect aborts it.
    this.abortUpstream?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelledWith !== undefined) {
      abort(this.cancelledWith);
      return;
    }
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.statusCode = statusCode;
    return true;
  }

  onData(): boolean {
    return true; // drained and dropped
  }

  onComplete(): void {
    this.settled?.();
    this.end(undefined);
  }

  onError(err: Error): void {
    this.settled?.();
    this.end(err);
  }

  private end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this.statusCode, error);
  }
}
