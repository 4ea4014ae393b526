// createMesh: validates options once, connects the xDS client, builds the runtime and plugs it
// into undici (HTTP) and grpc-js; `close()` undoes it all. DESIGN.md "The request path".
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  WeftError,
  XdsClient,
  createDefaultResourceTypes,
  serverListenerName,
  splitCertificates,
} from '@weft/xds-client';
import type { ListenerUpdate, TimerHandle, XdsResourceType } from '@weft/xds-client';
import { isIP } from 'node:net';
import { InboundGuard } from './security/inbound-guard.js';
import {
  createGrpcRbacInterceptor,
  MeshServerCredentials,
} from './security/grpc-inbound-security.js';
import { noCertificateError } from './security/workload-certificates.js';
import {
  InboundSecurityStats,
  registerInboundSecurityMetrics,
} from './security/inbound-security-stats.js';
import { fetch as undiciFetch } from 'undici';
import { MeshAdminServer } from './admin/mesh-admin-server.js';
import type { MeshAdminAddress } from './admin/mesh-admin-server.js';
import { createMeshMetrics } from './admin/mesh-metrics.js';
import { registerSecurityMetrics } from './admin/security-metrics.js';
import { registerTracingMetrics } from './admin/tracing-metrics.js';
import { registerXdsStatusMetrics, xdsDumpOf } from './admin/xds-status-metrics.js';
import type { XdsDump } from './admin/xds-status-metrics.js';
import { MeshTelemetry, registerTelemetryMetrics } from './telemetry/mesh-telemetry.js';
import { Registry } from 'prom-client';
import type { RequestInfo, Response } from 'undici';
import { ChannelCredentials, credentials } from '@grpc/grpc-js';
import type { Interceptor, ServerCredentials, ServerInterceptor } from '@grpc/grpc-js';
import { fetchWithFallback } from './breaker/fetch-fallback.js';
import type { MeshFetchInit } from './breaker/fetch-fallback.js';
import { createGrpcFallbackInterceptor } from './breaker/grpc-fallback.js';
import type { GrpcFallback } from './breaker/grpc-fallback.js';
import { ServiceBreakers } from './breaker/service-breakers.js';
import { LocalRateLimiter } from './filters/local-rate-limit.js';
import { installGrpcIntegration } from './grpc/grpc-integration.js';
import type { GrpcIntegration } from './grpc/grpc-integration.js';
import { MeshDispatcher } from './http/mesh-dispatcher.js';
import type {
  Mesh,
  MeshGrpcServerInterceptorOptions,
  MeshServeOptions,
  MeshServer,
  MeshStats,
} from './mesh.js';
import { SDK_VERSION, resolveMeshOptions } from './mesh-options.js';
import type { MeshOptions, ResolvedMeshOptions } from './mesh-options.js';
import { createRegistrar } from './registration/create-registrar.js';
import type {
  Registrar,
  Registration,
  RegistrationEndpoint,
} from './registration/registration-types.js';
import { createMeshRuntime } from './runtime/create-mesh-runtime.js';
import type { MeshRuntime } from './runtime/mesh-runtime.js';
import { createMeshTracing } from './tracing/create-mesh-tracing.js';
import { createGrpcServerInterceptor } from './tracing/grpc-tracing.js';
import type { MeshTracing } from './tracing/mesh-tracing.js';
import { WorkloadCertificateAgent } from './security/certificate-agent.js';
import { CONTROL_PLANE_TLS_CHANNEL_OPTIONS } from './security/certificate-request.js';
import { TlsHandshakes } from './security/tls-handshakes.js';
import { SDS_ROOT_CA_SECRET } from './security/upstream-tls.js';
import type { WorkloadCertificates } from './security/workload-certificates.js';

/** Default of MeshServeOptions.drainMs. */
const DEFAULT_DRAIN_MS = 1000;

