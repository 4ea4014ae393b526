// Outbound gRPC over mTLS through createMesh against a real control plane process (its own
// temporary CA): DestinationRule ISTIO_MUTUAL → a channel with mesh.grpcCredentials() dials TLS
// with the workload certificate, trusts the mesh bundle and checks the server's SPIFFE ID; wrong
// SA / foreign CA fail counted by reason; a channel without the mesh's credentials is refused
// (never plaintext); no identity → WEFT_TLS_NO_CERTIFICATE; a rotation reaches new connections.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, ServerCredentials, status as grpcStatus, type Client } from '@grpc/grpc-js';
import { EchoClient, startEchoBackend, type EchoBackend } from '@weft/example-demo/echo-service';
import { createMesh, TLS_HANDSHAKE_CHANNEL, type Mesh, type TlsHandshakeEvent } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';
import { joinToken, serverPki, type ServerPki } from '../helpers/mesh-pki.js';
import { echoCallWithDetails, staticServiceYaml } from '../helpers/sdk-fixtures.js';

const TD = 'cluster.local';
const spiffe = (sa: string): string => `spiffe://${TD}/ns/default/sa/${sa}`;

const grpcServiceYaml = (host: string, port: number, sa: string, mtls: boolean): string =>
  staticServiceYaml({
    host,
    port: 50051,
    protocol: 'GRPC',
    endpointPorts: [port],
    serviceAccount: sa,
    mtls,
  });

interface Outcome {
  readonly backend?: string;
  readonly code?: number;
  readonly details?: string;
}

const echoCall = echoCallWithDetails;

/** Calls until `done(outcome)` (the config may still be the empty first one), at most ~10 s. */
async function callUntil(client: Client, done: (o: Outcome) => boolean): Promise<Outcome> {
  let outcome: Outcome = {};
  for (let i = 0; i < 50; i++) {
    outcome = await echoCall(client);
    if (done(outcome)) return outcome;
    await new Promise((r) => setTimeout(r, 200));
  }
  return outcome;
}

/** Server credentials requiring a client certificate from the mesh CA. */
function mtlsServerCredentials(pki: ServerPki, meshRootPem: string): ServerCredentials {
  return ServerCredentials.createSsl(
    Buffer.from(meshRootPem),
    [{ cert_chain: Buffer.from(pki.certPem), private_key: Buffer.from(pki.keyPem) }],
    true,
  );
}

