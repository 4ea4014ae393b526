// Inbound security for one served port: watches the workload's server-side Listener
// (`grpc/server?xds.resource.listening_address=IP:PORT`, gRFC A36), picks a filter chain per
// connection from its first byte (0x16 = TLS ClientHello, Envoy's tls_inspector), terminates mTLS
// with the workload certificate (client certificate required and checked against the trust
// bundle), and runs the chain's RBAC filters on every request.
// Fail-closed: connections are held until the first Listener arrives; `ready()` rejects after the
// timeout and the caller closes the server. Spec: gRFC A36, A41; Istio PeerAuthentication.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import {
  subjectAltNameUris,
  WeftError,
  type Clock,
  type ListenerUpdate,
  type Logger,
  type ServerFilterChainUpdate,
  type ServerListenerUpdate,
  type TimerHandle,
  type XdsResourceType,
} from '@weft/xds-client';
import type { InboundRequestFacts } from '../telemetry/mesh-telemetry.js';
import type { WorkloadCertificates, WorkloadTlsMaterial } from './workload-certificates.js';
import type {
  InboundHandshakeFailureReason,
  InboundSecurityStats,
} from './inbound-security-stats.js';
import {
  describeRbacPolicy,
  RbacEngine,
  type RbacDecision,
  type RbacRequest,
} from './rbac-engine.js';

/** What the watch needs of the xDS client. */
export interface ListenerWatchSource {
  watch<T>(
    type: XdsResourceType<T>,
    name: string,
    watcher: {
      onChanged(value: T): void;
      onResourceError(err: WeftError): void;
      onAmbientError(err: WeftError): void;
    },
  ): () => void;
}

/** Options of {@link InboundGuard}. */
export interface InboundGuardOptions {
  /** The HTTP server whose connections the guard takes over; absent for gRPC (RBAC only). */
  readonly server?: Server;
  readonly source: ListenerWatchSource;
  readonly listenerType: XdsResourceType<ListenerUpdate>;
  readonly certificates: WorkloadCertificates | undefined;
  readonly stats: InboundSecurityStats;
  readonly logger: Logger;
  readonly clock: Clock;
  /** How long `ready()` waits for the first Listener, in ms. */
  readonly readyTimeoutMs: number;
}

/** What the guard learned about a connection; read per request. */
export interface InboundConnectionInfo {
  readonly mtls: boolean;
  /** The peer's URI SAN (SPIFFE id) on mTLS; undefined on plaintext. */
  readonly principal: string | undefined;
}

type Transport = 'tls' | 'plaintext';

interface ActiveChain {
  readonly chain: ServerFilterChainUpdate;
  readonly rbac: RbacEngine;
}

const TLS_HANDSHAKE_BYTE = 0x16;
/**
 * How long a PERMISSIVE / DISABLE port waits for a connection's first byte before closing it
 * (`sniff_timeout`): Envoy's listener_filters_timeout default, so an idle connection cannot hold
 * a socket forever before any HTTP timeout applies.
 */
export const SNIFF_TIMEOUT_MS = 15_000;

function chainFor(
  listener: ServerListenerUpdate,
  transport: Transport,
): ServerFilterChainUpdate | undefined {
  const wanted = transport === 'tls' ? 'tls' : 'raw_buffer';
  return (
    listener.filterChains.find((c) => c.transportProtocol === wanted) ??
    listener.filterChains.find(
      (c) => c.transportProtocol === '' && (c.tls !== undefined) === (transport === 'tls'),
    ) ??
    (listener.defaultFilterChain !== undefined &&
    (listener.defaultFilterChain.tls !== undefined) === (transport === 'tls')
      ? listener.defaultFilterChain
      : undefined)
  );
}

/** Node's verify error → the reason Weft counts. */
export function handshakeFailureReason(code: string | undefined): InboundHandshakeFailureReason {
  switch (code ?? '') {
    case 'CERT_HAS_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
      return 'not_yet_valid';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_UNTRUSTED':
      return 'untrusted_ca';
    // OpenSSL on plaintext bytes where a ClientHello belongs (an HTTP request, or anything else).
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'plaintext_rejected';
    default:
      return 'handshake_error';
  }
}

