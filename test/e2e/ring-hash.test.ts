// Issue 3 "Must show": with DestinationRule consistentHash on a header (ring_hash), the same
// header value always reaches the same endpoint while the endpoint set is stable — HTTP through
// mesh.fetch and gRPC through a stock grpc-js client on xds:///, against a real control plane.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, type Client } from '@grpc/grpc-js';
import { createMesh, type Mesh } from '@weft/sdk';
import {
  EchoClient,
  startEchoBackend,
  type EchoBackend,
  type EchoResponse,
} from '@weft/example-demo/echo-service';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

function serviceYaml(
  host: string,
  servicePort: number,
  protocol: string,
  ports: readonly number[],
): string {
  return [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: ${servicePort}, name: p, protocol: ${protocol} }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
${ports.map((p) => `    - { address: 127.0.0.1, ports: { p: ${p} }, locality: us-east-1/us-east-1a }`).join('\n')}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: x-user }`,
  ].join('\n---\n');
}

describe('e2e: ring_hash by header (HTTP and gRPC)', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let mesh: Mesh;
  let grpc: Client;
  const http: Server[] = [];
  const echo: EchoBackend[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-ringhash-'));
    for (let i = 0; i < 3; i++) {
      const server = createServer((_req, res) => res.end(`web-${i}`));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      http.push(server);
      echo.push(await startEchoBackend(`echo-${i}`));
    }
    await writeFile(
      join(dir, 'web.yaml'),
      serviceYaml(
        'web',
        8080,
        'HTTP',
        http.map((s) => (s.address() as AddressInfo).port),
      ),
    );
    await writeFile(
      join(dir, 'echo.yaml'),
      serviceYaml(
        'echo',
        50051,
        'GRPC',
        echo.map((b) => b.port),
      ),
    );
    cp = await startControlPlaneProcess(dir);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'ring-client', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    });
    await mesh.ready();
    grpc = new EchoClient('xds:///echo', credentials.createInsecure());
  });

  after(async () => {
    grpc.close();
    await mesh.close();
    await cp.stop();
    for (const s of http) s.close();
    await Promise.all(echo.map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  });

  const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);

  it('sends each x-user to one HTTP endpoint, every time, and spreads users over endpoints', async () => {
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 10; round++) {
      for (const user of users) {
        const body = await (
          await mesh.fetch('http://web:8080/', { headers: { 'x-user': user } })
        ).text();
        seen.set(user, (seen.get(user) ?? new Set()).add(body));
      }
    }
    for (const [user, backends] of seen)
      assert.equal(backends.size, 1, `${user} reached ${[...backends].join(', ')}`);
    assert.ok(
      new Set([...seen.values()].map((b) => [...b][0])).size >= 2,
      'users should spread over endpoints',
    );
  });

  it('sends each x-user to one gRPC endpoint, every time', async () => {
    const call = (user: string): Promise<EchoResponse> =>
      new Promise((resolve, reject) => {
        const md = new Metadata();
        md.set('x-user', user);
        (grpc as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
          grpc,
          { message: 'hi' },
          md,
          { deadline: Date.now() + 10_000 },
          (err: Error | null, res: EchoResponse) => (err ? reject(err) : resolve(res)),
        );
      });
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 10; round++) {
      for (const user of users)
        seen.set(user, (seen.get(user) ?? new Set()).add((await call(user)).backend));
    }
    for (const [user, backends] of seen)
      assert.equal(backends.size, 1, `${user} reached ${[...backends].join(', ')}`);
    assert.ok(
      new Set([...seen.values()].map((b) => [...b][0])).size >= 2,
      'users should spread over endpoints',
    );
  });
});