describe('outbound gRPC mTLS (ISTIO_MUTUAL) through createMesh and mesh.grpcCredentials()', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  const backends: Record<string, EchoBackend> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-grpc-mtls-'));
    await writeFile(join(dir, 'mesh.yaml'), '');
    cp = await startControlPlaneProcess(dir);
    const meshRoot = serverPki({ caDir: cp.caDir, spiffeId: 'x' }).caPem;
    const pkis: Record<string, ServerPki> = {
      inventory: serverPki({ caDir: cp.caDir, spiffeId: spiffe('inventory') }),
      wrongsa: serverPki({ caDir: cp.caDir, spiffeId: spiffe('payments') }),
      otherca: serverPki({ caDir: undefined, spiffeId: spiffe('inventory') }),
    };
    const yaml: string[] = [];
    for (const [host, pki] of Object.entries(pkis)) {
      backends[host] = await startEchoBackend(host, 0, mtlsServerCredentials(pki, meshRoot));
      yaml.push(grpcServiceYaml(host, backends[host].port, 'inventory', true));
    }
    backends['plain'] = await startEchoBackend('plain');
    yaml.push(grpcServiceYaml('plain', backends['plain'].port, 'plain', false));
    await writeFile(join(dir, 'mesh.yaml'), yaml.join('---\n'));
  });

  after(async () => {
    await Promise.all(Object.values(backends).map((b) => b.close()));
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function meshWith(identity: boolean, ttlMs?: number): Promise<Mesh> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: `grpc-mtls-client-${identity}-${Date.now()}` },
      workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
      env: {},
      ...(identity
        ? {
            identity: {
              token: joinToken(cp.caDir, 'default', 'checkout'),
              ...(ttlMs === undefined ? {} : { ttlMs }),
            },
          }
        : {}),
    });
    await mesh.ready();
    return mesh;
  }

  it('calls a server of the right service account over mTLS; plaintext clusters use the fallback', async () => {
    const mesh = await meshWith(true);
    const client = new EchoClient('xds:///inventory:50051', mesh.grpcCredentials());
    const plain = new EchoClient('xds:///plain:50051', mesh.grpcCredentials());
    try {
      const outcome = await callUntil(client, (o) => o.backend !== undefined);
      assert.equal(outcome.backend, 'inventory', JSON.stringify(outcome));
      for (let i = 0; i < 5; i++) assert.equal((await echoCall(client)).backend, 'inventory');
      const peers = backends['inventory']!.peers;
      assert.ok((peers.get(spiffe('checkout')) ?? 0) >= 6, JSON.stringify([...peers]));
      assert.equal(peers.get('plaintext'), undefined, 'no plaintext call reached the server');
      const stats = mesh.stats();
      assert.ok(stats.security.handshakes.ok >= 1);
      assert.equal(stats.grpc.callsRefusedNoMeshCredentials, 0);
      // Beside it, while its connection is up: a second channel with the mesh's credentials gets
      // the pooled (TLS) subchannel, one with other credentials is refused, never plaintext.
      const again = new EchoClient('xds:///inventory:50051', mesh.grpcCredentials());
      const other = new EchoClient('xds:///inventory:50051', credentials.createInsecure());
      try {
        const handshakes = mesh.stats().security.handshakes.ok;
        assert.equal((await callUntil(again, (o) => o.backend !== undefined)).backend, 'inventory');
        assert.equal(mesh.stats().security.handshakes.ok, handshakes, 'the pooled connection');
        const refused = await callUntil(other, (o) => o.code !== undefined);
        assert.match(refused.details ?? '', /WEFT_UNSUPPORTED: .*mesh\.grpcCredentials\(\)/);
        assert.equal(mesh.stats().grpc.callsRefusedNoMeshCredentials, 1);
      } finally {
        again.close();
        other.close();
      }
      assert.equal(peers.get('plaintext'), undefined);
      // A cluster without an UpstreamTlsContext: the fallback (insecure) credentials.
      const p = await callUntil(plain, (o) => o.backend !== undefined);
      assert.equal(p.backend, 'plain', JSON.stringify(p));
      assert.ok((backends['plain']!.peers.get('plaintext') ?? 0) >= 1);
    } finally {
      client.close();
      plain.close();
      await mesh.close();
    }
  });

  for (const [host, reason] of [
    ['wrongsa', 'bad-san'],
    ['otherca', 'untrusted'],
  ] as const) {
    it(`fails a server whose certificate is ${reason} (UNAVAILABLE, counted by reason), never calling it`, async () => {
      const mesh = await meshWith(true);
      const client = new EchoClient(`xds:///${host}:50051`, mesh.grpcCredentials());
      try {
        await mesh.certificates!.ready();
        const outcome = await callUntil(
          client,
          (o) => o.details?.includes('TLS handshake') === true,
        );
        assert.equal(outcome.code, grpcStatus.UNAVAILABLE, JSON.stringify(outcome));
        assert.match(outcome.details ?? '', new RegExp(`TLS handshake .*failed \\(${reason}\\)`));
        assert.ok(mesh.stats().security.handshakes.failures[reason] >= 1);
        assert.equal(backends[host]!.calls, 0, 'the server never got a call');
      } finally {
        client.close();
        await mesh.close();
      }
    });
  }

  it('refuses an mTLS cluster on a channel without mesh.grpcCredentials() (never plaintext), counted', async () => {
    const mesh = await meshWith(true);
    const client = new EchoClient('xds:///inventory:50051', credentials.createInsecure());
    try {
      const before = backends['inventory']!.peers.get('plaintext') ?? 0;
      const outcome = await callUntil(
        client,
        (o) => o.details?.includes('WEFT_UNSUPPORTED') === true,
      );
      assert.equal(outcome.code, grpcStatus.UNAVAILABLE, JSON.stringify(outcome));
      assert.match(
        outcome.details ?? '',
        /WEFT_UNSUPPORTED: cluster outbound\|50051\|\|inventory requires mTLS .*mesh\.grpcCredentials\(\)/,
      );
      assert.ok(mesh.stats().grpc.callsRefusedNoMeshCredentials >= 1);
      assert.equal(backends['inventory']!.peers.get('plaintext') ?? 0, before);
    } finally {
      client.close();
      await mesh.close();
    }
  });

  it('fails an mTLS cluster with WEFT_TLS_NO_CERTIFICATE when the mesh has no identity', async () => {
    const mesh = await meshWith(false);
    const client = new EchoClient('xds:///inventory:50051', mesh.grpcCredentials());
    try {
      const outcome = await callUntil(
        client,
        (o) => o.details?.includes('WEFT_TLS_NO_CERTIFICATE') === true,
      );
      assert.equal(outcome.code, grpcStatus.UNAVAILABLE, JSON.stringify(outcome));
      assert.match(
        outcome.details ?? '',
        /WEFT_TLS_NO_CERTIFICATE: cluster outbound\|50051\|\|inventory: .*no identity/,
      );
    } finally {
      client.close();
      await mesh.close();
    }
  });

  it('keeps calling across a rotation; the channel reconnects with the new certificate', async function () {
    this.timeout(120_000);
    // The shortest TTL the SDK accepts (1 min): renewal at half-life, about 30 s from now.
    const mesh = await meshWith(true, 60_000);
    const first = await mesh.certificates!.ready();
    const events: TlsHandshakeEvent[] = [];
    const onHandshake = (m: unknown): void => {
      events.push(m as TlsHandshakeEvent);
    };
    subscribe(TLS_HANDSHAKE_CHANNEL, onHandshake);
    const client = new EchoClient('xds:///inventory:50051', mesh.grpcCredentials());
    try {
      assert.equal((await callUntil(client, (o) => o.backend !== undefined)).backend, 'inventory');
      // Calls keep going (5 at a time, ~10 rounds/s) until after the rotation.
      let rotated: string | undefined;
      const off = mesh.certificates!.onChange((m) => {
        rotated = m.serialNumber;
      });
      const outcomes: Outcome[] = [];
      let callsAtRotation = -1;
      while (outcomes.length < 5000) {
        outcomes.push(...(await Promise.all(Array.from({ length: 5 }, () => echoCall(client)))));
        if (rotated !== undefined && callsAtRotation < 0) callsAtRotation = outcomes.length;
        if (callsAtRotation >= 0 && outcomes.length >= callsAtRotation + 100) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      off();
      assert.ok(rotated !== undefined && rotated !== first.serialNumber, 'a rotation happened');
      const failed = outcomes.filter((o) => o.backend !== 'inventory');
      assert.deepEqual(failed, [], `${failed.length}/${outcomes.length} calls failed`);
      const ok = events.filter((e) => e.ok && e.target.includes('inventory'));
      assert.ok(ok.some((e) => e.ownSerialNumber === first.serialNumber));
      assert.ok(
        ok.some((e) => e.ownSerialNumber === rotated),
        'the same channel handshook again with the new certificate',
      );
      assert.equal(
        events.filter((e) => !e.ok).length,
        0,
        JSON.stringify(events.filter((e) => !e.ok)),
      );
      const seen = backends['inventory']!.peers;
      assert.equal(seen.get('plaintext'), undefined);
    } finally {
      unsubscribe(TLS_HANDSHAKE_CHANNEL, onHandshake);
      client.close();
      await mesh.close();
    }
  });
});
