// The mesh model: the validated, fully resolved, frozen result of loading a config directory, and
// the only input of the translator. Spec: DESIGN.md "Configuration: what users write".

/** `Kind/namespace/name` of the resource a model part came from, for notes and the admin API. */
export type ResourceRef = string;

/** A locality `region/zone/subzone`; each part is `''` when unset. */
export interface MeshLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** Application protocols Weft serves on a service port (all through an HTTP api_listener). */
export type ServiceProtocol = 'HTTP' | 'HTTP2' | 'GRPC';

/** One port of a service (ServiceEntry `ports[]`). */
export interface ServicePort {
  readonly number: number;
  readonly name: string;
  readonly protocol: ServiceProtocol;
}

/** One workload serving a service: an inline ServiceEntry endpoint, a selected WorkloadEntry or a registration. */
export interface MeshEndpoint {
  /** IP literal (v4 or v6). */
  readonly address: string;
  /**
   * Service port number → the port this endpoint listens on (resolved from `ports` by port name).
   * A registered endpoint lists only the ports it serves; it is not in the others' clusters.
   */
  readonly ports: Readonly<Record<number, number>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly locality: MeshLocality;
  /** Load-balancing weight, ≥ 1 (default 1). */
  readonly weight: number;
  /** Default `default`. */
  readonly serviceAccount: string;
  /** Namespace of the resource that declared the endpoint (part of its SPIFFE ID). */
  readonly namespace: string;
  readonly source: ResourceRef;
}

/** A service host (one ServiceEntry host) with its ports and endpoints. */
export interface MeshService {
  readonly host: string;
  readonly namespace: string;
  /** At least one; `ports[0]` is the default port (Listener `host`). */
  readonly ports: readonly ServicePort[];
  readonly location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Sorted by address, then source. */
  readonly endpoints: readonly MeshEndpoint[];
  readonly source: ResourceRef;
}

/** A string matcher (Istio StringMatch). */
export interface StringMatch {
  readonly kind: 'exact' | 'prefix' | 'regex';
  readonly value: string;
}

/** A header or query-parameter matcher. */
export interface NamedStringMatch {
  readonly name: string;
  readonly match: StringMatch;
}

/** One `http[].match[]` entry; all conditions must hold. */
export interface HttpMatch {
  /** `null`: any path. */
  readonly uri: StringMatch | null;
  readonly ignoreUriCase: boolean;
  readonly headers: readonly NamedStringMatch[];
  /** Headers that must NOT match (Istio `withoutHeaders`). */
  readonly withoutHeaders: readonly NamedStringMatch[];
  readonly queryParams: readonly NamedStringMatch[];
}

/** Where a route sends traffic. */
export interface RouteDestination {
  readonly host: string;
  /** `''`: no subset. */
  readonly subset: string;
  /**
   * `null`: not given; the translator uses the listener's port when `host` is the route's own host
   * and has that port, else the host's default port.
   */
  readonly port: number | null;
  /** Percent (0-100); 100 for a lone destination. */
  readonly weight: number;
}

/** A mirror target (Istio `mirror` + `mirrorPercentage`). */
export interface RouteMirror {
  readonly host: string;
  readonly subset: string;
  readonly port: number | null;
  /** Percent of requests mirrored, 0-100 (default 100). */
  readonly percent: number;
}

/** Istio `retries`. */
export interface RetryPolicy {
  readonly attempts: number;
  /** 0: no per-try timeout. */
  readonly perTryTimeoutMs: number;
  /** Envoy/gRPC retry conditions, e.g. `['5xx', 'unavailable']`. */
  readonly retryOn: readonly string[];
  /** HTTP status codes from numeric `retryOn` tokens (Envoy `retriable_status_codes`). */
  readonly retriableStatusCodes: readonly number[];
}

/** Istio `fault`. */
export interface FaultPolicy {
  readonly delay: { readonly percent: number; readonly fixedDelayMs: number } | null;
  readonly abort:
    | { readonly percent: number; readonly httpStatus: number; readonly grpcStatus: null }
    | { readonly percent: number; readonly httpStatus: null; readonly grpcStatus: number }
    | null;
}