class WeftMesh implements Mesh {
  readonly nodeId: string;
  readonly dispatcher: MeshDispatcher;
  private readonly client: XdsClient;
  private readonly runtime: MeshRuntime;
  private readonly grpc: GrpcIntegration;
  private readonly breakers: ServiceBreakers | undefined;
  private readonly rateLimiter: LocalRateLimiter;
  private readonly cancelProbe: () => void;
  private registrar: Registrar | undefined = undefined;
  private readonly servers = new Set<MeshServer>();
  private readonly registrations = new Set<Registration>();
  private state: 'open' | 'closed' | 'destroyed' = 'open';
  private closing: Promise<void> | undefined = undefined;
  private accepted = false;
  private lastProblem: Error | undefined = undefined;
  private readonly readyWaiters = new Set<(err?: Error) => void>();
  private adminServer: MeshAdminServer | undefined = undefined;
  /** Holds Istio's standard metrics (and, with an admin listener, Weft's own). */
  private readonly registry = new Registry();
  /** Istio metrics and access log; undefined when both are off. */
  private readonly telemetry: MeshTelemetry | undefined;
  /** LDS type registered with the client (inbound listeners are watched with it too). */
  private readonly listenerType: XdsResourceType<ListenerUpdate>;
  /** Connections, handshake failures and RBAC decisions of every served port. */
  private readonly inboundSecurity = new InboundSecurityStats();
  /** RBAC guards of grpcServerInterceptor({ port }); closed with the mesh. */
  private readonly grpcGuards = new Set<InboundGuard>();
  /** Credentials of grpcServerCredentials(); they stop following rotations on close. */
  private readonly grpcServerCreds = new Set<MeshServerCredentials>();
  /** The workload certificate agent; undefined without `identity`. */
  private readonly agent: WorkloadCertificateAgent | undefined;
  private readonly handshakes = new TlsHandshakes();
  private readonly cancelRootCa: () => void;
  /** Times the xDS stream was moved to the mTLS port. */
  private xdsMoves = 0;

  get certificates(): WorkloadCertificates | undefined {
    return this.agent;
  }

  get admin(): MeshAdminAddress | undefined {
    return this.adminServer?.address;
  }

