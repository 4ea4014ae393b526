// The per-request record published on diagnostics_channel `weft:sdk:request` and logged at debug,
// and the counters behind `mesh.stats().http`. (STYLE rules 28-29.)
import type { ClusterAdmissionStats } from '../cluster/cluster-admission.js';
import type { AttemptOutcome } from '../runtime/mesh-runtime.js';

/** Channel name of the per-request record. */
export const HTTP_REQUEST_CHANNEL = 'weft:sdk:request' as const;

/** How a request ended, from the mesh's side. */
export type HttpRequestOutcome =
  | AttemptOutcome
  /** The route table had no route (NR), or the origin is not one the mesh routes. */
  | 'no-route'
  /** No endpoint could be picked (UH), or all refused the connection (UF; see `responseFlag`). */
  | 'no-healthy-upstream'
  /** The caller aborted it. */
  | 'cancelled'
  /** A circuit-breaker threshold of the cluster refused it (UO). */
  | 'overflow'
  /** The cluster's service-level breaker is open: failed fast (WEFT_BREAKER_OPEN, UO). */
  | 'breaker-open'
  /** A local rate limit answered it (429 from the mesh, flag RL); never sent upstream. */
  | 'rate-limited'
  /** A fault filter aborted it with a mesh-made response (response flag FI). */
  | 'fault-abort'
  /** Anything else: a closed mesh, an invalid request, an error thrown by the caller's handler. */
  | 'error';

/** Published once per request when it ends (response complete, or failed). */
export interface HttpRequestEvent {
  readonly authority: string;
  readonly method: string;
  readonly path: string;
  /** Undefined when no route was chosen. */
  readonly cluster: string | undefined;
  /** `address:port` of the last endpoint tried; undefined when none was. */
  readonly endpoint: string | undefined;
  readonly outcome: HttpRequestOutcome;
  /** Response status, when one arrived. */
  readonly statusCode: number | undefined;
  /** Envoy response flags, comma-separated: `-`, NR, UH, UF, UT, UC, FI, DI (fault delay)… */
  readonly responseFlag: string;
  /** Tries sent: 1, plus connect failures moved to the next endpoint, plus retries. */
  readonly attempts: number;
  /** Retries the route's retry policy made (after a retriable status, reset or per-try timeout). */
  readonly retries: number;
  /** From dispatch to the end of the response or the failure, in ms (the mesh's clock). */
  readonly durationMs: number;
  /** Request body bytes: the body's length, or what undici reported sent for a streamed body. */
  readonly requestBytes: number;
  /** Response body bytes passed to the caller. */
  readonly responseBytes: number;
  readonly error: Error | undefined;
}

/** Counters of the HTTP path since the mesh was created. A plain object; read-only snapshot. */
export interface MeshHttpStats {
  /** Requests dispatched. */
  readonly requests: number;
  /** Requests that got a response (any status). */
  readonly responses: number;
  /** Requests that failed without a response, or whose response body failed. */
  readonly failures: number;
  /** Attempts whose connection could not be established. */
  readonly connectFailures: number;
  /** Attempts moved to another endpoint within one request after a connect failure. */
  readonly retriesToNextEndpoint: number;
  /** Requests that hit the route timeout. */
  readonly timeouts: number;
  /** Retries made under a route's retry policy. */
  readonly retries: number;
  /** Requests whose last try failed retriably with no retries left (the outcome stands, or URX). */
  readonly retriesExhausted: number;
  /** Retries not made because the cluster's max_retries (or retry budget) was reached. */
  readonly retryBudgetExceeded: number;
  /** Tries that hit the route's per-try timeout. */
  readonly perTryTimeouts: number;
  /** Requests with a retry policy not retried because their body is a stream (sent once). */
  readonly retriesSkippedStreamedBody: number;
  /** Requests answered by a local rate limit (429 from the mesh, flag RL), never sent upstream. */
  readonly rateLimited: number;
  /** Requests a fault filter delayed (response flag DI). */
  readonly faultsDelayed: number;
  /** Requests a fault filter aborted (response flag FI). */
  readonly faultsAborted: number;
  /** Fault filters not applied because their max_active_faults were active. */
  readonly faultsOverflowed: number;
  /** Copies sent to a mirror cluster (request_mirror_policies). */
  readonly mirrored: number;
  /** Mirror copies that failed (no endpoint, connect failure, reset, timeout); logged at debug. */
  readonly mirrorFailures: number;
  /** Requests drawn for mirroring but not mirrored because their body is a stream. */
  readonly mirrorsSkippedStreamedBody: number;
  /** Copies dropped because the mirror cluster was at its circuit breaker's max_requests. */
  readonly mirrorsOverflowed: number;
  /** Endpoint pools open now. */
  readonly pools: number;
  /** Requests (or retries) refused by a cluster's circuit breaker (WEFT_OVERFLOW, UO). */
  readonly overflows: number;
  /** Circuit-breaker state per cluster: active and pending requests, connections, overflows. */
  readonly clusters: Readonly<Record<string, ClusterAdmissionStats>>;
}

/** Mutable counters, owned by one dispatcher. */
export class HttpCounters {
  requests = 0;
  responses = 0;
  failures = 0;
  connectFailures = 0;
  retriesToNextEndpoint = 0;
  timeouts = 0;
  retries = 0;
  retriesExhausted = 0;
  retryBudgetExceeded = 0;
  perTryTimeouts = 0;
  retriesSkippedStreamedBody = 0;
  overflows = 0;
  rateLimited = 0;
  faultsDelayed = 0;
  faultsAborted = 0;
  faultsOverflowed = 0;
  mirrored = 0;
  mirrorFailures = 0;
  mirrorsSkippedStreamedBody = 0;
  mirrorsOverflowed = 0;

  snapshot(
    pools: number,
    clusters: Readonly<Record<string, ClusterAdmissionStats>>,
  ): MeshHttpStats {
    return {
      requests: this.requests,
      responses: this.responses,
      failures: this.failures,
      connectFailures: this.connectFailures,
      retriesToNextEndpoint: this.retriesToNextEndpoint,
      timeouts: this.timeouts,
      retries: this.retries,
      retriesExhausted: this.retriesExhausted,
      retryBudgetExceeded: this.retryBudgetExceeded,
      perTryTimeouts: this.perTryTimeouts,
      retriesSkippedStreamedBody: this.retriesSkippedStreamedBody,
      rateLimited: this.rateLimited,
      faultsDelayed: this.faultsDelayed,
      faultsAborted: this.faultsAborted,
      faultsOverflowed: this.faultsOverflowed,
      mirrored: this.mirrored,
      mirrorFailures: this.mirrorFailures,
      mirrorsSkippedStreamedBody: this.mirrorsSkippedStreamedBody,
      mirrorsOverflowed: this.mirrorsOverflowed,
      pools,
      overflows: this.overflows,
      clusters,
    };
  }
}
