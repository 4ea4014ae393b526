// The picker of the mesh LB policy: reads the call's route decision (by the id the
// ConfigSelector put in pickInformation) and asks the core for an endpoint whose subchannel is
// READY. When none is, it tells apart "still connecting" (queue) from "unreachable" (report
// connect-failure so the core's health moves traffic to the next priority; fail only when
// nothing can serve). DESIGN.md "The request path", steps 3 and 5.
import {
  connectivityState as ConnectivityState,
  experimental,
  Metadata,
  status as GrpcStatus,
} from '@grpc/grpc-js';
import type { ClusterAdmission } from '../cluster/cluster-admission.js';
import { DEFAULT_CIRCUIT_BREAKERS } from '../cluster/cluster-admission.js';
import type { EndpointLease } from '../runtime/mesh-runtime.js';
import { UNUSED_LEASE } from '../runtime/mesh-runtime.js';
import type { GrpcCallState } from './grpc-call-state.js';
import { CALL_ID_PICK_KEY, type GrpcMeshChannel } from './grpc-mesh-channel.js';
import { outcomeOfGrpcStatus } from './grpc-status.js';
import {
  describeUpstreamTls,
  sameUpstreamTls,
  type GrpcUpstreamTls,
} from './grpc-mesh-credentials.js';

/** One subchannel as the picker saw it when it was made. */
export interface PickerSubchannel {
  readonly subchannel: experimental.SubchannelInterface;
  readonly state: ConnectivityState;
  /** The TLS requirement (of `cluster`) the subchannel was made with; undefined: plaintext. */
  readonly tls: GrpcUpstreamTls | undefined;
  readonly cluster: string;
}

const QUEUE: experimental.PickResult = {
  pickResultType: experimental.PickResultType.QUEUE,
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
};

/** An immutable snapshot of the LB policy's subchannels; replaced on every state change. */
export class GrpcMeshPicker implements experimental.Picker {
  /** Keys whose subchannel is not READY: the first pick excludes them. */
  private readonly notReady: ReadonlySet<string>;
  /** Keys whose subchannel is in TRANSIENT_FAILURE: what a ring_hash pick excludes (gRFC A42). */
  private readonly failing: ReadonlySet<string>;
  /** No subchannel is READY yet and some are connecting: every call waits, no lease taken. */
  private readonly allConnecting: boolean;

  constructor(
    private readonly channel: GrpcMeshChannel,
    private readonly subchannels: ReadonlyMap<string, PickerSubchannel>,
    /** Asks the LB policy to connect an IDLE subchannel (run after the pick returns). */
    private readonly requestConnection: (key: string) => void,
    /** The last connect error of a subchannel (e.g. a TLS handshake's), quoted when a pick fails. */
    private readonly lastError: string | null = null,
  ) {
    const notReady = new Set<string>();
    const failing = new Set<string>();
    let connecting = false;
    for (const [key, entry] of subchannels) {
      if (entry.state !== ConnectivityState.READY) notReady.add(key);
      if (entry.state === ConnectivityState.TRANSIENT_FAILURE) failing.add(key);
      if (entry.state === ConnectivityState.CONNECTING || entry.state === ConnectivityState.IDLE) {
        connecting = true;
      }
    }
    this.notReady = notReady;
    this.failing = failing;
    this.allConnecting = connecting && notReady.size === subchannels.size;
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const id = args.extraPickInfo[CALL_ID_PICK_KEY];
    const call = id === undefined ? undefined : this.channel.calls.get(id);
    if (call?.decision === undefined) {
      return fail(
        experimental.PickResultType.DROP,
        `weft: call to ${this.channel.authority} has no route decision (not routed by this mesh's resolver)`,
      );
    }
    if (this.allConnecting) {
      // Startup (or every connection lost at once): nothing to pick from yet, so take no lease.
      this.channel.ctx.counters.picksQueued += 1;
      return QUEUE;
    }
    const decision = call.decision;
    // A lease from an earlier pick of this call that never started goes back before a new one.
    call.releasePending('reset');
    const overflow = this.admitRequest(call);
    if (overflow !== undefined) return overflow;
    const refused = this.admitRetry(call);
    if (refused !== undefined) return refused;
    // ring_hash keeps a key on its endpoint while that endpoint is merely connecting (gRFC A42):
    // only failing endpoints are skipped, and the call waits for a connecting one.
    const sticky = decision.cluster?.lbPolicy.kind === 'ring_hash';
    const base = sticky ? this.failing : this.notReady;
    let exclude: ReadonlySet<string> = base;
    if (call.failedKeys.size > 0) exclude = new Set([...base, ...call.failedKeys]);
    let lease: EndpointLease | undefined;
    // A retry (gRFC A44 attempt after one that ended) prefers an endpoint not tried before and
    // falls back to any READY one, tried or not, when all were (Envoy's previous-hosts predicate).
    if (call.triedKeys.size > 0) {
      lease = decision.pick(new Set([...exclude, ...call.triedKeys]));
      lease ??= decision.pick(base);
    } else {
      lease = decision.pick(exclude);
    }
    if (lease !== undefined) {
      const entry = this.subchannels.get(lease.endpoint.key);
      if (entry !== undefined && this.tlsMismatch(call, entry) !== undefined) {
        lease.done('success', UNUSED_LEASE);
        return this.probe(call);
      }
      if (entry?.state === ConnectivityState.READY) return this.complete(call, lease, entry);
      if (sticky && entry !== undefined && entry.state !== ConnectivityState.TRANSIENT_FAILURE) {
        lease.done('success', UNUSED_LEASE);
        if (entry.state === ConnectivityState.IDLE) {
          const key = lease.endpoint.key;
          queueMicrotask(() => {
            this.requestConnection(key);
          });
        }
        this.channel.ctx.counters.picksQueued += 1;
        return QUEUE;
      }
      // The core knows an endpoint this channel has no subchannel for yet (EDS moved ahead of
      // the resolver's last report): hand it back unused and look further.
      lease.done('success', UNUSED_LEASE);
    }
    return this.probe(call);
  }

