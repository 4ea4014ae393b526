// The SDK's opt-in admin listener (loopback by default), Envoy-admin-like read-only views:
// /ready, /stats, /clusters, /config_dump, /metrics. Issue 6 extends it (Istio metrics, xDS
// versions and NACKs in the dump).
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@weft/xds-client';
import type { Registry } from 'prom-client';

/** What the admin views read; every method must be cheap and must not throw. */
export interface MeshAdminSource {
  ready(): boolean;
  stats(): unknown;
  describe(): unknown;
}

/** Where an admin listener is bound. */
export interface MeshAdminAddress {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
}

const PATHS = ['/ready', '/stats', '/clusters', '/config_dump', '/metrics'] as const;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}

/** A bound admin listener; `close()` stops it. */
export class MeshAdminServer {
  private constructor(
    private readonly server: Server,
    readonly address: MeshAdminAddress,
  ) {}

  /** Binds `host:port` (0 = ephemeral) and serves the views of `source`. */
  static async listen(
    source: MeshAdminSource,
    metrics: Registry,
    host: string,
    port: number,
    logger: Logger,
  ): Promise<MeshAdminServer> {
    const server = createServer((req, res) => {
      handle(source, metrics, req, res).catch((err: unknown) => {
        logger.error('mesh admin: a view failed', { path: req.url, error: String(err) });
        if (!res.headersSent) sendJson(res, 500, { error: String(err) });
        else res.destroy();
      });
    });
    server.listen(port, host);
    await once(server, 'listening');
    const bound = (server.address() as AddressInfo).port;
    const shown = host.includes(':') ? `[${host}]` : host;
    const address = Object.freeze({ host, port: bound, url: `http://${shown}:${bound}` });
    logger.info('mesh admin: listening', { url: address.url });
    return new MeshAdminServer(server, address);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

async function handle(
  source: MeshAdminSource,
  metrics: Registry,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: `${String(req.method)} not allowed; the admin API is read-only` });
    return;
  }
  switch (path) {
    case '/ready': {
      const ready = source.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    case '/stats':
      sendJson(res, 200, source.stats());
      return;
    case '/clusters': {
      const d = source.describe();
      const clusters =
        typeof d === 'object' && d !== null && 'clusters' in d ? d.clusters : undefined;
      sendJson(res, 200, { clusters: clusters ?? [] });
      return;
    }
    case '/config_dump':
      sendJson(res, 200, source.describe());
      return;
    case '/metrics': {
      const text = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return;
    }
    default:
      sendJson(res, 404, { error: `no admin view at ${path}`, views: PATHS });
  }
}
