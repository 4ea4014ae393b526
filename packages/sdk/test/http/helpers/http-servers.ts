// Real HTTP servers on 127.0.0.1 for transport tests, recording what they receive.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly host: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface TestServer {
  readonly port: number;
  readonly name: string;
  readonly received: ReceivedRequest[];
  readonly server: Server;
  /** Open TCP connections now. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Starts a server answering `200 <name>` (or what `respond` does). `respond` may leave the
 * response open to simulate a hung upstream.
 */
export async function startServer(
  name: string,
  respond?: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<TestServer> {
  const received: ReceivedRequest[] = [];
  let open = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host,
        headers: req.headers,
        body,
      });
      if (respond !== undefined) respond(req, res, body);
      else res.end(name);
    });
  });
  server.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    name,
    received,
    server,
    connections: () => open,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}