  /**
   * Nothing READY can serve the call. Walk what the core would pick if not-READY endpoints were
   * allowed: unreachable ones are reported as connect failures (feeding the core's health, so
   * priority failover happens), connecting ones make the call wait for the next picker.
   */
  private probe(call: GrpcCallState): experimental.PickResult {
    const decision = call.decision;
    if (decision === undefined) return QUEUE;
    const { counters } = this.channel.ctx;
    const tried = new Set(call.failedKeys);
    let waiting = false;
    let refusal: string | undefined;
    for (let i = 0; i <= this.subchannels.size; i++) {
      const lease = decision.pick(tried);
      if (lease === undefined) break;
      const key = lease.endpoint.key;
      tried.add(key);
      const entry = this.subchannels.get(key);
      const mismatch = entry === undefined ? undefined : this.tlsMismatch(call, entry);
      if (mismatch !== undefined) {
        lease.done('success', UNUSED_LEASE);
        refusal = mismatch;
        continue;
      }
      if (entry?.state === ConnectivityState.READY) return this.complete(call, lease, entry);
      if (entry?.state === ConnectivityState.TRANSIENT_FAILURE) {
        counters.connectFailuresReported += 1;
        lease.done('connect-failure');
        continue;
      }
      // IDLE, CONNECTING, or not yet created: worth waiting for.
      lease.done('success', UNUSED_LEASE);
      waiting = true;
      if (entry?.state === ConnectivityState.IDLE) {
        queueMicrotask(() => {
          this.requestConnection(key);
        });
      }
    }
    if (waiting) {
      counters.picksQueued += 1;
      return QUEUE;
    }
    if (refusal !== undefined) {
      counters.picksRefusedTlsMismatch += 1;
      return fail(experimental.PickResultType.DROP, refusal);
    }
    counters.picksFailed += 1;
    return fail(
      experimental.PickResultType.TRANSIENT_FAILURE,
      `weft: no healthy upstream for ${this.channel.authority} in cluster ${decision.clusterName} ` +
        `(route ${decision.routeName}; ${tried.size} endpoint(s) unreachable or excluded)` +
        (this.lastError === null ? '' : `; last connect error: ${this.lastError}`),
    );
  }

