// Request mirroring for gRPC calls that send exactly one request message (unary and
// server-streaming): a fire-and-forget copy of the call (same method, metadata and message bytes,
// `:authority` suffixed `-shadow`) to an endpoint of the route's mirror cluster, made once the
// primary call has ended. Envoy's RouteAction.request_mirror_policies; Istio `mirror`.
import {
  Client,
  credentials,
  status as GrpcStatus,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import type { Clock, Logger, TimerHandle } from '@weft/xds-client';
import { UNUSED_LEASE } from '../runtime/mesh-runtime.js';
import type { AttemptOutcome, RouteDecision } from '../runtime/mesh-runtime.js';
import { DEFAULT_CIRCUIT_BREAKERS } from '../cluster/cluster-admission.js';
import type { ClusterAdmission } from '../cluster/cluster-admission.js';
import { shadowHost } from './mirror.js';

/** Bound on cached mirror clients (one per mirror endpoint and authority). */
const MAX_MIRROR_CLIENTS = 256;
/** Bound on routes remembered for "logged once" notes. */
const MAX_WARNED_ROUTES = 1024;

/** Counters of mirrored gRPC calls (plain numbers, read by `stats()`). */
export interface GrpcMirrorCounters {
  /** Copies sent to a mirror cluster. */
  mirrored: number;
  /** Copies that did not reach a server (no endpoint, UNAVAILABLE, DEADLINE_EXCEEDED). */
  mirrorFailures: number;
  /** Calls drawn for mirroring that sent more (or fewer) than one request message: not mirrored. */
  mirrorsSkippedStreaming: number;
  /** Copies dropped because the mirror cluster was at its circuit breaker's max_requests. */
  mirrorsOverflowed: number;
}

/** What a call drawn for mirroring keeps until it ends. */
export interface GrpcMirrorCapture {
  readonly decision: RouteDecision;
  /** The mirror clusters drawn for this call. */
  readonly clusters: readonly string[];
  readonly metadata: Metadata;
  /** The request messages the call sent (bare serialized bytes, before framing). */
  message: Buffer | undefined;
  messages: number;
}

/** The outcome of a copy, as its lease reports it. */
function outcomeOf(code: GrpcStatus): AttemptOutcome {
  if (code === GrpcStatus.UNAVAILABLE) return 'server-error';
  if (code === GrpcStatus.DEADLINE_EXCEEDED) return 'timeout';
  return 'success';
}

function identity(b: Buffer): Buffer {
  return b;
}

/** Sends gRPC mirror copies for one mesh; closes its clients on `close()`. */
export class GrpcMirror {
  private readonly clients = new Map<string, Client>();
  private readonly warnedRoutes = new Set<string>();
  private closed = false;

  constructor(
    private readonly counters: GrpcMirrorCounters,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** The integration's per-cluster admission: a copy holds one of its cluster's max_requests. */
    private readonly admission: ClusterAdmission,
    /** Uniform in [0, 1): the mirror percentage draw. */
    private readonly random: () => number,
  ) {}

  /** The mirror clusters drawn for one call of `decision` (often none). */
  draw(decision: RouteDecision): string[] {
    const drawn: string[] = [];
    for (const policy of decision.action.requestMirrorPolicies) {
      const share = policy.percentagePerMillion;
      if (share >= 1_000_000 || (share > 0 && this.random() * 1_000_000 < share)) {
        drawn.push(policy.cluster);
      }
    }
    return drawn;
  }

  /**
   * The primary call of `capture` ended: sends one copy per drawn cluster when it sent exactly
   * one request message, else counts and notes (once per route) that it was not mirrored.
   */
  send(capture: GrpcMirrorCapture, authority: string, method: string): void {
    if (this.closed) return;
    const message = capture.message;
    if (capture.messages !== 1 || message === undefined) {
      this.counters.mirrorsSkippedStreaming++;
      this.noteOnce(capture.decision, capture.messages);
      return;
    }
    for (const cluster of capture.clusters) {
      this.sendOne(capture, cluster, authority, method, message);
    }
  }

  /** Closes every mirror client (copies in flight are cancelled). Later `send()`s do nothing. */
  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private sendOne(
    capture: GrpcMirrorCapture,
    cluster: string,
    authority: string,
    method: string,
    message: Buffer,
  ): void {
    const picked = capture.decision.pickMirror(cluster);
    if (picked === undefined) {
      this.failed(cluster, undefined, 'no healthy endpoint');
      return;
    }
    const { lease } = picked;
    const breakers = picked.cluster?.circuitBreakers;
    if (!this.admission.tryStartRequest(cluster, breakers)) {
      lease.done('success', UNUSED_LEASE);
      this.counters.mirrorsOverflowed++;
      const limit = (breakers ?? DEFAULT_CIRCUIT_BREAKERS).maxRequests;
      this.admission.overflow(cluster, 'max_requests', limit); // counts and logs
      return;
    }
    const { endpoint } = lease;
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    const shadow = shadowHost(authority);
    const key = `${endpoint.key}\u0000${shadow}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      if (this.clients.size >= MAX_MIRROR_CLIENTS) {
        for (const c of this.clients.values()) c.close();
        this.clients.clear();
      }
      client = new Client(`${host}:${endpoint.port}`, credentials.createInsecure(), {
        'grpc.default_authority': shadow,
      });
      this.clients.set(key, client);
    }
    const timeoutMs = capture.decision.timeoutMs;
    this.counters.mirrored++;
    let timer: TimerHandle | undefined;
    let timedOut = false;
    const call = client.makeUnaryRequest(
      method,
      identity,
      identity,
      message,
      capture.metadata,
      (err: ServiceError | null) => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        this.admission.endRequest(cluster);
        const code = timedOut
          ? GrpcStatus.DEADLINE_EXCEEDED
          : err === null
            ? GrpcStatus.OK
            : err.code;
        lease.done(
          outcomeOf(code),
          code === GrpcStatus.UNAVAILABLE ? { httpStatus: 503 } : undefined,
        );
        if (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED) {
          if (!this.closed) this.failed(cluster, endpoint.key, err?.details ?? '');
        }
      },
    );
    // The route timeout bounds the copy too, on the mesh clock (a grpc-js deadline is wall-clock).
    if (timeoutMs !== undefined && timeoutMs > 0) {
      timer = this.clock.setTimeout(() => {
        timer = undefined;
        timedOut = true;
        call.cancel();
      }, timeoutMs);
    }
  }

  private failed(cluster: string, endpoint: string | undefined, why: string): void {
    this.counters.mirrorFailures++;
    this.logger.debug('weft grpc: mirror call failed', { cluster, endpoint, error: why });
  }

  private noteOnce(decision: RouteDecision, messages: number): void {
    const key = `${decision.routeConfigName}/${decision.virtualHostName}/${decision.routeName}`;
    if (this.warnedRoutes.has(key)) return;
    if (this.warnedRoutes.size >= MAX_WARNED_ROUTES) this.warnedRoutes.clear();
    this.warnedRoutes.add(key);
    this.logger.info(
      `weft grpc: mirror policy on route ${key} applies to calls with one request message only; a call with ${messages} was not mirrored`,
      { route: key },
    );
  }
}