  constructor(
    private readonly options: ResolvedMeshOptions,
    private readonly tracing: MeshTracing,
  ) {
    const { bootstrap, clock, logger } = options;
    this.nodeId = bootstrap.node.id;
    const [cluster, clusterLoadAssignment, listener, routeConfiguration, secret] =
      createDefaultResourceTypes();
    this.listenerType = listener;
    this.client = new XdsClient({
      bootstrap,
      resourceTypes: [cluster, clusterLoadAssignment, listener, routeConfiguration, secret],
      clock,
      logger,
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      // controlPlaneTls: the stream goes to the mTLS port whenever a valid certificate is held.
      ...(options.controlPlaneTls === undefined
        ? {}
        : {
            channel: () => {
              const tls = this.agent?.xdsChannel();
              return tls === undefined
                ? undefined
                : {
                    serverUri: tls.address,
                    credentials: tls.credentials,
                    label: 'mtls',
                    options: CONTROL_PLANE_TLS_CHANNEL_OPTIONS,
                  };
            },
          }),
    });
    this.client.on('ack', () => {
      this.markAccepted();
    });
    this.client.on('nack', (event) => {
      this.lastProblem = new WeftError(
        'WEFT_INVALID_RESOURCE',
        `${event.shortName} NACKed: ${event.message}`,
      );
    });
    this.client.on('disconnected', (event) => {
      this.lastProblem = event.error;
    });
    this.runtime = createMeshRuntime({
      watchSource: this.client,
      localLocality: bootstrap.node.locality,
      resourceTypes: { listener, routeConfiguration, cluster, clusterLoadAssignment },
      clock,
      logger,
      onListener: (name, update) => {
        tracing.controlPlaneSampling(update.tracingRandomSamplingPercent, name);
      },
    });
    // One service-level breaker per upstream cluster, shared by HTTP and gRPC (package README,
    // "Service-level breaker with fallback"); one set of token buckets for HTTP and gRPC: a
    // limit counts every request to its scope.
    this.breakers =
      options.serviceBreaker === false
        ? undefined
        : new ServiceBreakers({
            nodeId: this.nodeId,
            options: options.serviceBreaker,
            logger,
            clock,
          });
    const breakers = this.breakers === undefined ? {} : { breakers: this.breakers };
    const { workload } = options;
    this.telemetry =
      options.istioMetrics === false && options.accessLog === undefined
        ? undefined
        : new MeshTelemetry({
            clock,
            logger,
            self: {
              workload: workload.name === '' ? this.nodeId : workload.name,
              namespace: workload.namespace,
              app: workload.labels['app'] ?? 'unknown',
              version: workload.labels['version'] ?? 'unknown',
            },
            registry: options.istioMetrics === false ? undefined : this.registry,
            maxSeries: options.istioMetrics === false ? 0 : options.istioMetrics.maxSeries,
            accessLog: options.accessLog,
          });
    const telemetry = this.telemetry === undefined ? {} : { telemetry: this.telemetry };
    // The workload certificate: requested from the CA on the control plane's port; the SDS
    // ROOTCA secret (root rotations) is merged into its trust bundle.
    this.agent =
      options.identity === undefined
        ? undefined
        : new WorkloadCertificateAgent({
            controlPlaneAddress: bootstrap.xdsServers[0]?.serverUri ?? '',
            controlPlaneTls: options.controlPlaneTls,
            identity: options.identity,
            namespace: workload.namespace,
            serviceAccount: workload.serviceAccount,
            clock,
            logger,
          });
    const agent = this.agent;
    this.cancelRootCa =
      agent === undefined
        ? () => undefined
        : this.client.watch(secret, SDS_ROOT_CA_SECRET, {
            onChanged: (update) => {
              agent.setRootCa(
                update.kind === 'validation_context'
                  ? splitCertificates(update.trustedCaPem)
                  : undefined,
              );
            },
            onResourceError: () => {
              agent.setRootCa(undefined);
            },
            onAmbientError: () => undefined,
          });
    // First certificate (or one again after an expiry): move the xDS stream to the mTLS port.
    if (agent !== undefined && options.controlPlaneTls !== undefined)
      agent.onChange(() => {
        if (this.state !== 'open' || this.client.status().channel === 'mtls') return;
        this.xdsMoves++;
        logger.info('mesh: moving the xDS stream to the mTLS port', {
          address: options.controlPlaneTls?.address,
        });
        this.client.reconnect('workload certificate available for the mTLS port');
      });
    agent?.start();
    const security = { certificates: agent, handshakes: this.handshakes };
    this.rateLimiter = new LocalRateLimiter({ clock, logger });
    const localRateLimiter = this.rateLimiter;
    this.dispatcher = new MeshDispatcher({
      runtime: this.runtime,
      clock,
      logger,
      localRateLimiter,
      tracing,
      security,
      ...breakers,
      ...telemetry,
    });
    this.grpc = installGrpcIntegration(this.runtime, {
      clock,
      logger,
      localRateLimiter,
      tracing,
      security,
      ...breakers,
      ...telemetry,
    });
    // Readiness probe and warm cache: a wildcard LDS watch opens the stream at once, and its
    // first accepted response proves the control plane answers (listeners are small).
    this.cancelProbe = this.client.watch(listener, '*', {
      onChanged: () => undefined,
      onResourceError: () => undefined,
      onAmbientError: (err) => {
        this.lastProblem = err;
      },
    });
    logger.info('mesh: created', {
      nodeId: this.nodeId,
      server: bootstrap.xdsServers[0]?.serverUri,
      locality: bootstrap.node.locality,
    });
  }

  fetch = (input: RequestInfo, init?: MeshFetchInit): Promise<Response> => {
    if (init?.fallback === undefined)
      return undiciFetch(input, { ...init, dispatcher: this.dispatcher });
    const { fallback, ...rest } = init;
    return fetchWithFallback(
      () => undiciFetch(input, { ...rest, dispatcher: this.dispatcher }),
      fallback,
      this.breakers,
    );
  };

