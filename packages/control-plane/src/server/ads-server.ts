// The ADS gRPC server: StreamAggregatedResources (SotW) and DeltaAggregatedResources over a
// SnapshotCache, pushing on every accepted change. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#aggregated-discovery-service
import { EventEmitter } from 'node:events';
import {
  Server,
  ServerCredentials,
  status as grpcStatus,
  type ServerDuplexStream,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  loadXdsProtos,
  structToJson,
  silentLogger,
  systemClock,
  WeftError,
  type Clock,
  type Logger,
  type XdsProtos,
} from '@weft/xds-client';
import type { XdsResourceSet } from '../contracts.js';

/** Another gRPC service served on the ADS port (e.g. the workload registry). */
export interface AdditionalGrpcService {
  /** Fully qualified name of a service in the loaded protos, e.g. `weft.registry.v1.Registry`. */
  readonly name: string;
  readonly implementation: UntypedServiceImplementation;
  /**
   * mTLS server only: `required` (default) refuses calls without a verified client certificate
   * (UNAUTHENTICATED); `optional` lets the service decide (the CA: token or certificate).
   */
  readonly clientCertificate?: 'required' | 'optional';
}
import {
  SnapshotCache,
  type BuildResources,
  type SnapshotUpdateResult,
} from '../snapshot/snapshot-cache.js';
import type { AdsStream, StreamHost, StreamRefusal, StreamSecurity } from './ads-stream.js';
import type { NodeMessage } from './client-identity.js';
import type { AdsServerEvents, ClientStatus } from './client-status.js';
import type { ClientConfigSnapshot } from './client-resources.js';
import { CSDS_SERVICE_NAME, CsdsService } from './csds-service.js';
import {
  DeltaStream,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
} from './delta-stream.js';
import {
  SotwStream,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from './sotw-stream.js';

/** Fully qualified name of the ADS service. */
export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** The identity a verified client certificate proves. */
export interface PeerIdentity {
  readonly spiffeId: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** The verdict on a call's client certificate (MeshCa.verifyPeer's shape). */
export type PeerCheck =
  | { readonly ok: true; readonly peer: PeerIdentity }
  | { readonly ok: false; readonly reason: string; readonly message: string };

/** What makes an AdsServer the mTLS port. */
export interface AdsMtlsOptions {
  /** TLS server credentials that request (not require) a client certificate. */
  readonly credentials: ServerCredentials;
  /** Checks the client certificate the TLS layer verified (DER), undefined when none. */
  readonly verifyPeer: (certificate: Buffer | undefined) => PeerCheck;
}

/** Why a call on the mTLS port was refused (`identity-mismatch`: node metadata vs certificate). */
export interface MtlsRefusedEvent {
  /** `ads` or the refused service's fully qualified name. */
  readonly service: string;
  readonly reason: string;
  readonly message: string;
  readonly peerSpiffeId?: string;
  readonly nodeId?: string;
}

/** The client certificate of a grpc-js server call, as the TLS layer verified it. */
export function peerCertificateOf(call: {
  getAuthContext?: () => { sslPeerCertificate?: { raw?: Buffer } } | null;
}): Buffer | undefined {
  return call.getAuthContext?.()?.sslPeerCertificate?.raw;
}

/** Node metadata keys checked against the client certificate (Istio's). */
const NODE_IDENTITY_KEYS = [
  ['NAMESPACE', 'namespace'],
  ['SERVICE_ACCOUNT', 'serviceAccount'],
] as const;

/** Options of {@link AdsServer}. */
export interface AdsServerOptions {
  /** Snapshots to serve; default: a new cache with no consistency check (use `setResources`). */
  readonly cache?: SnapshotCache;
  /** Default: `loadXdsProtos()`. */
  readonly protos?: XdsProtos;
  /** Interface to bind; default `127.0.0.1` (loopback only). */
  readonly host?: string;
  /** TCP port; default 0 (ephemeral; read `port` after `listen()`). */
  readonly port?: number;
  /** Default: silent. */
  readonly logger?: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** How long `close()` waits for streams to finish before forcing, ms; default 2000. */
  readonly closeTimeoutMs?: number;
  /** More services for the same gRPC server; default none. */
  readonly services?: readonly AdditionalGrpcService[];
  /**
   * Serve CSDS (`envoy.service.status.v3.ClientStatusDiscoveryService`, see {@link CsdsService})
   * on the same port; default true.
   */
  readonly csds?: boolean;
  /**
   * Serve over TLS, requiring a verified client certificate for ADS (and additional services
   * unless they opt out); default: plaintext.
   */
  readonly mtls?: AdsMtlsOptions;
  /** Stream ids (unique across servers sharing metrics); default 1, 2, 3… per server. */
  readonly nextStreamId?: () => number;
  /** What CSDS reports; default this server's clients. */
  readonly csdsSource?: () => ClientConfigSnapshot[];
}

/**
 * An ADS server (SotW and Delta) on a grpc-js Server. Every accepted change of its
 * {@link SnapshotCache} is pushed to each stream, types in make-before-break order
 * (CDS → EDS → LDS → RDS → SDS). CSDS on the same port reports what each client holds.
 */
export class AdsServer extends EventEmitter<AdsServerEvents> {
  /** The snapshots being served. */
  readonly cache: SnapshotCache;
  readonly #protos: XdsProtos;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #closeTimeoutMs: number;
  readonly #services: readonly AdditionalGrpcService[];
  readonly #csds: boolean;
  readonly #mtls: AdsMtlsOptions | undefined;
  readonly #csdsSource: () => ClientConfigSnapshot[];
  readonly #nextId: () => number;
  readonly #streams = new Map<number, AdsStream>();
  #server: Server | undefined;
  #port = 0;
  #nextStreamId = 1;
  #state: 'new' | 'listening' | 'closed' = 'new';
  readonly #onCacheChange = (): void => {
    for (const stream of [...this.#streams.values()]) stream.pushChanges();
  };

  /** Creates a server; nothing is bound until `listen()`. */
  constructor(options: AdsServerOptions = {}) {
    super();
    this.#protos = options.protos ?? loadXdsProtos();
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.cache = options.cache ?? new SnapshotCache({ protos: this.#protos, logger: this.#logger });
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = options.port ?? 0;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.#services = options.services ?? [];
    this.#csds = options.csds ?? true;
    this.#mtls = options.mtls;
    this.#csdsSource = options.csdsSource ?? (() => this.clientConfigs());
    this.#nextId = options.nextStreamId ?? (() => this.#nextStreamId++);
    this.cache.on('change', this.#onCacheChange);
  }

  /** The bound port (0 before `listen()`). */
  get port(): number {
    return this.#port;
  }

  /** Binds and starts serving; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.#state === 'closed') throw new WeftError('WEFT_CLOSED', 'AdsServer is closed');
    if (this.#state === 'listening') return this.#port;
    const server = new Server();
    server.addService(this.#protos.service(ADS_SERVICE_NAME), this.#implementation());
    if (this.#csds) {
      const csds = new CsdsService({ source: this.#csdsSource, logger: this.#logger });
      server.addService(
        this.#protos.service(CSDS_SERVICE_NAME),
        this.#guarded(CSDS_SERVICE_NAME, csds.implementation()),
      );
    }
    for (const s of this.#services)
      server.addService(
        this.#protos.service(s.name),
        s.clientCertificate === 'optional'
          ? s.implementation
          : this.#guarded(s.name, s.implementation),
      );
    const address = this.#host.includes(':')
      ? `[${this.#host}]:${this.#requestedPort}`
      : `${this.#host}:${this.#requestedPort}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      const credentials = this.#mtls?.credentials ?? ServerCredentials.createInsecure();
      server.bindAsync(address, credentials, (err, port) => {
        if (err === null) resolve(port);
        else
          reject(
            new WeftError('WEFT_INTERNAL', `cannot bind ADS server to ${address}: ${err.message}`, {
              cause: err,
            }),
          );
      });
    });
    this.#server = server;
    this.#state = 'listening';
    this.#logger.info('ADS server listening', {
      host: this.#host,
      port: this.#port,
      transport: this.#mtls === undefined ? 'plaintext' : 'mtls',
    });
    return this.#port;
  }

  /**
   * Test and embedding convenience: serves `resources` (the same set for every view) or a
   * per-view build function, through the cache's consistency check.
   */
  setResources(resources: XdsResourceSet | BuildResources): SnapshotUpdateResult {
    if (this.#state === 'closed') throw new WeftError('WEFT_CLOSED', 'AdsServer is closed');
    const build: BuildResources = typeof resources === 'function' ? resources : () => resources;
    return this.cache.update(build);
  }

  /** Connected clients, one per stream that has sent its first request. */
  clients(): ClientStatus[] {
    return [...this.#streams.values()]
      .filter((s) => s.identity !== undefined)
      .map((s) => s.snapshotStatus());
  }

  /**
   * What each connected client holds, was sent and rejected (CSDS, admin /config_dump); one per
   * stream that has sent its first request, in connection order.
   */
  clientConfigs(): ClientConfigSnapshot[] {
    return [...this.#streams.values()]
      .filter((s) => s.identity !== undefined)
      .map((s) => s.configSnapshot());
  }

  /** Ends every stream (status OK), then stops the server; later calls fail with WEFT_CLOSED. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.cache.off('change', this.#onCacheChange);
    for (const stream of [...this.#streams.values()]) stream.end();
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.#closeTimeoutMs);
      server.tryShutdown(() => {
        this.#clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  #implementation(): UntypedServiceImplementation {
    const host: StreamHost = {
      cache: this.cache,
      logger: this.#logger,
      clock: this.#clock,
      emitServerEvent: (name, ...args) => {
        // EventEmitter's generic emit cannot relate K to its args tuple; the signature above does.
        (this.emit as (event: string, ...rest: unknown[]) => boolean)(name, ...args);
      },
      streamIdentified: (stream) => {
        const status = stream.snapshotStatus();
        this.#logger.info('xDS client connected', {
          nodeId: status.nodeId,
          kind: status.kind,
          protocol: status.protocol,
          userAgent: status.userAgent,
        });
        this.emit('connect', status);
      },
      ...(this.#mtls === undefined
        ? {}
        : { admitNode: (stream: AdsStream, node: NodeMessage) => this.#admitNode(stream, node) }),
      streamClosed: (stream) => {
        if (!this.#streams.delete(stream.streamId)) return;
        if (stream.identity === undefined) return;
        this.#logger.info('xDS client disconnected', {
          nodeId: stream.nodeId,
          streamId: stream.streamId,
        });
        this.emit('disconnect', stream.snapshotStatus());
      },
    };
    const accept = (
      call: ServerDuplexStream<unknown, unknown>,
      create: (id: number) => AdsStream,
    ): void => {
      if (this.#state !== 'listening') {
        call.end();
        return;
      }
      let security: StreamSecurity = { transport: 'plaintext' };
      if (this.#mtls !== undefined) {
        const check = this.#checkPeer('ads', call);
        if (!check.ok) {
          call.emit('error', check.refusal);
          return;
        }
        security = { transport: 'mtls', peerSpiffeId: check.peer.spiffeId };
      }
      const id = this.#nextId();
      const stream = create(id);
      stream.security = security;
      this.#streams.set(id, stream);
    };
    return {
      StreamAggregatedResources: (
        call: ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>,
      ) => {
        accept(call, (id) => new SotwStream(host, id, call));
      },
      DeltaAggregatedResources: (
        call: ServerDuplexStream<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage>,
      ) => {
        accept(call, (id) => new DeltaStream(host, id, call));
      },
    };
  }

  /** mTLS port: the call's verified client certificate, or the status to refuse it with (logged). */
  #checkPeer(
    service: string,
    call: Parameters<typeof peerCertificateOf>[0],
  ): { ok: true; peer: PeerIdentity } | { ok: false; refusal: StreamRefusal } {
    const mtls = this.#mtls;
    if (mtls === undefined)
      return { ok: false, refusal: { code: grpcStatus.INTERNAL, details: 'not an mTLS server' } };
    const check = mtls.verifyPeer(peerCertificateOf(call));
    if (check.ok) return check;
    this.#refused({ service, reason: check.reason, message: check.message });
    return {
      ok: false,
      refusal: {
        code: grpcStatus.UNAUTHENTICATED,
        details: `${check.reason}: ${check.message} (the mTLS xDS port needs a workload certificate from the mesh CA)`,
      },
    };
  }

  /** mTLS port: the node's NAMESPACE / SERVICE_ACCOUNT metadata, when sent, must be the certificate's. */
  #admitNode(stream: AdsStream, node: NodeMessage): StreamRefusal | undefined {
    if (stream.security.transport !== 'mtls') return undefined;
    const spiffeId = stream.security.peerSpiffeId;
    const match = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(spiffeId);
    let metadata: Record<string, unknown> = {};
    try {
      if (node.metadata !== undefined && node.metadata !== null)
        metadata = structToJson(node.metadata);
    } catch {
      metadata = {};
    }
    const actual = { namespace: match?.[1] ?? '', serviceAccount: match?.[2] ?? '' };
    for (const [key, field] of NODE_IDENTITY_KEYS) {
      const claimed = metadata[key];
      if (claimed === undefined || claimed === '') continue;
      if (claimed === actual[field]) continue;
      const message = `node ${node.id ?? ''} says ${key}=${JSON.stringify(claimed)} but its certificate is ${spiffeId}`;
      this.#refused({
        service: 'ads',
        reason: 'identity-mismatch',
        message,
        peerSpiffeId: spiffeId,
        nodeId: node.id ?? '',
      });
      return { code: grpcStatus.PERMISSION_DENIED, details: `identity-mismatch: ${message}` };
    }
    return undefined;
  }

  #refused(event: MtlsRefusedEvent): void {
    this.#logger.warn('mTLS xDS port: call refused', { ...event });
    this.emit('refused', event);
  }

  /** mTLS port: every handler of `implementation` first checks the client certificate. */
  #guarded(
    name: string,
    implementation: UntypedServiceImplementation,
  ): UntypedServiceImplementation {
    if (this.#mtls === undefined) return implementation;
    const out: Record<string, UntypedHandleCall> = {};
    for (const [method, handler] of Object.entries(implementation)) {
      const h = handler as (call: never, callback?: unknown) => void;
      out[method] = ((
        call: Parameters<typeof peerCertificateOf>[0] & {
          emit(e: 'error', s: StreamRefusal): boolean;
        },
        callback?: (err: StreamRefusal) => void,
      ) => {
        const check = this.#checkPeer(name, call);
        if (check.ok) {
          h(call as never, callback);
          return;
        }
        if (typeof callback === 'function') callback(check.refusal);
        else call.emit('error', check.refusal);
      }) as UntypedHandleCall;
    }
    return out;
  }
}
