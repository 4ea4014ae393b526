// The control plane's admin HTTP API on loopback: /healthz, /ready, /config, /clients,
// /config_dump?node=ID, /registry, /ca, /metrics.
// Envoy-admin-like read-only views; DESIGN.md "Configuration" (rejections are visible).
// /metrics: https://prometheus.io/docs/instrumenting/exposition_formats/
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { silentLogger, WeftError, type Logger } from '@weft/xds-client';
import type { ClientStatus } from '../server/client-status.js';

/** What the admin API reads from; every method must be cheap and must not throw. */
export interface AdminSource {
  /** True once the first valid config is being served. */
  ready(): boolean;
  /** The `/config` document (JSON-serialisable). */
  config(): unknown;
  /** Connected xDS clients. */
  clients(): readonly ClientStatus[];
  /** The `/registry` document (registered endpoints with lease state); absent: `/registry` is 404. */
  registry?(): unknown;
  /**
   * The `/config_dump?node=ID` document of the clients with that node id; undefined when none is
   * connected (404). Absent: `/config_dump` is 404.
   */
  configDump?(nodeId: string): unknown;
  /** The `/ca` document (mesh CA roots, expiry, issued count; never keys); absent: `/ca` is 404. */
  ca?(): unknown;
  /** `/ca?workload=SPIFFE_ID`: the latest certificate issued for that identity, with its chain. */
  caWorkload?(spiffeId: string): unknown;
}

/** Options of {@link AdminServer}. */
export interface AdminServerOptions {
  readonly source: AdminSource;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0 (ephemeral). */
  readonly port?: number;
  /** Default: silent. */
  readonly logger?: Logger;
  /** Served on `/metrics` in the registry's content type; default: none (`/metrics` is 404). */
  readonly metricsRegistry?: Registry;
}

/** A small read-only JSON HTTP server (plus Prometheus text on `/metrics`). Unknown paths get 404 JSON. */
export class AdminServer {
  readonly #source: AdminSource;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #logger: Logger;
  readonly #metricsRegistry: Registry | undefined;
  #server: Server | undefined;
  #port = 0;
  #closed = false;

  /** Creates the server; nothing is bound until `listen()`. */
  constructor(options: AdminServerOptions) {
    this.#source = options.source;
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = options.port ?? 0;
    this.#logger = options.logger ?? silentLogger;
    this.#metricsRegistry = options.metricsRegistry;
  }

  /** The bound port (0 before `listen()`). */
  get port(): number {
    return this.#port;
  }

  /** Binds; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.#closed) throw new WeftError('WEFT_CLOSED', 'AdminServer is closed');
    const server = createServer((req, res) => {
      this.#handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        reject(
          new WeftError(
            'WEFT_INTERNAL',
            `cannot bind admin server to ${this.#host}:${this.#requestedPort}: ${err.message}`,
            { cause: err },
          ),
        );
      });
      server.listen(this.#requestedPort, this.#host, () => {
        resolve();
      });
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#logger.info('admin server listening', { host: this.#host, port: this.#port });
    return this.#port;
  }

  /** Stops accepting and closes idle connections; later `listen()` fails with WEFT_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: 'method not allowed', method: req.method });
      return;
    }
    try {
      switch (path) {
        case '/healthz':
          send(res, 200, { status: 'ok' });
          return;
        case '/ready': {
          const ready = this.#source.ready();
          send(res, ready ? 200 : 503, { ready });
          return;
        }
        case '/config':
          send(res, 200, this.#source.config());
          return;
        case '/clients':
          send(res, 200, { clients: this.#source.clients() });
          return;
        case '/config_dump':
          this.#configDump(res, url.searchParams.get('node'));
          return;
        case '/registry':
          if (this.#source.registry === undefined) this.#notFound(res, path);
          else send(res, 200, this.#source.registry());
          return;
        case '/ca':
          this.#ca(res, url.searchParams.get('workload'));
          return;
        case '/metrics':
          if (this.#metricsRegistry === undefined) this.#notFound(res, path);
          else void this.#sendMetrics(res, this.#metricsRegistry);
          return;
        default:
          this.#notFound(res, path);
      }
    } catch (err) {
      this.#logger.error('admin request failed', {
        path,
        error: err instanceof Error ? err.message : String(err),
      });
      send(res, 500, { error: 'internal error' });
    }
  }

  /** `/config_dump?node=ID`: 400 without `node`, 404 naming the id (and the connected ones) when unknown. */
  #configDump(res: ServerResponse, nodeId: string | null): void {
    const configDump = this.#source.configDump?.bind(this.#source);
    if (configDump === undefined) {
      this.#notFound(res, '/config_dump');
      return;
    }
    const connected = [...new Set(this.#source.clients().map((c) => c.nodeId))].sort();
    if (nodeId === null || nodeId === '') {
      send(res, 400, { error: 'query parameter node (a node id) is required', connected });
      return;
    }
    const doc = configDump(nodeId);
    if (doc === undefined) {
      send(res, 404, {
        error: `no xDS client with node id ${JSON.stringify(nodeId)} is connected`,
        nodeId,
        connected,
      });
      return;
    }
    send(res, 200, doc);
  }

  /** `/ca`, or with `?workload=SPIFFE_ID` one identity's latest certificate (404 naming it when unknown). */
  #ca(res: ServerResponse, workload: string | null): void {
    const source = this.#source;
    if (source.ca === undefined) {
      this.#notFound(res, '/ca');
      return;
    }
    if (workload === null || workload === '') {
      send(res, 200, source.ca());
      return;
    }
    const record = source.caWorkload?.(workload);
    if (record === undefined) {
      send(res, 404, {
        error: `the mesh CA has issued no certificate for ${JSON.stringify(workload)} (or it expired over an hour ago)`,
        workload,
      });
      return;
    }
    send(res, 200, record);
  }

  #notFound(res: ServerResponse, path: string): void {
    const paths = ['/healthz', '/ready', '/config', '/clients'];
    if (this.#source.configDump !== undefined) paths.push('/config_dump?node=ID');
    if (this.#source.registry !== undefined) paths.push('/registry');
    if (this.#source.ca !== undefined) paths.push('/ca', '/ca?workload=SPIFFE_ID');
    if (this.#metricsRegistry !== undefined) paths.push('/metrics');
    send(res, 404, { error: 'not found', path, paths });
  }

  /** Prometheus exposition in the registry's own content type; a collect failure is a 500. */
  async #sendMetrics(res: ServerResponse, registry: Registry): Promise<void> {
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    } catch (err) {
      this.#logger.error('admin /metrics failed', {
        error: err instanceof Error ? err.message : String(err),
      });
      send(res, 500, { error: 'internal error' });
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}