  grpcCredentials(fallback: ChannelCredentials = credentials.createInsecure()): ChannelCredentials {
    if (!(fallback instanceof ChannelCredentials)) {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        'grpcCredentials: fallback must be grpc-js ChannelCredentials (e.g. credentials.createInsecure())',
      );
    }
    return this.grpc.channelCredentials(fallback);
  }

  grpcFallback(fallback: GrpcFallback): Interceptor {
    return createGrpcFallbackInterceptor(fallback, this.breakers, this.options.logger);
  }

  grpcServerInterceptor(options?: MeshGrpcServerInterceptorOptions): ServerInterceptor {
    const tracing = createGrpcServerInterceptor(this.tracing);
    if (options === undefined) return tracing;
    const { service, port, address } = options as {
      service?: unknown;
      port?: unknown;
      address?: unknown;
    };
    if (service !== undefined && (typeof service !== 'string' || service === '')) {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        'grpcServerInterceptor: options.service must be a non-empty string (the service host, e.g. "stock")',
      );
    }
    if (
      port !== undefined &&
      (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    )
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        'grpcServerInterceptor: options.port must be a port number (1-65535)',
      );
    if (address !== undefined && (typeof address !== 'string' || isIP(address) === 0))
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        'grpcServerInterceptor: options.address must be an IP literal',
      );
    let inner: ServerInterceptor = tracing;
    if (typeof service === 'string' && this.telemetry !== undefined) {
      const counted = this.telemetry.grpcServerInterceptor(service);
      // grpc-js applies a server's interceptors in list order, each wrapping the previous call.
      inner = (method, call) => counted(method, tracing(method, call));
    }
    if (typeof port !== 'number') return inner;
    this.assertOpen();
    const guard = new InboundGuard({
      source: this.client,
      listenerType: this.listenerType,
      certificates: undefined,
      stats: this.inboundSecurity,
      logger: this.options.logger,
      clock: this.options.clock,
      readyTimeoutMs: this.options.readyTimeoutMs,
    });
    guard.watch(serverListenerName(typeof address === 'string' ? address : '127.0.0.1', port));
    this.grpcGuards.add(guard);
    const rbac = createGrpcRbacInterceptor(guard, port);
    // RBAC outermost: its PERMISSION_DENIED passes through the counting and tracing layers.
    return (method, call) => rbac(method, inner(method, call));
  }

  async grpcServerCredentials(options?: {
    readonly certificates?: WorkloadCertificates;
  }): Promise<ServerCredentials> {
    this.assertOpen();
    const certificates = options?.certificates ?? this.agent;
    if (certificates === undefined)
      throw noCertificateError(
        'grpcServerCredentials',
        'no workload certificate (configure createMesh({ identity }) or pass options.certificates)',
      );
    const material = await certificates.ready();
    const creds = new MeshServerCredentials(certificates, material);
    this.grpcServerCreds.add(creds);
    return creds;
  }

  ready(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.accepted) return Promise.resolve();
    const { clock, readyTimeoutMs, bootstrap } = this.options;
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined = undefined;
      const settle = (err?: Error): void => {
        this.readyWaiters.delete(settle);
        if (timer !== undefined) clock.clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      this.readyWaiters.add(settle);
      timer = clock.setTimeout(() => {
        timer = undefined;
        const server = bootstrap.xdsServers.map((s) => s.serverUri).join(', ');
        const last = this.lastProblem;
        settle(
          new WeftError(
            'WEFT_XDS_STREAM',
            `mesh: control plane ${server} (${this.options.source}) gave no accepted config within ${readyTimeoutMs}ms` +
              (last === undefined ? '' : `: ${last.message}`),
            { cause: last },
          ),
        );
      }, readyTimeoutMs);
    });
  }

  async serve(listener: RequestListener, options: MeshServeOptions): Promise<MeshServer> {
    this.assertOpen();
    const address = options.address ?? '127.0.0.1';
    // Tracing outermost (x-request-id, a server span per request whose context outbound calls
    // made while handling it inherit), then Istio metrics / access log (reporter=destination).
    // RBAC innermost but for the handler, so denied requests are counted and traced as 403s.
    const server: Server = createServer();
    const guard = new InboundGuard({
      server,
      source: this.client,
      listenerType: this.listenerType,
      certificates: options.certificates ?? this.agent,
      stats: this.inboundSecurity,
      logger: this.options.logger,
      clock: this.options.clock,
      readyTimeoutMs: this.options.readyTimeoutMs,
    });
    const counted =
      this.telemetry === undefined
        ? guard.wrap(listener)
        : this.telemetry.wrapServer(guard.wrap(listener), options.service, (req, res) =>
            guard.facts(req, res),
          );
    server.on('request', this.tracing.serverListener(counted, options.service));
    server.listen(options.port, options.host ?? address);
    await once(server, 'listening');
    const bound = server.address() as AddressInfo;
    const port = bound.port;
    let registration: Registration;
    try {
      // Fail-closed: the port's security policy must be known before the endpoint is announced
      // (connections arriving earlier are held unread).
      guard.watch(serverListenerName(bound.address, port));
      await guard.ready();
      registration = await this.register({
        service: options.service,
        port,
        protocol: 'http',
        address,
        labels: options.labels ?? this.options.workload.labels,
        ...(options.servicePort === undefined ? {} : { servicePort: options.servicePort }),
      });
    } catch (err) {
      guard.close();
      server.close();
      throw err;
    }
    const served: MeshServer = {
      port,
      server,
      registration,
      close: async () => {
        this.servers.delete(served);
        await registration.close();
        const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
        if (drainMs > 0) {
          await new Promise<void>((resolve) => {
            this.options.clock.setTimeout(resolve, drainMs);
          });
        }
        guard.close();
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeIdleConnections();
        });
      },
    };
    this.servers.add(served);
    return served;
  }

  async register(endpoint: RegistrationEndpoint): Promise<Registration> {
    this.assertOpen();
    const { bootstrap, workload, clock, logger } = this.options;
    const agent = this.agent;
    const tls = this.options.controlPlaneTls;
    // With controlPlaneTls the registration goes over the mTLS port too (the control plane checks
    // the endpoint's identity against the certificate), so it waits for the first certificate.
    if (agent !== undefined && tls !== undefined) await agent.ready();
    this.registrar ??= createRegistrar({
      controlPlaneAddress: bootstrap.xdsServers[0]?.serverUri ?? '',
      clock,
      logger,
      ...(agent === undefined || tls === undefined
        ? {}
        : {
            channel: () => {
              const channel = agent.xdsChannel();
              return channel === undefined
                ? undefined
                : { ...channel, options: CONTROL_PLANE_TLS_CHANNEL_OPTIONS };
            },
          }),
      node: {
        id: this.nodeId,
        locality: bootstrap.node.locality,
        namespace: workload.namespace,
        serviceAccount: workload.serviceAccount,
      },
    });
    const registration = await this.registrar.register(endpoint);
    this.registrations.add(registration);
    return registration;
  }

  stats(): MeshStats {
    return {
      http: this.dispatcher.stats(),
      grpc: this.grpc.stats(),
      localRateLimit: this.rateLimiter.stats(),
      xds: {
        connected: this.client.connected,
        ready: this.accepted,
        channel:
          this.state === 'open' && this.client.status().channel === 'mtls' ? 'mtls' : 'plaintext',
        movedToMtls: this.xdsMoves,
      },
      breakers: this.breakers?.stats() ?? {},
      telemetry: this.telemetry?.stats() ?? {
        istioMetrics: undefined,
        accessLog: undefined,
        errors: 0,
      },
      tracing: this.tracing.stats(),
      inboundSecurity: this.inboundSecurity.snapshot(),
      security: {
        certificate: this.agent?.stats(),
        handshakes: this.handshakes.stats(),
      },
    };
  }

  /** /config_dump: describe() plus the xDS versions, ACK/NACK counts and NACK errors per type. */
  configDump(): unknown {
    const d = this.runtime.describe();
    const xds: XdsDump | undefined =
      this.state === 'open' ? xdsDumpOf(this.client.status()) : undefined;
    // The workload's secrets: chain, SANs, expiry and roots; never the key.
    const secrets = this.agent?.dump();
    return typeof d === 'object' && d !== null
      ? { ...d, xds, secrets }
      : { runtime: d, xds, secrets };
  }

  describe(): unknown {
    return this.runtime.describe();
  }

  /** Starts the admin listener of `options.admin`; a bind failure closes the mesh and throws. */
  async startAdmin(): Promise<void> {
    const where = this.options.admin;
    if (where === undefined) return;
    const metrics = createMeshMetrics(this, this.nodeId, this.registry);
    registerXdsStatusMetrics(metrics, () =>
      this.state === 'open' ? this.client.status() : undefined,
    );
    if (this.telemetry !== undefined) registerTelemetryMetrics(metrics, this.telemetry);
    registerInboundSecurityMetrics(metrics, () => this.inboundSecurity.snapshot());
    registerTracingMetrics(metrics, () => this.tracing.stats());
    registerSecurityMetrics(
      metrics,
      () => ({
        certificate: this.agent?.stats(),
        handshakes: this.handshakes.stats(),
      }),
      () => this.inboundSecurity.snapshot().handshakeFailures,
    );
    try {
      this.adminServer = await MeshAdminServer.listen(
        {
          ready: () => this.accepted && this.state === 'open',
          stats: () => this.stats(),
          describe: () => this.configDump(),
        },
        metrics,
        where.host,
        where.port,
        this.options.logger,
      );
    } catch (err) {
      await this.destroy();
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        `mesh admin: cannot listen on ${where.host}:${where.port}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  destroy(cause?: Error): Promise<void> {
    if (this.state === 'destroyed') return this.closing ?? Promise.resolve();
    this.closing = this.shutdown(cause ?? new WeftError('WEFT_DESTROYED', 'mesh destroyed'));
    return this.closing;
  }

  private async shutdown(cause: Error | undefined): Promise<void> {
    this.state = cause === undefined ? 'closed' : 'destroyed';
    for (const settle of [...this.readyWaiters]) settle(this.closedError());
    const servers = [...this.servers];
    this.servers.clear();
    for (const g of this.grpcGuards) g.close();
    this.grpcGuards.clear();
    for (const c of this.grpcServerCreds) c.detach();
    this.grpcServerCreds.clear();
    this.grpc.uninstall();
    const drained = cause === undefined ? this.dispatcher.close() : this.dispatcher.destroy(cause);
    await Promise.all([
      ...servers.map((s) => s.close().catch(() => undefined)),
      ...[...this.registrations].map((r) => r.close().catch(() => undefined)),
      drained.catch(() => undefined),
    ]);
    this.registrations.clear();
    this.breakers?.close();
    await this.registrar?.close().catch(() => undefined);
    await this.adminServer?.close().catch(() => undefined);
    await this.telemetry?.close().catch(() => undefined);
    this.cancelProbe();
    this.cancelRootCa();
    this.agent?.close();
    this.runtime.close();
    await this.client.close();
    await this.tracing.close().catch((err: unknown) => {
      this.options.logger.warn('mesh tracing: shutting the provider down failed', {
        error: err instanceof Error ? err.message : String(err),
      });
    });
    this.options.logger.info('mesh: closed', {
      nodeId: this.nodeId,
      destroyed: cause !== undefined,
    });
  }

  private markAccepted(): void {
    if (this.accepted) return;
    this.accepted = true;
    for (const settle of [...this.readyWaiters]) settle();
  }

  private closedError(): WeftError {
    return this.state === 'destroyed'
      ? new WeftError('WEFT_DESTROYED', 'mesh destroyed')
      : new WeftError('WEFT_CLOSED', 'mesh closed');
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw this.closedError();
  }
}

/**
 * Creates a mesh client. Validates every option at once (one ConfigError, WEFT_INVALID_CONFIG,
 * listing each issue with its path), loads the bootstrap, opens the xDS stream and installs the
 * gRPC integration (`xds:///` targets). Await `mesh.ready()` to know the control plane answered.
 */
export async function createMesh(options: MeshOptions = {}): Promise<Mesh> {
  const resolved = await resolveMeshOptions(options);
  const tracing = await createMeshTracing(
    resolved.tracing,
    SDK_VERSION,
    resolved.workload.name === '' ? 'weft-sdk' : resolved.workload.name,
    resolved.logger,
  );
  const mesh = new WeftMesh(resolved, tracing);
  await mesh.startAdmin();
  return mesh;
}
