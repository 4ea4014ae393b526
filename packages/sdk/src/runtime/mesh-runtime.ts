// The contract between the SDK's core (xDS dependency manager → routing → cluster/LB) and its
// transports (undici for HTTP, grpc-js for gRPC): one routing implementation for both.
// DESIGN.md "The request path", steps 1-4.
import type { EffectiveHttpFilters } from '../routing/route-filters.js';
import type {
  ClusterUpdate,
  RetryPolicyUpdate,
  RouteActionUpdate,
  WeftError,
} from '@weft/xds-client';

/** The request attributes routing reads. Built once per request by the transport. */
export interface RouteInput {
  /** The target as the caller wrote it: `inventory`, `inventory:8080` (names an xDS Listener). */
  readonly authority: string;
  /** Path with query string, e.g. `/items/42?verbose=1`; for gRPC `/pkg.Service/Method`. */
  readonly path: string;
  /** Header (or gRPC metadata) value by lower-case name; several values joined by `,`. */
  readonly header: (lowerCaseName: string) => string | undefined;
  /** The client's own address, for `source_ip` hash policies (ring hash); optional. */
  readonly sourceIp?: string;
}

/** A locality as in envoy.config.core.v3.Locality. */
export interface EndpointLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** One upstream host of a cluster. Immutable; replaced on every EDS update. */
export interface UpstreamEndpoint {
  /** `address:port`, unique within the mesh; the pool / subchannel key. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly clusterName: string;
  readonly locality: EndpointLocality;
  readonly priority: number;
}

/** What one attempt on an endpoint came to, as the transport saw it. Feeds health and LB. */
export type AttemptOutcome =
  | 'success' // a response arrived (any status the route does not count as a failure)
  | 'connect-failure' // could not connect (refused, unreachable, TLS handshake)
  | 'reset' // the connection died mid-request
  | 'timeout' // the per-try or route timeout fired
  | 'server-error'; // 5xx / gRPC UNAVAILABLE-class answer

/** What else the transport knows about an attempt's end (outlier detection reads it). */
export interface AttemptDetail {
  /**
   * The response status of a 'server-error' (502/503/504 are gateway errors). gRPC reports
   * UNAVAILABLE as 503, gRPC's HTTP mapping of it, so it counts as a gateway error.
   */
  readonly httpStatus?: number;
  /**
   * The lease goes back without an attempt having been made on it (a gRPC pick handed back, a
   * call cancelled before its stream opened): it updates in-flight counts only and says nothing
   * of the endpoint's health to outlier detection. Use with outcome 'success'.
   */
  readonly unused?: boolean;
}

/** `done('success', UNUSED_LEASE)`: a lease handed back without an attempt. */
export const UNUSED_LEASE: AttemptDetail = Object.freeze({ unused: true });

/** A picked endpoint. `done()` must be called exactly once, when the attempt ends. */
export interface EndpointLease {
  readonly endpoint: UpstreamEndpoint;
  done(outcome: AttemptOutcome, detail?: AttemptDetail): void;
}

/** An endpoint of a mirror cluster, and that cluster's resource (circuit breakers, timeouts). */
export interface MirrorPick {
  readonly lease: EndpointLease;
  /** Undefined when the cluster's CDS resource is missing (then no endpoint is picked either). */
  readonly cluster: ClusterUpdate | undefined;
}

/** Where a request goes, decided once per request from the current immutable tables. */
export interface RouteDecision {
  readonly listenerName: string;
  readonly routeConfigName: string;
  readonly virtualHostName: string;
  /** The route's `name`, or `#index` when unnamed. */
  readonly routeName: string;
  /** The cluster chosen (weighted clusters already picked). */
  readonly clusterName: string;
  /** Route timeout in ms (`undefined` = Envoy's default applies at the transport: 15 s; 0 = none). */
  readonly timeoutMs: number | undefined;
  /**
   * Picks an endpoint of `clusterName` by priority, locality and LB policy, skipping `exclude`
   * (keys already tried by this request, or not connectable right now). Undefined: no healthy
   * endpoint left (the caller fails with WEFT_NO_HEALTHY_UPSTREAM).
   */
  pick(exclude?: ReadonlySet<string>): EndpointLease | undefined;
  /**
   * Picks an endpoint of `clusterName`, another cluster of the same listener (a request mirror
   * policy's cluster), by its own priority, locality and LB policy. Undefined when the cluster is
   * not in the listener's config or has no healthy endpoint.
   */
  pickMirror(clusterName: string): MirrorPick | undefined;
  /** The route's retry policy (the virtual host's when the route has none); undefined = no retries. */
  readonly retryPolicy: RetryPolicyUpdate | undefined;
  /** The whole route action (max stream duration, grpc-timeout cap, mirror policies, hash policies). */
  readonly action: RouteActionUpdate;
  /**
   * The chosen cluster (connect timeout, circuit breakers, TLS, outlier detection); undefined
   * when its CDS resource is missing or invalid (then `pick()` returns undefined).
   */
  readonly cluster: ClusterUpdate | undefined;
  /**
   * The listener's HTTP filters (fault injection, local rate limit) with the route's overrides
   * applied, in chain order; empty when the listener runs the router only.
   */
  readonly filters: EffectiveHttpFilters;
  /**
   * The WEFT_NO_HEALTHY_UPSTREAM error (a RoutingError, layer 'cluster') to fail with after
   * `pick(exclude)` returned undefined; its message names the cause (cluster or endpoints
   * missing or invalid, no endpoints, every endpoint unhealthy / unreachable / excluded).
   */
  unavailableError(exclude?: ReadonlySet<string>): WeftError;
}

/** The SDK core as the transports see it. */
export interface MeshRuntime {
  /**
   * Hot path, synchronous: a decision, a WeftError (WEFT_NO_ROUTE with the layer that refused:
   * listener, virtual host or route), or 'pending' when the listener for `authority` has no
   * complete config yet (the caller awaits `whenReady`).
   */
  route(input: RouteInput): RouteDecision | WeftError | 'pending';
  /**
   * Starts following the listener for `authority` (LDS → RDS → CDS → EDS) if not yet, and
   * resolves once a complete config is in force; rejects with a WeftError naming the missing
   * resource after `timeoutMs`.
   */
  whenReady(authority: string, timeoutMs: number): Promise<void>;
  /** Every endpoint of every cluster currently referenced by the listener of `authority` (for gRPC subchannels). */
  endpointsOf(authority: string): readonly UpstreamEndpoint[];
  /**
   * The CDS config of a cluster the listener of `authority` references; undefined when it has
   * none (yet). gRPC subchannels read its TLS settings.
   */
  clusterOf(authority: string, clusterName: string): ClusterUpdate | undefined;
  /** Registers a listener for config changes of `authority` (new tables in force); returns an unsubscribe function. */
  onUpdate(authority: string, listener: () => void): () => void;
  /** What is in force, for the admin API / config dump. */
  describe(): unknown;
  close(): void;
}
