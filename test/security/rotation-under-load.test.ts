// Issue 5 "Must show": certificate rotation under load. Client and server workloads get 1-minute
// certificates from a real control plane process and renew them at half life; 200 requests/s for
// 3 minutes go through createMesh over ISTIO_MUTUAL. Every request must succeed, at least 4
// rotations must show in the metrics, and every TLS connection must have had valid certificates
// on both sides at handshake time (checked on the server and from the client's handshake channel).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import {
  createMesh,
  TLS_HANDSHAKE_CHANNEL,
  type Mesh,
  type TlsHandshakeEvent,
  type WorkloadTlsMaterial,
} from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';
import { joinToken } from '../helpers/mesh-pki.js';
import { staticServiceYaml } from '../helpers/sdk-fixtures.js';

const RATE_PER_S = 200;
const DURATION_MS = 180_000;
const TTL_MS = 60_000;

const serviceYaml = (port: number): string =>
  staticServiceYaml({
    host: 'inventory',
    port: 8080,
    protocol: 'HTTP',
    endpointPorts: [port],
    serviceAccount: 'inventory',
    mtls: true,
  });

const tlsOptions = (m: WorkloadTlsMaterial): { key: string; cert: string; ca: string[] } => ({
  key: m.privateKeyPem,
  cert: m.certChainPem.join(''),
  ca: [...m.trustBundlePem],
});

describe('certificate rotation under load (ISTIO_MUTUAL, 1-minute certificates)', function () {
  this.timeout(DURATION_MS + 120_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let serverMesh: Mesh | undefined;
  let clientMesh: Mesh | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-rotation-'));
    await writeFile(join(dir, 'mesh.yaml'), '');
    cp = await startControlPlaneProcess(dir);
  });

  after(async () => {
    await clientMesh?.close();
    await serverMesh?.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves 200 req/s for 3 minutes with every request succeeding across at least 4 rotations', async () => {
    const meshFor = (sa: string, admin: boolean): Promise<Mesh> =>
      createMesh({
        controlPlane: `127.0.0.1:${cp.xdsPort}`,
        node: { id: `rotation-${sa}` },
        workload: { name: sa, namespace: 'default', serviceAccount: sa },
        env: {},
        ...(admin ? { admin: { port: 0 } } : {}),
        identity: { token: joinToken(cp.caDir, 'default', sa), ttlMs: TTL_MS },
      });
    const serverSide = await meshFor('inventory', false);
    serverMesh = serverSide;
    const serverCerts = await serverSide.certificates!.ready();

    // The server: a plain https server holding the inventory workload's rotating certificate.
    const problems: string[] = [];
    let serverHandshakes = 0;
    const server = createServer(
      { ...tlsOptions(serverCerts), requestCert: true, rejectUnauthorized: true },
      (_req, res) => {
        res.end('ok');
      },
    );
    serverSide.certificates!.onChange((m) => {
      server.setSecureContext(tlsOptions(m));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      serverHandshakes++;
      const now = Date.now();
      const peer = socket.getPeerX509Certificate();
      const own = socket.getX509Certificate();
      if (peer === undefined || own === undefined) {
        problems.push('server: a connection without certificates');
        return;
      }
      for (const [who, c] of [
        ['client', peer],
        ['server', own],
      ] as const) {
        if (now < c.validFromDate.getTime() || now > c.validToDate.getTime())
          problems.push(`server saw a ${who} certificate outside its validity at ${now}`);
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await writeFile(join(dir, 'mesh.yaml'), serviceYaml(port));

    const client = await meshFor('checkout', true);
    clientMesh = client;
    await client.ready();
    await client.certificates!.ready();

    let clientHandshakes = 0;
    const onHandshake = (message: unknown): void => {
      const e = message as TlsHandshakeEvent;
      if (!e.ok) {
        problems.push(`client handshake failed: ${e.reason ?? '?'}`);
        return;
      }
      clientHandshakes++;
      const valid = (from?: number, to?: number): boolean =>
        from !== undefined && to !== undefined && from <= e.atMs && e.atMs <= to;
      if (!valid(e.peerNotBeforeMs, e.peerNotAfterMs))
        problems.push(`client saw a server certificate outside its validity at ${e.atMs}`);
      if (!valid(e.ownNotBeforeMs, e.ownNotAfterMs))
        problems.push(`client presented a certificate outside its validity at ${e.atMs}`);
    };
    subscribe(TLS_HANDSHAKE_CHANNEL, onHandshake);

    // Wait for the config to route (the service was added after the control plane started).
    for (let i = 0; ; i++) {
      try {
        const res = await request('http://inventory:8080/', { dispatcher: client.dispatcher });
        await res.body.text();
        if (res.statusCode === 200) break;
      } catch (err) {
        if (i > 100) throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }

    let sent = 0;
    let ok = 0;
    const failures = new Map<string, number>();
    const inflight = new Set<Promise<void>>();
    const one = async (): Promise<void> => {
      try {
        const res = await request('http://inventory:8080/', { dispatcher: client.dispatcher });
        await res.body.text();
        if (res.statusCode === 200) ok++;
        else
          failures.set(
            `status ${res.statusCode}`,
            (failures.get(`status ${res.statusCode}`) ?? 0) + 1,
          );
      } catch (err) {
        const key =
          err instanceof Error
            ? `${(err as { code?: string }).code ?? ''} ${err.message}`
            : String(err);
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    };
    // 200 req/s: 10 requests every 50 ms, paced against the wall clock so slow ticks catch up.
    const start = Date.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(
          Math.floor(((Date.now() - start) / 1000) * RATE_PER_S),
          (DURATION_MS / 1000) * RATE_PER_S,
        );
        while (sent < due) {
          sent++;
          const p = one().finally(() => inflight.delete(p));
          inflight.add(p);
        }
        if (Date.now() - start >= DURATION_MS) {
          clearInterval(tick);
          resolve();
        }
      }, 50);
    });
    await Promise.all([...inflight]);
    unsubscribe(TLS_HANDSHAKE_CHANNEL, onHandshake);

    const metrics = await (await fetch(`http://127.0.0.1:${client.admin!.port}/metrics`)).text();
    const rotations = Number(
      /^weft_sdk_certificate_rotations_total\{[^}]*\} (\d+)$/m.exec(metrics)?.[1],
    );
    const security = client.stats().security;
    const summary = {
      sent,
      ok,
      failures: Object.fromEntries(failures),
      rotations,
      serverRotations: serverSide.stats().security.certificate?.rotations,
      clientHandshakes,
      serverHandshakes,
      handshakeFailures: security.handshakes.failures,
      problems: problems.slice(0, 5),
    };
    // One line for the report.
    process.stderr.write(`rotation under load: ${JSON.stringify(summary)}\n`);
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });

    assert.equal(sent, (DURATION_MS / 1000) * RATE_PER_S);
    assert.deepEqual(Object.fromEntries(failures), {}, 'every request succeeds');
    assert.equal(ok, sent);
    assert.ok(rotations >= 4, `at least 4 rotations (metric), got ${rotations}`);
    assert.ok(clientHandshakes >= rotations, 'new connections after each rotation');
    assert.deepEqual(problems, [], 'every TLS connection had valid certificates at handshake time');
  });
});
