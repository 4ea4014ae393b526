// The HTTP backend every SDK benchmark measures against: answers `ok` on 127.0.0.1, keeping
// connections alive for the whole run so no variant pays for a reconnect.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts the `ok` server on an ephemeral loopback port. */
export async function startOkServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
