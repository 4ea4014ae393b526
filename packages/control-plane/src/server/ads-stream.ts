// What SotW and Delta streams share: node remembered from the first request, per-type status,
// nonces, ACK/NACK recording. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-and-nack-semantics-summary
import {
  ADS_TYPE_URLS,
  LISTENER_TYPE_URL,
  parseServerListenerName,
  type AdsTypeUrl,
  type Clock,
  type Logger,
} from '@weft/xds-client';
import type { SnapshotCache } from '../snapshot/snapshot-cache.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { identifyClient, type ClientIdentity, type NodeMessage } from './client-identity.js';
import {
  createTypeStatus,
  TYPE_SHORT_NAMES,
  type AdsServerEvents,
  type ClientStatus,
  type MutableTypeStatus,
  type TypeStatus,
} from './client-status.js';
import {
  ClientResourceTracker,
  type ClientConfigSnapshot,
  type SentResponse,
  type TypeConfigSnapshot,
} from './client-resources.js';

/** What a stream needs from its server. */
export interface StreamHost {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly clock: Clock;
  emitServerEvent<K extends keyof AdsServerEvents>(name: K, ...args: AdsServerEvents[K]): void;
  streamIdentified(stream: AdsStream): void;
  streamClosed(stream: AdsStream): void;
  /**
   * mTLS port: checks the node of the first request against the client certificate; a status
   * ends the stream with it (the stream is never identified).
   */
  admitNode?(stream: AdsStream, node: NodeMessage): StreamRefusal | undefined;
}

/** A gRPC status a stream is ended with. */
export interface StreamRefusal {
  readonly code: number;
  readonly details: string;
}

/** How a client reached the server: the plaintext xDS port or the mTLS one. */
export type StreamSecurity =
  | { readonly transport: 'plaintext' }
  | { readonly transport: 'mtls'; readonly peerSpiffeId: string };

/** The minimal grpc-js duplex call surface a stream uses. */
export interface DuplexCall<Req, Res> {
  on(event: 'data', listener: (request: Req) => void): unknown;
  on(event: 'end' | 'cancelled' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  write(message: Res): boolean;
  end(): void;
  /** grpc-js: an `error` event ends the call with that status. */
  emit(event: 'error', status: StreamRefusal): boolean;
}

/** `error_detail` of a request (google.rpc.Status). */
export interface ErrorDetail {
  readonly code?: number;
  readonly message?: string;
}

/** Is `typeUrl` one the server serves over ADS? */
export function isAdsTypeUrl(typeUrl: string | undefined): typeUrl is AdsTypeUrl {
  return (ADS_TYPE_URLS as readonly string[]).includes(typeUrl ?? '');
}

/**
 * Base of one ADS stream. Subclasses handle requests and compute responses; this class owns
 * identity, status, nonces and ACK/NACK bookkeeping, and serialises work per stream.
 */
export abstract class AdsStream<Req = unknown, Res = unknown> {
  readonly streamId: number;
  abstract readonly protocol: 'sotw' | 'delta';
  protected readonly host: StreamHost;
  protected readonly status = new Map<AdsTypeUrl, MutableTypeStatus>();
  #identity: ClientIdentity | undefined;
  #node: NodeMessage = {};
  /** What the client holds per type (CSDS, /config_dump). */
  protected readonly resources = new ClientResourceTracker();
  #connectedAtMs: number;
  #nonceCounter = 0;
  #closed = false;
  /** Set by the server once the stream is accepted. */
  security: StreamSecurity = { transport: 'plaintext' };

  /** The gRPC call; subclasses write responses to it. */
  protected readonly call: DuplexCall<Req, Res>;

  /** Attaches to a call: its events drive everything from here (requests arrive after construction). */
  constructor(host: StreamHost, streamId: number, call: DuplexCall<Req, Res>) {
    this.host = host;
    this.streamId = streamId;
    this.#connectedAtMs = host.clock.now();
    this.call = call;
    call.on('data', (req) => this.guard('request', () => this.onRequest(req)));
    call.on('end', () => {
      this.markClosed();
      call.end();
    });
    call.on('cancelled', () => this.markClosed());
    call.on('close', () => this.markClosed());
    call.on('error', () => this.markClosed());
  }

  /** Handles one request of the stream. */
  protected abstract onRequest(req: Req): void;
  /** Whether the client has asked for this type on this stream. */
  protected abstract hasType(typeUrl: AdsTypeUrl): boolean;
  /** Sends the type's resources if they changed for this client. */
  protected abstract pushType(typeUrl: AdsTypeUrl): void;
  /** The names the client subscribes to by name (also alongside a wildcard). */
  protected abstract namedSubscriptions(typeUrl: AdsTypeUrl): readonly string[];

  /** Known once the first request arrived. */
  get identity(): ClientIdentity | undefined {
    return this.#identity;
  }

