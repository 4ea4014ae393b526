// The xDS client: watches over one ADS stream per server, shared by all resource types, with
// reconnect backoff and fallback down the bootstrap's server list. (envoy api/xds_protocol.rst;
// gRFC A27, A57, A71, A88.)
import { channel } from 'node:diagnostics_channel';
import type { Channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { AdsConnection } from './ads/ads-connection.js';
import type { AdsSessionDeps } from './ads/ads-session.js';
import { DeltaSession } from './ads/delta-session.js';
import { buildNodeMessage } from './ads/node-message.js';
import { ResourceStore } from './ads/resource-store.js';
import type { ResourceWatcher } from './ads/resource-watcher.js';
import { SotwSession } from './ads/sotw-session.js';
import type { ResolvedXdsServer } from './bootstrap/resolved-bootstrap.js';
import { WeftError } from './errors/weft-error.js';
import { loadXdsProtos } from './protos/xds-protos.js';
import type { XdsProtos } from './protos/xds-protos.js';
import type { XdsResourceType } from './resource-types/xds-resource-type.js';
import { XDS_CLIENT_EVENT_NAMES } from './xds-client-events.js';
import type { XdsClientEvents } from './xds-client-events.js';
import {
  IGNORE_RESOURCE_DELETION_SERVER_FEATURE,
  WEFT_DELTA_SERVER_FEATURE,
  resolveXdsClientOptions,
} from './xds-client-options.js';
import type {
  ResolvedXdsClientOptions,
  XdsClientOptions,
  XdsTransport,
} from './xds-client-options.js';
import type { XdsClientStatus, XdsTypeStatus } from './xds-client-status.js';

/**
 * Watches xDS resources from the servers of a bootstrap. One ADS stream per server (opened on
 * the first watch), SotW or Delta, ACK/NACK per the xDS protocol document, a cache that keeps
 * serving through outages, and gRFC A71 fallback.
 *
 * Events (also on diagnostics_channel `weft:xds:<event>`): see XdsClientEvents.
 */
export class XdsClient extends EventEmitter<XdsClientEvents> {
  private readonly options: ResolvedXdsClientOptions;
  private readonly protos: XdsProtos;
  private readonly store: ResourceStore;
  private readonly node: Readonly<Record<string, unknown>>;
  private readonly connections: (AdsConnection | undefined)[] = [];
  private readonly diagnostics = new Map<keyof XdsClientEvents, Channel>();
  private readonly pendingTypes = new Set<string>();
  private flushScheduled = false;
  private currentIndex = 0;
  private started = false;
  private closed = false;
  private isConnected = false;
  /** Stream trouble is told to watchers once per outage (cleared by the next response). */
  private ambientReported = false;

  /** Throws WeftError('WEFT_INVALID_CONFIG') listing every bad option (e.g. two types for one URL). */
  constructor(options: XdsClientOptions) {
    super();
    this.options = resolveXdsClientOptions(options);
    this.protos = loadXdsProtos();
    this.node = Object.freeze(buildNodeMessage(this.options.bootstrap.node));
    this.store = new ResourceStore({
      types: this.options.resourceTypes,
      clock: this.options.clock,
      logger: this.options.logger,
      resourceDoesNotExistTimeoutMs: this.options.resourceDoesNotExistTimeoutMs,
      onSubscriptionChanged: (typeUrl) => {
        this.subscriptionChanged(typeUrl);
      },
    });
    for (const name of XDS_CLIENT_EVENT_NAMES)
      this.diagnostics.set(name, channel(`weft:xds:${name}`));
  }

  /** Whether the stream to the server in use is up. */
  get connected(): boolean {
    return this.isConnected;
  }

  /**
   * Watches one resource (`name`), or every resource of the type (`'*'`, a wildcard
   * subscription: the watcher hears about each of them). A cached value reaches a new watcher
   * asynchronously. Returns the function that cancels the watch.
   * Throws WEFT_CLOSED after close(), WEFT_INVALID_CONFIG for an unregistered type or empty name.
   */
  watch<T>(type: XdsResourceType<T>, name: string, watcher: ResourceWatcher<T>): () => void {
    this.assertOpen();
    const registered = this.store.cache(type.typeUrl)?.type;
    if (registered !== type) {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        registered === undefined
          ? `resource type ${type.typeUrl} is not registered with this XdsClient`
          : `resource type ${type.typeUrl} is registered with a different XdsResourceType object`,
      );
    }
    if (typeof name !== 'string' || name === '') {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        `${type.shortName} watch: name must be a non-empty string`,
      );
    }
    // Sound because `type` is the registered decoder: every value stored under its URL is a T.
    const cancel = this.store.addWatcher(type.typeUrl, name, watcher);
    return () => {
      if (!this.closed) cancel();
    };
  }

  /** A snapshot for config dumps and CSDS. Throws WEFT_CLOSED after close(). */
  status(): XdsClientStatus {
    this.assertOpen();
    const server = this.server(this.currentIndex);
    const session = this.connections[this.currentIndex]?.session;
    const types: Record<string, XdsTypeStatus> = {};
    for (const cache of this.store.allCaches()) {
      if (!cache.used) continue;
      const typeUrl = cache.type.typeUrl;
      const { version, nonce } = session?.typeStatus(typeUrl) ?? { version: '', nonce: '' };
      types[typeUrl] = {
        version,
        nonce,
        acks: cache.acks,
        nacks: cache.nacks,
        resources: this.store.resourceStatus(typeUrl),
      };
    }
    return {
      connected: this.isConnected,
      server: server.serverUri,
      transport: this.transportOf(server),
      channel: this.connections[this.currentIndex]?.channel ?? 'bootstrap',
      types,
    };
  }

  /**
   * Ends the stream in use and opens a new one at once (the `channel` hook is asked again), e.g.
   * when a workload certificate for the mTLS port arrived. Cached resources keep serving; the
   * new stream re-subscribes. No-op before the first watch or after close().
   */
  reconnect(reason: string): void {
    if (this.closed || !this.started) return;
    const connection = this.connections[this.currentIndex];
    if (connection === undefined) return;
    this.options.logger.info('xds stream reconnecting', {
      server: connection.server.serverUri,
      reason,
    });
    connection.restart();
  }

  /** Cancels streams and timers. Later calls fail with WEFT_CLOSED; closing twice is harmless. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const connection of this.connections) connection?.close();
    this.connections.length = 0;
    this.store.stopAllTimers();
    this.isConnected = false;
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new WeftError('WEFT_CLOSED', 'XdsClient is closed');
  }

  private server(index: number): ResolvedXdsServer {
    const server = this.options.bootstrap.xdsServers[index];
    if (server === undefined)
      throw new WeftError('WEFT_INTERNAL', `no xDS server at index ${index}`);
    return server;
  }

  private transportOf(server: ResolvedXdsServer): XdsTransport {
    if (this.options.transport !== undefined) return this.options.transport;
    return server.serverFeatures.includes(WEFT_DELTA_SERVER_FEATURE) ? 'delta' : 'sotw';
  }

  // Subscription changes of one tick go out together, after the watch calls that caused them.
  private subscriptionChanged(typeUrl: string): void {
    if (this.closed) return;
    this.pendingTypes.add(typeUrl);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.closed) return;
      const types = [...this.pendingTypes];
      this.pendingTypes.clear();
      if (!this.started) {
        this.started = true;
        this.connect(0); // sends the whole subscription
        return;
      }
      for (const connection of this.connections) {
        for (const t of types) connection?.session.subscriptionChanged(t);
      }
    });
  }

  private connect(index: number): void {
    let connection = this.connections[index];
    if (connection === undefined) {
      connection = this.createConnection(index);
      this.connections[index] = connection;
    }
    connection.start();
  }

  private createConnection(index: number): AdsConnection {
    const server = this.server(index);
    const transport = this.transportOf(server);
    const { options } = this;
    return new AdsConnection({
      index,
      server,
      protos: this.protos,
      clock: options.clock,
      logger: options.logger,
      node: this.node,
      backoff: options.backoff,
      random: options.random,
      connectTimeoutMs: options.connectTimeoutMs,
      channel: options.channel,
      hooks: {
        onUp: (c) => {
          this.onUp(c);
        },
        onFirstResponse: (c) => {
          this.onFirstResponse(c);
        },
        onEnded: (c, hadResponse, error) => {
          this.onEnded(c, hadResponse, error);
        },
      },
      createSession: (send) => {
        const deps: AdsSessionDeps = {
          store: this.store,
          protos: this.protos,
          logger: options.logger,
          serverUri: server.serverUri,
          ignoreResourceDeletion: server.serverFeatures.includes(
            IGNORE_RESOURCE_DELETION_SERVER_FEATURE,
          ),
          send,
          onRequestSent: (typeUrl) => {
            const current = this.connections[this.currentIndex];
            if (current !== undefined && current.index === index && current.isUp) {
              this.store.armDoesNotExistTimers(typeUrl);
            }
          },
          onAck: (event) => {
            this.publish('ack', event);
          },
          onNack: (event) => {
            this.publish('nack', event);
          },
        };
        return transport === 'delta' ? new DeltaSession(deps) : new SotwSession(deps);
      },
    });
  }

  private onUp(connection: AdsConnection): void {
    if (this.closed || connection.index !== this.currentIndex) return;
    this.becameConnected(connection);
  }

  private becameConnected(connection: AdsConnection): void {
    for (const cache of this.store.allCaches())
      this.store.armDoesNotExistTimers(cache.type.typeUrl);
    if (this.isConnected) return;
    this.isConnected = true;
    this.publish('connected', {
      server: connection.server.serverUri,
      transport: connection.session.transport,
    });
  }

  private onFirstResponse(connection: AdsConnection): void {
    if (this.closed) return;
    if (connection.index < this.currentIndex) {
      // gRFC A71: a higher-priority server answered again; it takes over and the lower ones go.
      const from = this.server(this.currentIndex).serverUri;
      this.currentIndex = connection.index;
      for (let i = connection.index + 1; i < this.connections.length; i++) {
        this.connections[i]?.close();
        this.connections[i] = undefined;
      }
      this.store.stopAllTimers();
      this.isConnected = false;
      this.publish('server-changed', {
        from,
        to: connection.server.serverUri,
        reason: 'recovered',
      });
      this.becameConnected(connection);
    }
    if (connection.index === this.currentIndex) this.ambientReported = false;
  }

  private onEnded(connection: AdsConnection, hadResponse: boolean, error: WeftError): void {
    if (this.closed) return;
    const isCurrent = connection.index === this.currentIndex;
    if (isCurrent) {
      this.store.stopAllTimers();
      if (this.isConnected) {
        this.isConnected = false;
        this.publish('disconnected', { server: connection.server.serverUri, error });
      }
    }
    if (hadResponse) {
      // gRFC A57: the server was reachable; reopen at once with a fresh backoff.
      connection.start();
      return;
    }
    if (isCurrent) {
      if (!this.ambientReported) {
        this.ambientReported = true;
        this.store.notifyAmbientAll(error);
      }
      const next = connection.index + 1;
      if (next < this.options.bootstrap.xdsServers.length && this.store.hasUncachedWatch()) {
        // gRFC A71: unreachable and something is still missing: try the next server, and keep
        // retrying this one in the background.
        this.currentIndex = next;
        this.publish('server-changed', {
          from: connection.server.serverUri,
          to: this.server(next).serverUri,
          reason: 'fallback',
        });
        this.connect(next);
      }
    }
    connection.retryLater();
  }

  private publish<K extends keyof XdsClientEvents>(name: K, ...args: XdsClientEvents[K]): void {
    const diagnostics = this.diagnostics.get(name);
    if (diagnostics?.hasSubscribers === true) diagnostics.publish(args[0]);
    try {
      (this.emit as (event: K, ...rest: XdsClientEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.options.logger.error('XdsClient event listener threw', {
        event: name,
        error: String(err),
      });
    }
  }
}
