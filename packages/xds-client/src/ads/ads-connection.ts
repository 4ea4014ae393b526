// One xDS server: its gRPC channel and ADS stream, connect timeout and reconnect backoff.
// (gRFC A57 "XdsClient failure mode behavior"; A71 for the index in the fallback list.)
import { connectivityState, credentials } from '@grpc/grpc-js';
import type { Client, ClientDuplexStream, StatusObject } from '@grpc/grpc-js';
import { Backoff } from '../backoff.js';
import type { ResolvedBackoffOptions } from '../backoff.js';
import type { ResolvedXdsServer } from '../bootstrap/resolved-bootstrap.js';
import type { Clock, TimerHandle } from '../clock.js';
import { WeftError } from '../errors/weft-error.js';
import type { Logger } from '../logger.js';
import type { XdsProtos } from '../protos/xds-protos.js';
import type { XdsChannelHook } from '../xds-client-options.js';
import type { AdsSession, AdsSessionDeps } from './ads-session.js';

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** Callbacks from a connection to the client that owns it. */
export interface AdsConnectionHooks {
  /** The channel reached READY with the stream open. */
  onUp(connection: AdsConnection): void;
  /** The first response of the stream arrived (called before it is applied). */
  onFirstResponse(connection: AdsConnection): void;
  /** The stream ended; `hadResponse` tells whether the server answered on it (A57). */
  onEnded(connection: AdsConnection, hadResponse: boolean, error: WeftError): void;
}

export interface AdsConnectionOptions {
  readonly index: number;
  readonly server: ResolvedXdsServer;
  readonly protos: XdsProtos;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly node: Readonly<Record<string, unknown>>;
  readonly backoff: ResolvedBackoffOptions;
  readonly random: () => number;
  readonly connectTimeoutMs: number;
  readonly hooks: AdsConnectionHooks;
  /** Per-stream channel override; undefined: the bootstrap's server and credentials. */
  readonly channel?: XdsChannelHook | undefined;
  /** Builds the protocol session, given the deps this connection provides (send). */
  readonly createSession: (send: AdsSessionDeps['send']) => AdsSession;
}

type AdsCall = ClientDuplexStream<Record<string, unknown>, unknown>;

/** The stream to one server. Restartable until `close()`. */
export class AdsConnection {
  readonly index: number;
  readonly server: ResolvedXdsServer;
  readonly session: AdsSession;
  private readonly backoff: Backoff;
  private client: Client | undefined;
  private call: AdsCall | undefined;
  private connectTimer: TimerHandle | undefined;
  private nodeSent = false;
  private up = false;
  private responded = false;
  private closed = false;
  /** The channel of the current (or last) stream: `bootstrap` or the override's label. */
  private channelLabel = 'bootstrap';

  constructor(private readonly options: AdsConnectionOptions) {
    this.index = options.index;
    this.server = options.server;
    this.backoff = new Backoff(options.backoff, options.clock, options.random);
    this.session = options.createSession((request) => {
      this.send(request);
    });
  }

  /** Whether the stream is open and the channel is READY. */
  get isUp(): boolean {
    return this.up;
  }

  /** Whether a stream is open or being opened. */
  get isStreaming(): boolean {
    return this.call !== undefined;
  }

  /** The channel of the current (or last) stream: `bootstrap` or the override's label. */
  get channel(): string {
    return this.channelLabel;
  }

  /**
   * Ends the open stream (if any) and opens a new one at once, e.g. to move it to another
   * channel. The client's cache keeps serving; the new stream re-subscribes.
   */
  restart(): void {
    if (this.closed) return;
    if (this.call !== undefined) this.teardown();
    this.start();
  }

