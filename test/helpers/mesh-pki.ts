// Certificates for the security suites: join tokens from a control plane's own CA directory,
// server certificates signed by its root (valid, expired, not yet valid, any SPIFFE ID), a
// foreign CA, and an mTLS https server on loopback that records each client's certificate.
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { CA_FILES, MeshCa } from '@weft/control-plane';
import { createCertificate, randomSerial } from '@weft/xds-client';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** A join token for `namespace`/`serviceAccount` from the CA in `caDir`. */
export function joinToken(caDir: string, namespace: string, serviceAccount: string): string {
  return MeshCa.open({ dir: caDir }).createJoinToken({ namespace, serviceAccount }).token;
}

/** Key + chain + the roots a server should present / trust. */
export interface ServerPki {
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
}

/** The root (certificate and key) of a CA directory. */
function rootOf(caDir: string): {
  certificate: X509Certificate;
  privateKey: ReturnType<typeof createPrivateKey>;
} {
  return {
    certificate: new X509Certificate(readFileSync(join(caDir, CA_FILES.rootCert))),
    privateKey: createPrivateKey(readFileSync(join(caDir, CA_FILES.rootKey))),
  };
}

/**
 * A leaf for `spiffeId` signed by the root of `caDir` (or by a fresh self-signed CA when `caDir`
 * is undefined), valid from `notBeforeMs` to `notAfterMs`.
 */
export function serverPki(options: {
  readonly caDir: string | undefined;
  readonly spiffeId: string;
  readonly notBeforeMs?: number;
  readonly notAfterMs?: number;
}): ServerPki {
  let signer: { certificate: X509Certificate; privateKey: ReturnType<typeof createPrivateKey> };
  if (options.caDir !== undefined) signer = rootOf(options.caDir);
  else {
    const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = createCertificate(
      {
        serial: randomSerial(),
        subject: { organization: 'elsewhere', commonName: 'Other Root CA' },
        subjectPublicKey: ca.publicKey,
        notBefore: new Date(Date.now() - 3_600_000),
        notAfter: new Date(Date.now() + 24 * 3_600_000),
        isCa: true,
      },
      { privateKey: ca.privateKey },
    );
    signer = { certificate: new X509Certificate(pem), privateKey: ca.privateKey };
  }
  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certPem = createCertificate(
    {
      serial: randomSerial(),
      subject: {},
      subjectPublicKey: leaf.publicKey,
      notBefore: new Date(options.notBeforeMs ?? Date.now() - 60_000),
      notAfter: new Date(options.notAfterMs ?? Date.now() + 3_600_000),
      isCa: false,
      uris: [options.spiffeId],
    },
    signer,
  );
  return {
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem,
    caPem: signer.certificate.toString(),
  };
}

/** What an mTLS server saw of one client connection at handshake time. */
export interface SeenClient {
  readonly spiffeId: string | undefined;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly atMs: number;
}

/** An https server on 127.0.0.1 that requires a client certificate from `pki.caPem`'s CA. */
export async function startMtlsServer(
  pki: ServerPki,
  handler: RequestListener = (_req, res) => {
    res.end('ok');
  },
): Promise<{ server: Server; port: number; clients: SeenClient[]; close(): Promise<void> }> {
  const clients: SeenClient[] = [];
  const server = createServer(
    {
      key: pki.keyPem,
      cert: pki.certPem,
      ca: pki.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    handler,
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerX509Certificate();
    if (peer === undefined) return;
    clients.push({
      spiffeId: (peer.subjectAltName ?? '').replace(/^URI:/, ''),
      notBeforeMs: peer.validFromDate.getTime(),
      notAfterMs: peer.validToDate.getTime(),
      atMs: Date.now(),
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    clients,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
