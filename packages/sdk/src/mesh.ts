// The public face of a mesh client: what `createMesh()` returns (issue 3, "Public surface").
import type { RequestListener, Server } from 'node:http';
import type {
  ChannelCredentials,
  Interceptor,
  ServerCredentials,
  ServerInterceptor,
} from '@grpc/grpc-js';
import type { Dispatcher, RequestInfo, Response } from 'undici';
import type { ServiceBreakerStats } from './breaker/cluster-breaker.js';
import type { MeshFetchInit } from './breaker/fetch-fallback.js';
import type { GrpcFallback } from './breaker/grpc-fallback.js';
import type { MeshHttpStats } from './http/http-request-event.js';
import type { Registration, RegistrationEndpoint } from './registration/registration-types.js';
import type { MeshAdminAddress } from './admin/mesh-admin-server.js';
import type { GrpcIntegrationStats } from './grpc/grpc-integration.js';
import type { LocalRateLimitStats } from './filters/local-rate-limit.js';
import type { MeshTelemetryStats } from './telemetry/mesh-telemetry.js';
import type { TracingStats } from './tracing/mesh-tracing.js';
import type { InboundSecurityStatsSnapshot } from './security/inbound-security-stats.js';
import type { WorkloadCertificateStats } from './security/certificate-agent-stats.js';
import type { TlsHandshakeStats } from './security/tls-handshakes.js';
import type { WorkloadCertificates } from './security/workload-certificates.js';

/** Options of `mesh.serve()`. */
export interface MeshServeOptions {
  /** Service host the server belongs to, e.g. `inventory`. */
  readonly service: string;
  /** Port to listen on; 0 = ephemeral (the one bound is registered). */
  readonly port: number;
  /** Workload labels (DestinationRule subsets select on them). Default: the mesh's workload labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Address clients dial (registered in EDS), an IP literal. Default `127.0.0.1`. */
  readonly address?: string;
  /** Address to bind. Default: `address`. */
  readonly host?: string;
  /** The service port clients address (`inventory:8080`). Default: see RegistrationEndpoint.servicePort. */
  readonly servicePort?: number;
  /**
   * On `close()`, how long the server keeps serving after it has left EDS, in ms, so clients
   * move off it before its connections close (Istio's drain duration). Default 1000.
   */
  readonly drainMs?: number;
  /**
   * The certificate and trust bundle for inbound mTLS (PeerAuthentication STRICT / PERMISSIVE).
   * Default: `mesh.certificates` (the `identity` option); with neither, mTLS connections are
   * refused and counted (`no_server_certificate`).
   */
  readonly certificates?: WorkloadCertificates;
}

/** Options of `mesh.grpcServerInterceptor()`. */
export interface MeshGrpcServerInterceptorOptions {
  /** The service host; with it, inbound calls are counted in Istio metrics and the access log. */
  readonly service?: string;
  /**
   * The port the grpc-js server listens on; with it, the interceptor enforces the workload's
   * AuthorizationPolicies (the inbound Listener for `address:port`): denied calls end
   * PERMISSION_DENIED, calls wait for the first Listener (fail-closed, UNAVAILABLE after the
   * mesh's ready timeout).
   */
  readonly port?: number;
  /** The address the server is bound to (part of the Listener name). Default `127.0.0.1`. */
  readonly address?: string;
}

/** A server started by `mesh.serve()` and registered with the control plane. */
export interface MeshServer {
  /** The bound port. */
  readonly port: number;
  readonly server: Server;
  readonly registration: Registration;
  /**
   * Deregisters at once, keeps serving for `drainMs` while clients learn the endpoint is gone,
   * then closes the server (in-flight requests finish).
   */
  close(): Promise<void>;
}

/** Counters of one mesh; a plain object. */
export interface MeshStats {
  readonly http: MeshHttpStats;
  readonly grpc: GrpcIntegrationStats;
  /** Local rate limits: allowed / limited per (filter, scope), both transports. */
  readonly localRateLimit: LocalRateLimitStats;
  readonly xds: {
    /** Whether the xDS stream is up. */
    readonly connected: boolean;
    /** Whether the control plane's first response was accepted. */
    readonly ready: boolean;
    /** The port of the current stream: `mtls` (controlPlaneTls) or `plaintext`. */
    readonly channel: 'plaintext' | 'mtls';
    /** Times the stream moved to the mTLS port (first certificate, or one again after expiry). */
    readonly movedToMtls: number;
  };
  /**
   * The service-level breaker of each upstream cluster used so far (HTTP and gRPC share one per
   * cluster): its state and counters since the mesh was created. Empty with `serviceBreaker: false`.
   */
  readonly breakers: Readonly<Record<string, ServiceBreakerStats>>;
  /** Istio metrics (series in use, overflowed requests) and access log counters; undefined parts are off. */
  readonly telemetry: MeshTelemetryStats;
  /** Tracing: whether on, which provider, spans started. */
  readonly tracing: TracingStats;
  /** Inbound mTLS and RBAC of served ports: connections, handshake failures by reason, decisions. */
  readonly inboundSecurity: InboundSecurityStatsSnapshot;
  /** mTLS: the workload certificate (undefined without `identity`) and TLS handshakes. */
  readonly security: MeshSecurityStats;
}