  /** Node id, '' before the first request. */
  get nodeId(): string {
    return this.#identity?.nodeId ?? '';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Pushes whatever changed in the current snapshot, types in make-before-break order. */
  pushChanges(): void {
    if (this.closed) return;
    for (const typeUrl of ADS_TYPE_URLS) {
      if (this.hasType(typeUrl)) this.guard('push', () => this.pushType(typeUrl));
    }
  }

  /** The node of the first request (`{}` before it). */
  get node(): NodeMessage {
    return this.#node;
  }

  /** Ends the stream from the server side with an error status. */
  fail(refusal: StreamRefusal): void {
    if (this.#closed) return;
    this.markClosed();
    this.call.emit('error', refusal);
  }

  /** Ends the stream from the server side (status OK). */
  end(): void {
    this.markClosed();
    this.call.end();
  }

  /** JSON-able status. */
  snapshotStatus(): ClientStatus {
    const identity = this.#identity ?? identifyClient(undefined);
    const types: Record<string, TypeStatus> = {};
    for (const typeUrl of ADS_TYPE_URLS) {
      const s = this.status.get(typeUrl);
      if (s === undefined) continue;
      types[TYPE_SHORT_NAMES[typeUrl]] = { typeUrl, ...s };
    }
    return {
      streamId: this.streamId,
      nodeId: identity.nodeId,
      cluster: identity.cluster,
      kind: identity.view.kind,
      locality: identity.view.locality,
      userAgent: identity.userAgent,
      protocol: this.protocol,
      ...this.security,
      connectedAtMs: this.#connectedAtMs,
      types,
    };
  }

  /** What the client holds, was sent and rejected, per type it asked for (CSDS, /config_dump). */
  configSnapshot(): ClientConfigSnapshot {
    const identity = this.#identity ?? identifyClient(undefined);
    const snapshot = this.snapshot();
    const types: TypeConfigSnapshot[] = [];
    for (const typeUrl of ADS_TYPE_URLS) {
      const s = this.status.get(typeUrl);
      if (s === undefined) continue;
      const served = snapshot.types.get(typeUrl)?.resources;
      types.push({
        typeUrl,
        shortName: TYPE_SHORT_NAMES[typeUrl],
        subscribed: s.subscribed,
        lastNack: s.lastNack,
        resources: this.resources.entries(
          typeUrl,
          s.subscribed,
          (name) => served?.has(name) === true,
        ),
      });
    }
    return {
      streamId: this.streamId,
      nodeId: identity.nodeId,
      node: this.#node,
      kind: identity.view.kind,
      userAgent: identity.userAgent,
      protocol: this.protocol,
      connectedAtMs: this.#connectedAtMs,
      types,
    };
  }

  /**
   * Remembers `node` from the first request only; later requests may omit it (XDS-NOTES 1).
   * False when the server refused the node (the stream is then failed and closed).
   */
  protected noteNode(node: NodeMessage | undefined | null): boolean {
    if (this.#identity !== undefined) return true;
    this.#node = node ?? {};
    const refusal = this.host.admitNode?.(this, this.#node);
    if (refusal !== undefined) {
      this.fail(refusal);
      return false;
    }
    this.#identity = identifyClient(node ?? undefined);
    this.#connectedAtMs = this.host.clock.now();
    this.host.streamIdentified(this);
    return true;
  }

  /**
   * The snapshot for this client's view, plus the inbound (server-side) Listeners it subscribes
   * to, built for its workload (node metadata namespace and labels).
   */
  protected snapshot(): Snapshot {
    const identity = this.#identity ?? identifyClient(undefined);
    const inbound = this.namedSubscriptions(LISTENER_TYPE_URL).filter(
      (n) => parseServerListenerName(n) !== undefined,
    );
    if (inbound.length === 0) return this.host.cache.get(identity.view);
    return this.host.cache.withInbound(identity.view, identity.workload, inbound);
  }

  protected typeStatus(typeUrl: AdsTypeUrl): MutableTypeStatus {
    let s = this.status.get(typeUrl);
    if (s === undefined) {
      s = createTypeStatus();
      this.status.set(typeUrl, s);
    }
    return s;
  }

  protected nextNonce(): string {
    this.#nonceCounter += 1;
    return `${this.streamId}-${this.#nonceCounter}`;
  }

  /** Records a response at write time (what the client will hold once it ACKs). */
  protected recordSent(typeUrl: AdsTypeUrl, response: SentResponse): void {
    this.resources.sent(typeUrl, response);
  }

  /**
   * Applies an ACK or NACK to what the client holds. Called for every answer with a nonce,
   * stale ones included: the client did accept or reject that response.
   */
  protected recordAnswer(
    typeUrl: AdsTypeUrl,
    nonce: string,
    error: ErrorDetail | null | undefined,
  ): void {
    const message = error === undefined || error === null ? undefined : (error.message ?? '');
    this.resources.answered(typeUrl, nonce, message, this.host.clock.now());
  }

  /** Records an ACK (no error_detail) or NACK (error_detail present) of the latest response. */
  protected recordAckOrNack(
    typeUrl: AdsTypeUrl,
    version: string,
    nonce: string,
    error: ErrorDetail | null | undefined,
  ): void {
    const s = this.typeStatus(typeUrl);
    const base = {
      streamId: this.streamId,
      nodeId: this.nodeId,
      kind: (this.#identity ?? identifyClient(undefined)).view.kind,
      typeUrl,
      version,
      nonce,
    };
    if (error !== undefined && error !== null) {
      const atMs = this.host.clock.now();
      const message = error.message ?? '';
      // Stale nonces never get here, so the NACK answers the latest response of this type.
      const rejectedVersion = nonce === s.sentNonce ? s.sentVersion : '';
      s.lastNack = { version: rejectedVersion, acceptedVersion: version, nonce, message, atMs };
      this.host.logger.warn('xDS NACK', {
        nodeId: this.nodeId,
        type: TYPE_SHORT_NAMES[typeUrl],
        rejectedVersion,
        acceptedVersion: version,
        nonce,
        error: message,
      });
      this.host.emitServerEvent('nack', { ...base, message, atMs });
      return;
    }
    s.ackedVersion = version;
    this.host.emitServerEvent('ack', base);
  }

  /** Called once when the underlying call ends in any way. */
  protected markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.host.streamClosed(this);
  }

  /** Runs a handler, turning exceptions into log lines (a bad request must not kill the server). */
  protected guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.host.logger.error(`ADS ${this.protocol} stream: ${what} failed`, {
        nodeId: this.nodeId,
        streamId: this.streamId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