  /** Opens a stream now (no-op if one is open or the connection is closed). */
  start(): void {
    if (this.closed || this.call !== undefined) return;
    this.backoff.cancel();
    const Ctor = this.options.protos.serviceClient(ADS_SERVICE);
    const override = this.options.channel?.(this.server);
    const creds =
      override !== undefined
        ? override.credentials
        : this.server.channelCredentials === 'tls'
          ? credentials.createSsl()
          : credentials.createInsecure();
    const target = override?.serverUri ?? this.server.serverUri;
    this.channelLabel = override?.label ?? 'bootstrap';
    // A fresh channel per stream: our backoff, not the channel's, decides when to retry.
    const client = new Ctor(target, creds, {
      ...override?.options,
      'grpc.max_receive_message_length': -1,
    });
    const method = client[this.session.methodName] as (() => AdsCall) | undefined;
    if (method === undefined)
      throw new WeftError('WEFT_INTERNAL', `ADS method ${this.session.methodName} missing`);
    const call = method.call(client);
    this.client = client;
    this.call = call;
    this.nodeSent = false;
    this.up = false;
    this.responded = false;
    call.on('data', (message: unknown) => {
      if (this.call !== call) return;
      this.onData(message);
    });
    // 'status' always follows; errors are handled there.
    call.on('error', () => undefined);
    call.on('status', (status: StatusObject) => {
      if (this.call !== call) return;
      this.finish(
        new WeftError(
          'WEFT_XDS_STREAM',
          `xDS stream to ${this.server.serverUri} ended: ${status.code} ${status.details}`,
        ),
      );
    });
    this.connectTimer = this.options.clock.setTimeout(() => {
      this.connectTimer = undefined;
      if (this.call !== call || this.up) return;
      this.finish(
        new WeftError(
          'WEFT_XDS_STREAM',
          `xDS server ${this.server.serverUri} unreachable: no connection after ${this.options.connectTimeoutMs}ms`,
        ),
      );
    }, this.options.connectTimeoutMs);
    this.options.logger.debug('xds stream starting', {
      server: target,
      transport: this.session.transport,
      channel: this.channelLabel,
    });
    this.session.streamStarted();
    this.watchReady(client, call);
  }

  private watchReady(client: Client, call: AdsCall): void {
    const channel = client.getChannel();
    const check = (): void => {
      if (this.call !== call) return;
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.READY) {
        this.markUp();
        return;
      }
      if (state === connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(state, Infinity, check);
    };
    check();
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.clearConnectTimer();
    this.options.logger.info('xds stream up', {
      server: this.server.serverUri,
      channel: this.channelLabel,
    });
    this.options.hooks.onUp(this);
  }

  private onData(message: unknown): void {
    if (!this.responded) {
      this.responded = true;
      // A response proves the server reachable even if READY was not observed yet.
      this.markUp();
      this.backoff.reset();
      this.options.hooks.onFirstResponse(this);
    }
    if (this.call === undefined) return;
    this.session.handleResponse(message);
  }

  private send(request: Record<string, unknown>): void {
    const call = this.call;
    if (call === undefined) return;
    if (!this.nodeSent) {
      this.nodeSent = true;
      call.write({ ...request, node: this.options.node });
    } else call.write(request);
  }

  private finish(error: WeftError): void {
    const hadResponse = this.responded;
    this.teardown();
    this.options.logger.warn('xds stream ended', {
      server: this.server.serverUri,
      hadResponse,
      error: error.message,
    });
    this.options.hooks.onEnded(this, hadResponse, error);
  }

  /** Retries after the next backoff delay. */
  retryLater(): void {
    if (this.closed) return;
    const delayMs = this.backoff.schedule(() => {
      this.start();
    });
    this.options.logger.debug('xds stream retry scheduled', {
      server: this.server.serverUri,
      delayMs,
    });
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) {
      this.options.clock.clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }

  private teardown(): void {
    const call = this.call;
    const client = this.client;
    this.call = undefined;
    this.client = undefined;
    this.up = false;
    this.clearConnectTimer();
    this.session.streamEnded();
    call?.cancel();
    client?.close();
  }

  /** Ends the stream and any pending retry for good. */
  close(): void {
    this.closed = true;
    this.backoff.cancel();
    this.teardown();
  }
}
