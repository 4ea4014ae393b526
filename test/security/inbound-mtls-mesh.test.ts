// Inbound meets outbound: workloads with real identities (join tokens → the control plane's own
// CA → SPIFFE certificates from the SDK's certificate agent) talk mesh to mesh. The server's
// namespace is STRICT and allows one principal; a client with that identity gets 200 over mTLS
// (ISTIO_MUTUAL), another identity gets 403 RBAC, a plaintext client is refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';
import { joinToken } from '../helpers/mesh-pki.js';

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: shop }
spec:
  hosts: [inventory]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: inventory }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec:
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: web-only, namespace: shop }
spec:
  selector: { matchLabels: { app: inventory } }
  rules:
    - from: [{ source: { principals: [cluster.local/ns/front/sa/web] } }]
`;

describe('mesh to mesh: STRICT + AuthorizationPolicy with certificates from the mesh CA', function () {
  this.timeout(60_000);
  let dir = '';
  let cp: ControlPlaneProcess | undefined;
  const meshes: Mesh[] = [];
  let served: MeshServer | undefined;

  async function meshFor(
    namespace: string,
    sa: string,
    labels: Record<string, string> = {},
  ): Promise<Mesh> {
    const mesh = await createMesh({
      controlPlane: `127.0.0.1:${cp!.xdsPort}`,
      node: { id: `${namespace}-${sa}`, locality: { region: 'r', zone: 'z' } },
      workload: { name: sa, namespace, serviceAccount: sa, labels },
      identity: { token: joinToken(cp!.caDir, namespace, sa) },
      env: {},
    });
    meshes.push(mesh);
    await mesh.ready();
    await mesh.certificates!.ready();
    return mesh;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-inbound-mtls-'));
    await writeFile(join(dir, 'mesh.yaml'), CONFIG);
    cp = await startControlPlaneProcess(dir);
    const server = await meshFor('shop', 'inventory', { app: 'inventory' });
    served = await server.serve((_req, res) => res.end('stock'), {
      service: 'inventory',
      port: 0,
      servicePort: 8080,
      drainMs: 0,
    });
  });

  after(async () => {
    for (const m of meshes) await m.close();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function get(mesh: Mesh): Promise<number> {
    for (let i = 0; ; i++) {
      try {
        const res = await request('http://inventory:8080/items', { dispatcher: mesh.dispatcher });
        await res.body.text();
        return res.statusCode;
      } catch (err) {
        // The endpoint may not be in EDS yet right after registration.
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it('allows the principal the policy names, over mTLS', async () => {
    const web = await meshFor('front', 'web');
    assert.equal(await get(web), 200);
  });

  it('denies another mesh identity with 403 RBAC', async () => {
    const robot = await meshFor('front', 'robot');
    assert.equal(await get(robot), 403);
    const rbac = meshes[0]!.stats().inboundSecurity.rbac;
    assert.ok(rbac.some((d) => d.action === 'ALLOW' && d.result === 'denied' && d.policy === ''));
  });

  it('refuses a plaintext client (STRICT)', async () => {
    await assert.rejects(request(`http://127.0.0.1:${served!.port}/items`));
    assert.ok((meshes[0]!.stats().inboundSecurity.handshakeFailures.plaintext_rejected ?? 0) >= 1);
  });
});