/** Header manipulation (Istio `headers.request` / `headers.response`). */
export interface HeaderOperations {
  readonly set: Readonly<Record<string, string>>;
  readonly add: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

/** One `http[]` route of a VirtualService. */
export interface HttpRoute {
  /** Istio `name`, or `''`. */
  readonly name: string;
  /** Empty: matches every request. Any entry matching selects the route. */
  readonly matches: readonly HttpMatch[];
  /** At least one. */
  readonly destinations: readonly RouteDestination[];
  /** 0: no timeout (Istio's default, which disables Envoy's 15 s). */
  readonly timeoutMs: number;
  /** `null`: no retries (Weft adds no implicit retry policy). */
  readonly retries: RetryPolicy | null;
  readonly fault: FaultPolicy | null;
  readonly mirror: RouteMirror | null;
  readonly requestHeaders: HeaderOperations;
  readonly responseHeaders: HeaderOperations;
}

/** A VirtualService, as it applies to each of its hosts. */
export interface MeshVirtualService {
  readonly hosts: readonly string[];
  /** In order: first match wins. */
  readonly http: readonly HttpRoute[];
  readonly source: ResourceRef;
}

/** What a ring hash hashes on. */
export type HashKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'sourceIp' }
  | { readonly kind: 'queryParameter'; readonly name: string };

/** A resolved load-balancer setting. */
export type LoadBalancerPolicy =
  | { readonly kind: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' }
  | { readonly kind: 'RING_HASH'; readonly hashKey: HashKey; readonly minimumRingSize: number };

/** `localityLbSetting.distribute[]`. */
export interface LocalityDistribute {
  /** Locality pattern `region/zone/subzone`, parts may be `*`. */
  readonly from: string;
  /** Locality pattern → percent weight. */
  readonly to: Readonly<Record<string, number>>;
}

/** `localityLbSetting.failover[]` (regions). */
export interface LocalityFailover {
  readonly from: string;
  readonly to: string;
}

/** `localityLbSetting`. Priorities apply whenever `enabled` (see DESIGN: locality failover). */
export interface LocalityLbSetting {
  /** Default true. */
  readonly enabled: boolean;
  readonly distribute: readonly LocalityDistribute[];
  readonly failover: readonly LocalityFailover[];
}

/** `connectionPool`; `null` leaves the client's default (Envoy's). */
export interface ConnectionPool {
  readonly maxConnections: number | null;
  readonly connectTimeoutMs: number;
  readonly http1MaxPendingRequests: number | null;
  readonly http2MaxRequests: number | null;
  readonly maxRequestsPerConnection: number | null;
  readonly maxRetries: number | null;
  readonly idleTimeoutMs: number | null;
}

/** `outlierDetection` with Istio's defaults filled in. */
export interface OutlierDetection {
  /** `null`: consecutive-5xx ejection off. Istio default 5. */
  readonly consecutive5xxErrors: number | null;
  readonly consecutiveGatewayErrors: number | null;
  readonly consecutiveLocalOriginFailures: number | null;
  readonly splitExternalLocalOriginErrors: boolean;
  /** Default 10 s. */
  readonly intervalMs: number;
  /** Default 30 s. */
  readonly baseEjectionTimeMs: number;
  /** Default 10. */
  readonly maxEjectionPercent: number;
  /** Default 0 (Istio's), i.e. panic mode off. */
  readonly minHealthPercent: number;
}

/** Upstream TLS (`tls`). */
export interface TlsSettings {
  readonly mode: 'DISABLE' | 'ISTIO_MUTUAL';
  /** `''`: none. */
  readonly sni: string;
  /** Empty: the SPIFFE IDs of the endpoints' service accounts. */
  readonly subjectAltNames: readonly string[];
}

/** A traffic policy with every default resolved (host level merged into subsets). */
export interface TrafficPolicy {
  readonly loadBalancer: LoadBalancerPolicy;
  readonly localityLb: LocalityLbSetting;
  readonly connectionPool: ConnectionPool;
  readonly outlierDetection: OutlierDetection | null;
  readonly tls: TlsSettings;
}

/** A DestinationRule subset. */
export interface MeshSubset {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The host-level policy with the subset's own top-level fields laid over it (Istio's merge). */
  readonly trafficPolicy: TrafficPolicy;
}

/** The policy for one host: its DestinationRule, or the defaults when it has none. */
export interface MeshDestinationPolicy {
  readonly host: string;
  readonly trafficPolicy: TrafficPolicy;
  readonly subsets: readonly MeshSubset[];
  /** `''` when no DestinationRule exists for the host. */
  readonly source: ResourceRef;
}