/** Guards one `http.Server`: transport per PeerAuthentication, RBAC per AuthorizationPolicy. */
export class InboundGuard {
  readonly #o: InboundGuardOptions;
  readonly #originals: ((socket: Socket) => void)[];
  readonly #held = new Set<Socket>();
  /** Accepted sockets whose first byte has not arrived (the http server does not know them yet). */
  readonly #sniffing = new Set<Socket>();
  readonly #info = new WeakMap<Socket, InboundConnectionInfo>();
  /** Responses this guard wrote as RBAC denials (response flag RBAC). */
  readonly #denied = new WeakSet<ServerResponse>();
  #listener: ServerListenerUpdate | undefined = undefined;
  #chains: { tls: ActiveChain | undefined; plaintext: ActiveChain | undefined } = {
    tls: undefined,
    plaintext: undefined,
  };
  #missing = false;
  #cancel: (() => void) | undefined = undefined;
  #tls: TlsServer | undefined = undefined;
  #material: WorkloadTlsMaterial | undefined = undefined;
  #offCertificates: (() => void) | undefined = undefined;
  #readyWaiters: ((err?: Error) => void)[] = [];
  #name = '';
  #closed = false;

  /** Takes over the server's 'connection' handling; call before `listen()`. */
  constructor(options: InboundGuardOptions) {
    this.#o = options;
    const { server } = options;
    this.#originals =
      server === undefined ? [] : (server.listeners('connection') as ((socket: Socket) => void)[]);
    server?.removeAllListeners('connection');
    server?.on('connection', (socket: Socket) => {
      this.#onConnection(socket);
    });
  }

  /** The Listener name being watched ('' before `watch()`). */
  get name(): string {
    return this.#name;
  }

  /** Starts watching `name` (once the port is known). */
  watch(name: string): void {
    this.#name = name;
    this.#o.stats.listeners += 1;
    this.#cancel = this.#o.source.watch(this.#o.listenerType, name, {
      onChanged: (value) => {
        if (value.server === undefined) {
          this.#dropListener(
            new WeftError('WEFT_INVALID_RESOURCE', `${name} is not a server listener`),
          );
          return;
        }
        this.#apply(value.server);
      },
      onResourceError: (err) => {
        this.#dropListener(err);
      },
      onAmbientError: (err) => {
        this.#o.logger.warn('inbound listener: keeping the last policy', {
          listener: name,
          error: err.message,
        });
      },
    });
  }

  /** Resolves once the first Listener is in force; rejects after `readyTimeoutMs` (WEFT_XDS_STREAM). */
  ready(): Promise<void> {
    if (this.#listener !== undefined) return Promise.resolve();
    const { clock, readyTimeoutMs } = this.#o;
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined = undefined;
      const settle = (err?: Error): void => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== settle);
        if (timer !== undefined) clock.clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      this.#readyWaiters.push(settle);
      timer = clock.setTimeout(() => {
        timer = undefined;
        settle(
          new WeftError(
            'WEFT_XDS_STREAM',
            `mesh.serve: no inbound listener ${this.#name} from the control plane within ${readyTimeoutMs}ms; not serving without its security policy`,
          ),
        );
      }, readyTimeoutMs);
    });
  }

  /** The connection facts for a request's socket (undefined for a socket the guard never saw). */
  connectionInfo(socket: Socket): InboundConnectionInfo | undefined {
    return this.#info.get(socket);
  }

  /** The facts telemetry labels an inbound request with (peer, mTLS, RBAC flag). */
  facts(req: IncomingMessage, res: ServerResponse): InboundRequestFacts | undefined {
    const info = this.#info.get(req.socket);
    if (info === undefined) return undefined;
    return {
      principal: info.principal,
      mtls: info.mtls,
      responseFlag: this.#denied.has(res) ? 'RBAC' : undefined,
    };
  }

  /** Wraps a request listener with RBAC: a denied request gets 403 `RBAC: access denied`. */
  wrap(listener: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse): void => {
      const decision = this.authorize(req);
      if (decision === undefined) {
        res.destroy();
        return;
      }
      if (decision.allowed) {
        listener(req, res);
        return;
      }
      this.#denied.add(res);
      const body = 'RBAC: access denied';
      res.writeHead(403, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
  }

  /**
   * Runs RBAC for one request with the current Listener's chain for the request's transport.
   * Undefined when the transport is no longer accepted (the connection must close).
   */
  authorize(
    req: IncomingMessage,
  ): (RbacDecision & { readonly info: InboundConnectionInfo }) | undefined {
    const info = this.#info.get(req.socket);
    const active = info === undefined ? undefined : this.#chains[info.mtls ? 'tls' : 'plaintext'];
    if (info === undefined || active === undefined) {
      this.#o.stats.handshakeFailed(info?.mtls === true ? 'tls_rejected' : 'plaintext_rejected');
      return undefined;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const request: RbacRequest = {
      method: req.method ?? 'GET',
      path: q === -1 ? url : url.slice(0, q),
      header: (name) => {
        if (name === ':method') return req.method;
        if (name === ':path') return url;
        if (name === ':authority') return req.headers.host;
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(',') : v;
      },
      destinationPort: req.socket.localPort ?? 0,
      principal: info.principal,
    };
    const decision = active.rbac.evaluate(request);
    this.record(decision, info, `${request.method} ${request.path}`);
    return { ...decision, info };
  }

  /**
   * RBAC for a request whose transport the caller terminated (a gRPC call): the current
   * Listener's chain for that transport decides. Undefined when the transport is not accepted
   * or no Listener is in force.
   */
  authorizeRequest(request: RbacRequest, info: InboundConnectionInfo): RbacDecision | undefined {
    const active = this.#missing ? undefined : this.#chains[info.mtls ? 'tls' : 'plaintext'];
    if (active === undefined) return undefined;
    const decision = active.rbac.evaluate(request);
    this.record(decision, info, `${request.method} ${request.path}`);
    return decision;
  }

  /** Counts and logs a decision (shared with the gRPC interceptor). */
  record(decision: RbacDecision, info: InboundConnectionInfo, what: string): void {
    const { stats, logger } = this.#o;
    for (const p of decision.audited) {
      stats.rbacDecision(p, 'AUDIT', 'logged');
      logger.info('RBAC audit', {
        policy: describeRbacPolicy(p),
        request: what,
        principal: info.principal ?? '-',
      });
    }
    if (decision.action === '' && decision.allowed) {
      stats.rbacDecision('', '', 'allowed');
      return;
    }
    stats.rbacDecision(decision.policy, decision.action, decision.allowed ? 'allowed' : 'denied');
    if (!decision.allowed)
      logger.info('RBAC: access denied', {
        listener: this.#name,
        policy:
          decision.policy === ''
            ? '(no ALLOW policy matched)'
            : describeRbacPolicy(decision.policy),
        action: decision.action,
        request: what,
        principal: info.principal ?? '-',
        responseFlag: 'RBAC',
      });
  }

  /** Stops watching; held connections are destroyed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel?.();
    this.#offCertificates?.();
    if (this.#cancel !== undefined) this.#o.stats.listeners -= 1;
    for (const s of this.#held) s.destroy();
    this.#held.clear();
    for (const s of this.#sniffing) s.destroy();
    this.#sniffing.clear();
    for (const w of [...this.#readyWaiters])
      w(new WeftError('WEFT_CLOSED', 'mesh.serve: server closed'));
  }

  #apply(listener: ServerListenerUpdate): void {
    const first = this.#listener === undefined;
    this.#listener = listener;
    this.#missing = false;
    const active = (t: Transport): ActiveChain | undefined => {
      const chain = chainFor(listener, t);
      return chain === undefined ? undefined : { chain, rbac: new RbacEngine(chain.httpFilters) };
    };
    this.#chains = { tls: active('tls'), plaintext: active('plaintext') };
    this.#o.logger.info('inbound listener applied', {
      listener: this.#name,
      tls: this.#chains.tls !== undefined,
      plaintext: this.#chains.plaintext !== undefined,
      first,
    });
    for (const w of [...this.#readyWaiters]) w();
    const held = [...this.#held];
    this.#held.clear();
    for (const s of held) this.#route(s);
  }

  #dropListener(err: WeftError): void {
    this.#o.logger.warn('inbound listener missing: refusing new connections until it arrives', {
      listener: this.#name,
      error: err.message,
    });
    // Before the first Listener, keep waiting until the ready timeout: a SotW response that
    // crossed the subscription on the wire reports the name as missing, the next one carries it.
    if (this.#listener === undefined) return;
    this.#missing = true;
  }

  #onConnection(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (this.#listener === undefined) {
      // Fail-closed: nothing is read until the first policy is known.
      socket.pause();
      this.#held.add(socket);
      socket.once('close', () => this.#held.delete(socket));
      return;
    }
    if (this.#missing) {
      this.#o.stats.handshakeFailed('no_listener');
      socket.destroy();
      return;
    }
    this.#route(socket);
  }

  /**
   * TLS only (STRICT): straight to the TLS server, no sniffing, so TLS runs on the socket's
   * native handle (a plaintext client fails the handshake, counted `plaintext_rejected`). Both
   * or plaintext only: sniff the first byte.
   */
  #route(socket: Socket): void {
    if (this.#chains.plaintext === undefined && this.#chains.tls !== undefined) {
      this.#dispatch(socket, 'tls');
      return;
    }
    this.#sniff(socket);
  }

  /** Reads the first chunk, puts it back, and routes the socket by its first byte. */
  #sniff(socket: Socket): void {
    const { clock } = this.#o;
    const timer = clock.setTimeout(() => {
      this.#sniffing.delete(socket);
      this.#o.stats.handshakeFailed('sniff_timeout');
      socket.destroy();
    }, SNIFF_TIMEOUT_MS);
    const onError = (): void => undefined;
    const onClose = (): void => {
      clock.clearTimeout(timer);
      this.#sniffing.delete(socket);
    };
    this.#sniffing.add(socket);
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.once('data', (chunk: Buffer) => {
      clock.clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      socket.off('error', onError);
      socket.off('close', onClose);
      this.#sniffing.delete(socket);
      this.#dispatch(socket, chunk[0] === TLS_HANDSHAKE_BYTE ? 'tls' : 'plaintext');
    });
    socket.resume();
  }

  #dispatch(socket: Socket, transport: Transport): void {
    const active = this.#chains[transport];
    if (active === undefined) {
      this.#o.stats.handshakeFailed(transport === 'tls' ? 'tls_rejected' : 'plaintext_rejected');
      socket.destroy();
      return;
    }
    if (transport === 'plaintext') {
      this.#info.set(socket, { mtls: false, principal: undefined });
      this.#o.stats.connections.plaintext += 1;
      this.#handOver(socket);
      return;
    }
    const tls = this.#tlsServer();
    if (tls === undefined) {
      this.#o.stats.handshakeFailed('no_server_certificate');
      this.#o.logger.warn('inbound mTLS connection refused: no workload certificate', {
        listener: this.#name,
      });
      socket.destroy();
      return;
    }
    tls.emit('connection', socket);
  }

  #handOver(socket: Socket): void {
    for (const l of this.#originals) l.call(this.#o.server, socket);
    socket.resume();
  }

  /** One tls.Server per guard, fed sockets by hand; its context follows certificate rotation. */
  #tlsServer(): TlsServer | undefined {
    const certs = this.#o.certificates;
    const material = certs?.current();
    if (certs === undefined || material === undefined) return undefined;
    if (this.#tls === undefined) {
      const tls = createTlsServer({
        key: material.privateKeyPem,
        cert: material.certChainPem.join('\n'),
        ca: [...material.trustBundlePem],
        requestCert: true,
        // Checked below, so a refusal is counted by reason instead of failing inside OpenSSL.
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      this.#material = material;
      tls.on('secureConnection', (s: TLSSocket) => {
        this.#onSecure(s);
      });
      tls.on('tlsClientError', (err: Error & { code?: string }) => {
        this.#o.stats.handshakeFailed(handshakeFailureReason(err.code));
      });
      this.#offCertificates = certs.onChange((m) => {
        this.#updateContext(m);
      });
      this.#tls = tls;
    } else if (this.#material !== material) {
      this.#updateContext(material);
    }
    return this.#tls;
  }

  #updateContext(m: WorkloadTlsMaterial): void {
    if (this.#tls === undefined || this.#material === m) return;
    this.#material = m;
    this.#tls.setSecureContext({
      key: m.privateKeyPem,
      cert: m.certChainPem.join('\n'),
      ca: [...m.trustBundlePem],
    });
  }

  #onSecure(s: TLSSocket): void {
    const chain = this.#chains.tls?.chain;
    const peer = s.getPeerCertificate();
    const hasCert = Object.keys(peer).length > 0;
    const required = chain?.tls?.requireClientCertificate ?? true;
    let reason: InboundHandshakeFailureReason | undefined = undefined;
    if (!hasCert) reason = required ? 'no_certificate' : undefined;
    else if (!s.authorized) reason = handshakeFailureReason(String(s.authorizationError));
    if (reason !== undefined) {
      this.#o.stats.handshakeFailed(reason);
      this.#o.logger.info('inbound mTLS handshake refused', { listener: this.#name, reason });
      s.destroy();
      return;
    }
    this.#info.set(s, {
      mtls: true,
      principal: hasCert ? subjectAltNameUris(peer.subjectaltname)[0] : undefined,
    });
    this.#o.stats.connections.mtls += 1;
    this.#handOver(s);
  }
}
