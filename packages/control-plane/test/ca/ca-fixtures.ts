// Run-time CA material for tests (nothing is committed): temp CA dirs, a capturing logger, a fake
// clock that starts at the real time (Node's TLS checks validity against the wall clock), and a
// real TLS handshake between two workload certificates.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import FakeTimers from '@sinonjs/fake-timers';
import type { Clock, LogFields, Logger, TimerHandle } from '@weft/xds-client';

export interface CaTestClock {
  readonly fake: ReturnType<typeof FakeTimers.createClock>;
  readonly clock: Clock;
}

/** A fake clock that starts now: issued certificates must be valid for Node's TLS stack. */
export function createNowClock(): CaTestClock {
  const fake = FakeTimers.createClock(Date.now());
  return {
    fake,
    clock: {
      now: () => fake.now,
      setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
      clearTimeout: (h) => {
        fake.clearTimeout(h as never);
      },
    },
  };
}

export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** A logger that keeps every line. */
export function createCapturingLogger(): {
  readonly logger: Logger;
  readonly records: LogRecord[];
} {
  const records: LogRecord[] = [];
  const at =
    (level: LogRecord['level']) =>
    (message: string, fields?: LogFields): void => {
      records.push({ level, message, fields });
    };
  return {
    records,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  };
}

export async function makeTempDir(prefix = 'weft-ca-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** One side of a TLS handshake: its key, chain (leaf first) and the roots it trusts. */
export interface TlsIdentity {
  readonly keyPem: string;
  readonly chainPem: readonly string[];
  readonly trustPem: readonly string[];
}

/**
 * A real mutual-TLS handshake on loopback. Resolves with each side's `authorized` and the peer's
 * SPIFFE URI SAN as the other side saw it. Hostname checks are off: SPIFFE identities are URIs.
 */
export async function mutualTls(
  server: TlsIdentity,
  client: TlsIdentity,
): Promise<{
  serverAuthorized: boolean;
  clientAuthorized: boolean;
  clientError: string | null;
  serverSawSan: string | undefined;
  clientSawSan: string | undefined;
}> {
  let serverSocket: TLSSocket | undefined;
  const tlsServer = createServer(
    {
      key: server.keyPem,
      cert: server.chainPem.join(''),
      ca: [...server.trustPem],
      requestCert: true,
      rejectUnauthorized: false,
    },
    (socket) => {
      serverSocket = socket;
      socket.end();
    },
  );
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;
  const socket = connect({
    host: '127.0.0.1',
    port,
    key: client.keyPem,
    cert: client.chainPem.join(''),
    ca: [...client.trustPem],
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
  try {
    await once(socket, 'secureConnect');
    const clientSawSan = socket.getPeerX509Certificate()?.subjectAltName;
    const clientAuthorized = socket.authorized;
    // Typed as Error, but null/undefined when the peer verified.
    const authError: unknown = socket.authorizationError;
    const clientError = authError instanceof Error ? authError.message : null;
    await once(socket, 'end');
    const s = serverSocket;
    return {
      serverAuthorized: s?.authorized ?? false,
      clientAuthorized,
      clientError,
      serverSawSan: s?.getPeerX509Certificate()?.subjectAltName,
      clientSawSan,
    };
  } finally {
    socket.destroy();
    tlsServer.close();
  }
}