/** `mesh.stats().security`: plain data, never key material. */
export interface MeshSecurityStats {
  /** The workload certificate agent; undefined when no identity is configured. */
  readonly certificate: WorkloadCertificateStats | undefined;
  /** Outbound mTLS handshakes: succeeded, and failed by reason. */
  readonly handshakes: TlsHandshakeStats;
}

/** A mesh client: outbound HTTP and gRPC routed by the control plane's config, and registration. */
export interface Mesh {
  /** The xDS node id this client announced. */
  readonly nodeId: string;
  /**
   * An undici Dispatcher for any undici API: `request(url, { dispatcher: mesh.dispatcher })`.
   * Mesh failures reject with a WeftError (code, httpStatus, responseFlag).
   */
  readonly dispatcher: Dispatcher;
  /**
   * undici's `fetch` through the mesh. Fetch semantics: a mesh failure rejects with
   * `TypeError('fetch failed')` whose `cause` is the WeftError. `init.fallback` answers a
   * request the cluster's service-level breaker rejects (WEFT_BREAKER_OPEN) or counts as failed
   * (see MeshFetchInit).
   */
  fetch(input: RequestInfo, init?: MeshFetchInit): Promise<Response>;
  /**
   * grpc-js channel credentials for clients of this mesh's `xds:///` targets:
   * `new EchoClient('xds:///echo:50051', mesh.grpcCredentials())`. Per subchannel, clusters that
   * require mTLS (DestinationRule ISTIO_MUTUAL) get TLS with the workload's current certificate
   * (rotations reach new connections), the mesh's trust bundle and a check of the server's SPIFFE
   * ID against the cluster's service accounts; other clusters use `fallback` (default: plaintext).
   * A channel with other credentials has its calls to mTLS clusters refused (never plaintext).
   * Throws WEFT_INVALID_CONFIG if `fallback` is not ChannelCredentials.
   */
  grpcCredentials(fallback?: ChannelCredentials): ChannelCredentials;
  /**
   * A grpc-js client interceptor, per call (`client.method(req, { interceptors: [i] }, cb)`) or
   * per client: when the cluster's service-level breaker rejected the call or counted its status
   * as a failure (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS), the call
   * succeeds with the message `fallback` returns. Throws WEFT_INVALID_CONFIG if not a function.
   */
  grpcFallback(fallback: GrpcFallback): Interceptor;
  /**
   * A grpc-js server interceptor for servers registered with `mesh.register()`:
   * `new Server({ interceptors: [mesh.grpcServerInterceptor({ service: 'stock' })] })`. Keeps or
   * generates x-request-id and, with tracing on, makes a server span per call from its W3C / B3
   * metadata (calls the handler makes through this mesh are its children); with `service`, also
   * counts the inbound calls in Istio's metrics (reporter=destination) and the access log.
   */
  grpcServerInterceptor(options?: MeshGrpcServerInterceptorOptions): ServerInterceptor;
  /**
   * grpc-js server credentials for inbound mTLS with the workload certificate (client
   * certificate required and checked against the trust bundle; rotations reach new handshakes).
   * Resolves once a certificate is there; rejects WEFT_TLS_NO_CERTIFICATE without one.
   * `certificates` default: `mesh.certificates`.
   */
  grpcServerCredentials(options?: {
    readonly certificates?: WorkloadCertificates;
  }): Promise<ServerCredentials>;
  /**
   * Resolves once the xDS stream is up and the control plane's first response was accepted;
   * rejects with WEFT_XDS_STREAM after `readyTimeoutMs` (naming the server and the last error),
   * WEFT_CLOSED / WEFT_DESTROYED after close / destroy.
   */
  ready(): Promise<void>;
  /**
   * The workload's SPIFFE certificate and trust bundle (rotating), when `identity` (or
   * WEFT_JOIN_TOKEN / WEFT_JOIN_TOKEN_FILE) is configured; undefined otherwise. Use it for TLS of
   * your own, e.g. `https.createServer({ secureContext: mesh.certificates.secureContext() })`.
   */
  readonly certificates: WorkloadCertificates | undefined;
  /**
   * Starts an HTTP server for `listener` and registers it as an endpoint of `options.service`.
   * The port's inbound Listener (PeerAuthentication mode, AuthorizationPolicy RBAC) is enforced;
   * fail-closed: nothing is read or registered until it arrives, and after `readyTimeoutMs`
   * the server closes and this rejects with WEFT_XDS_STREAM.
   */
  serve(listener: RequestListener, options: MeshServeOptions): Promise<MeshServer>;
  /** Registers an endpoint served by the caller (e.g. a gRPC server); `close()` deregisters. */
  register(endpoint: RegistrationEndpoint): Promise<Registration>;
  stats(): MeshStats;
  /**
   * The admin listener's address (`/ready`, `/stats`, `/clusters`, `/config_dump`, `/metrics`)
   * when `createMesh({ admin })` or `WEFT_ADMIN_PORT` asked for one; else undefined.
   */
  readonly admin: MeshAdminAddress | undefined;
  /** What the runtime holds, for debugging (listeners, clusters, endpoints). */
  describe(): unknown;
  /**
   * Drains: deregisters, closes served servers, lets in-flight requests finish, closes pools, the
   * gRPC integration and the xDS client. Later calls fail WEFT_CLOSED. Idempotent.
   */
  close(): Promise<void>;
  /** Aborts: in-flight requests fail with `cause` (default WEFT_DESTROYED); everything closes now. */
  destroy(cause?: Error): Promise<void>;
}