  /**
   * Why `entry` cannot carry `call`: its subchannel (one per address) was made for a cluster with
   * other TLS settings. Never a call of an mTLS cluster in plaintext, nor checked against another
   * cluster's SPIFFE IDs.
   */
  private tlsMismatch(call: GrpcCallState, entry: PickerSubchannel): string | undefined {
    const decision = call.decision;
    if (decision === undefined) return undefined;
    const wanted = this.channel.ctx.upstreamTls.of(decision.cluster);
    if (sameUpstreamTls(wanted, entry.tls)) return undefined;
    return `weft: WEFT_UNSUPPORTED: an endpoint of cluster ${decision.clusterName} needs ${describeUpstreamTls(wanted)}, but this channel's connection to that address is for cluster ${entry.cluster} with ${describeUpstreamTls(entry.tls)} (gRPC keeps one connection per address); the call is not sent there`;
  }

  /**
   * A pick for an attempt after one ended is a retry: it needs one of the cluster's concurrent
   * retry slots (circuit breaker max_retries). Over the limit the call ends with the last
   * attempt's status (a DROP is never retried by grpc-js), as Envoy returns the last response.
   */
  private admitRetry(call: GrpcCallState): experimental.PickResult | undefined {
    const decision = call.decision;
    const last = call.lastStatus;
    if (decision === undefined || last === undefined || call.retryPolicy === undefined) {
      return undefined;
    }
    if (call.holdsRetry) return undefined;
    const { retryBudgets, counters } = this.channel.ctx;
    if (retryBudgets.tryAcquire(decision.clusterName, decision.cluster?.circuitBreakers)) {
      call.holdsRetry = true;
      return undefined;
    }
    counters.retryBudgetExceeded += 1;
    return {
      pickResultType: experimental.PickResultType.DROP,
      subchannel: null,
      status: {
        code: last.code,
        details: `${last.details} (weft: retry not made, cluster ${decision.clusterName} is at its max_retries)`,
        metadata: new Metadata(),
      },
      onCallStarted: null,
      onCallEnded: null,
    };
  }

  /**
   * gRFC A32: a cluster at its max_requests drops the pick UNAVAILABLE (a drop is never retried
   * by grpc-js); every attempt counts, from its pick to its end, retries included.
   */
  private admitRequest(call: GrpcCallState): experimental.PickResult | undefined {
    const decision = call.decision;
    if (decision === undefined) return undefined;
    const { admission, counters } = this.channel.ctx;
    admission.warnUnenforced(decision.cluster);
    const limit = (decision.cluster?.circuitBreakers ?? DEFAULT_CIRCUIT_BREAKERS).maxRequests;
    if (admission.counts(decision.clusterName).active < limit) return undefined;
    counters.overflows += 1;
    const err = admission.overflow(decision.clusterName, 'max_requests', limit);
    return fail(experimental.PickResultType.DROP, `weft: ${err.code}: ${err.message} (UO)`);
  }

  private complete(
    call: GrpcCallState,
    picked: EndpointLease,
    entry: PickerSubchannel,
  ): experimental.PickResult {
    const decision = call.decision;
    // The attempt holds one of its cluster's max_requests slots until its lease is done.
    const lease =
      decision === undefined
        ? picked
        : countedLease(this.channel.ctx.admission, decision.clusterName, picked);
    call.picked(lease);
    return {
      pickResultType: experimental.PickResultType.COMPLETE,
      subchannel: entry.subchannel,
      status: null,
      onCallStarted: () => {
        call.started(lease);
      },
      onCallEnded: (code, details) => {
        call.ended(lease, outcomeOfGrpcStatus(code), code, details);
      },
    };
  }
}

/** Wraps `lease` so that its `done` also frees the attempt's max_requests slot. */
function countedLease(
  admission: ClusterAdmission,
  cluster: string,
  lease: EndpointLease,
): EndpointLease {
  admission.counts(cluster).active += 1;
  return {
    endpoint: lease.endpoint,
    done: (outcome, detail) => {
      admission.endRequest(cluster);
      lease.done(outcome, detail);
    },
  };
}

function fail(
  type: experimental.PickResultType.TRANSIENT_FAILURE | experimental.PickResultType.DROP,
  details: string,
): experimental.PickResult {
  return {
    pickResultType: type,
    subchannel: null,
    status: { code: GrpcStatus.UNAVAILABLE, details, metadata: new Metadata() },
    onCallStarted: null,
    onCallEnded: null,
  };
}

/** A picker for a policy with nothing to offer: every call fails UNAVAILABLE with `details`. */
export function createFailingPicker(details: string): experimental.Picker {
  return { pick: () => fail(experimental.PickResultType.TRANSIENT_FAILURE, details) };
}
