// The ADS gRPC server: StreamAggregatedResources (SotW) and DeltaAggregatedResources over a
// SnapshotCache, pushing on every accepted change. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#aggregated-discovery-service
import { EventEmitter } from 'node:events';
import {
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  loadXdsProtos,
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
}
import {
  SnapshotCache,
  type BuildResources,
  type SnapshotUpdateResult,
} from '../snapshot/snapshot-cache.js';
import type { AdsStream, StreamHost } from './ads-stream.js';
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
      const csds = new CsdsService({ source: () => this.clientConfigs(), logger: this.#logger });
      server.addService(this.#protos.service(CSDS_SERVICE_NAME), csds.implementation());
    }
    for (const s of this.#services)
      server.addService(this.#protos.service(s.name), s.implementation);
    const address = this.#host.includes(':')
      ? `[${this.#host}]:${this.#requestedPort}`
      : `${this.#host}:${this.#requestedPort}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
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
    this.#logger.info('ADS server listening', { host: this.#host, port: this.#port });
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
    const accept = (create: (id: number) => AdsStream, end: () => void): void => {
      if (this.#state !== 'listening') {
        end();
        return;
      }
      const id = this.#nextStreamId++;
      this.#streams.set(id, create(id));
    };
    return {
      StreamAggregatedResources: (
        call: ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>,
      ) => {
        accept(
          (id) => new SotwStream(host, id, call),
          () => call.end(),
        );
      },
      DeltaAggregatedResources: (
        call: ServerDuplexStream<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage>,
      ) => {
        accept(
          (id) => new DeltaStream(host, id, call),
          () => call.end(),
        );
      },
    };
  }
}