/** `weft.dev/v1alpha1` MeshConfig with defaults. */
export interface MeshSettings {
  /** Default `cluster.local`. */
  readonly trustDomain: string;
  /** Default 10 s (Istio's). */
  readonly connectTimeoutMs: number;
  /** Default 24 h. */
  readonly certificateTtlMs: number;
  /** Namespace whose selector-less security policies apply mesh-wide. Default `weft-system`. */
  readonly rootNamespace: string;
  /** Percent of trace-starting requests sampled (`tracing.sampling`). Default 1 (Istio's). */
  readonly tracingSamplingPercent: number;
}

/** A local token-bucket limit (`weft.dev/v1alpha1` LocalRateLimit), resolved. */
export interface LocalRateLimitPolicy {
  /** ≥ 1; also the bucket's initial content. */
  readonly maxTokens: number;
  /** ≥ 1 (default 1). */
  readonly tokensPerFill: number;
  /** ≥ 1. */
  readonly fillIntervalMs: number;
  /** x-ratelimit-* headers on responses (default true). */
  readonly responseHeaders: boolean;
  readonly source: ResourceRef;
}

/** The local rate limits of one host: the whole host's, and per named route (which win). */
export interface HostRateLimits {
  readonly host: string;
  /** `null`: no host-wide limit. */
  readonly wholeHost: LocalRateLimitPolicy | null;
  /** VirtualService route name → its limit. */
  readonly routes: ReadonlyMap<string, LocalRateLimitPolicy>;
}

/** The whole mesh. Deeply frozen. */
export interface MeshModel {
  readonly settings: MeshSettings;
  /** By host, in host order. */
  readonly services: ReadonlyMap<string, MeshService>;
  /** By host; a host without a VirtualService routes everything to its own cluster. */
  readonly virtualServices: ReadonlyMap<string, MeshVirtualService>;
  /** By host; every service host has an entry (defaults when it has no DestinationRule). */
  readonly destinationPolicies: ReadonlyMap<string, MeshDestinationPolicy>;
  /** By host; only hosts with a LocalRateLimit. */
  readonly localRateLimits: ReadonlyMap<string, HostRateLimits>;
  /** Every PeerAuthentication, sorted by namespace then name. */
  readonly peerAuthentications: readonly MeshPeerAuthentication[];
  /** Every AuthorizationPolicy, sorted by namespace then name. */
  readonly authorizationPolicies: readonly MeshAuthorizationPolicy[];
}

/** An inbound mTLS mode as written; `UNSET` inherits from the parent scope. */
export type MtlsModeSetting = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** A PeerAuthentication (`security.istio.io`). */
export interface MeshPeerAuthentication {
  readonly namespace: string;
  readonly name: string;
  /** `null`: no selector (namespace-wide, or mesh-wide in the root namespace). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly mode: MtlsModeSetting;
  /** Port number → mode (only with a selector, like Istio). */
  readonly portLevel: ReadonlyMap<number, MtlsModeSetting>;
  readonly source: ResourceRef;
}

/** `rules[].from[].source`; empty lists are unset. */
export interface AuthzSource {
  readonly principals: readonly string[];
  readonly notPrincipals: readonly string[];
  readonly namespaces: readonly string[];
  readonly notNamespaces: readonly string[];
}

/** `rules[].to[].operation`; empty lists are unset. */
export interface AuthzOperation {
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly string[];
  readonly notPaths: readonly string[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
}

/** `rules[].when[]`: `key` is `request.headers[NAME]`, `source.principal` or `source.namespace`. */
export interface AuthzCondition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/** One rule: any `from` and any `to` (empty = any) and every `when`. */
export interface AuthzRule {
  readonly from: readonly AuthzSource[];
  readonly to: readonly AuthzOperation[];
  readonly when: readonly AuthzCondition[];
}

/** An AuthorizationPolicy (`security.istio.io`). */
export interface MeshAuthorizationPolicy {
  readonly namespace: string;
  readonly name: string;
  /** `null`: every workload of the namespace (of the mesh in the root namespace). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  /** Empty: matches nothing (an ALLOW policy with no rules denies every request). */
  readonly rules: readonly AuthzRule[];
  readonly source: ResourceRef;
}
