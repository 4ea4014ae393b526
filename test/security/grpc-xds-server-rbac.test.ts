// Interop: a grpc-js-xds XdsServer (gRFC A36) reads the inbound Listener a Weft control plane
// builds for its node (namespace from node metadata) and enforces its RBAC filters (gRFC A41):
// the same resource mesh.serve() enforces. PeerAuthentication DISABLE keeps the test plaintext
// (gRPC servers take certificates from certificate providers, not from the mesh CA over SDS).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { EchoClient } from '@weft/example-demo/echo-service';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

const CHILD = fileURLToPath(new URL('./grpc-xds-server-child.js', import.meta.url));

const CONFIG = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: grpcx }
spec:
  mtls: { mode: DISABLE }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: echo-with-header, namespace: grpcx }
spec:
  rules:
    - to: [{ operation: { paths: ['/weft.test.Echo/*'] } }]
      when: [{ key: 'request.headers[x-allow]', values: ['yes'] }]
`;

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('grpc-js-xds XdsServer with a Weft inbound Listener', function () {
  this.timeout(60_000);
  let dir = '';
  let cp: ControlPlaneProcess | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  let port = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-xds-server-'));
    await writeFile(join(dir, 'mesh.yaml'), CONFIG);
    cp = await startControlPlaneProcess(dir);
    port = await freePort();
    child = spawn(process.execPath, [CHILD, String(cp.xdsPort), String(port), 'grpcx'], {
      stdio: 'pipe',
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    assert.equal(line, 'bound', stderr);
  });

  after(async () => {
    if (child !== undefined && child.exitCode === null) {
      child.stdin.end();
      await once(child, 'exit');
    }
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function echo(allow: boolean): Promise<number> {
    const client = new EchoClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const md = new Metadata();
    if (allow) md.set('x-allow', 'yes');
    return new Promise((resolve) => {
      (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
        client,
        { message: 'hi' },
        md,
        { deadline: Date.now() + 5_000 },
        (err: ServiceError | null) => {
          client.close();
          resolve(err === null ? GrpcStatus.OK : err.code);
        },
      );
    });
  }

  it('serves once the Listener arrives and allows what the policy allows', async () => {
    const ok: number = GrpcStatus.OK;
    let code = -1;
    // The server refuses connections until its Listener is in force.
    for (let i = 0; i < 50 && code !== ok; i++) {
      code = await echo(true);
      if (code !== ok) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(code, GrpcStatus.OK);
  });

  it('denies a call the policy does not allow (PERMISSION_DENIED), with no NACK', async () => {
    assert.equal(await echo(false), GrpcStatus.PERMISSION_DENIED);
    const res = await fetch(
      `http://127.0.0.1:${cp!.adminPort}/config_dump?node=grpc-xds-server-grpcx`,
    );
    const text = await res.text();
    assert.ok(text.includes('grpc/server?xds.resource.listening_address='), text.slice(0, 500));
    assert.ok(!text.includes('NACKED'), text.slice(0, 2000));
  });
});
