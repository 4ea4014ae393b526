// Issue 3 "Must show": inventory in us-east-1 and us-west-2 (real processes that join the mesh
// with createMesh and register themselves), checkout in us-east-1 (this process). Calls stay
// local; stopping the local inventory moves them to us-west-2 with zero failed calls; starting it
// again brings them back. HTTP (mesh.fetch) and gRPC (a stock grpc-js client on xds:///) alike.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { credentials, type Client } from '@grpc/grpc-js';
import { createMesh, type Mesh } from '@weft/sdk';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';
import { LOCALITY_FAILOVER_YAML } from '../helpers/sdk-fixtures.js';

const APP = fileURLToPath(new URL('./inventory-app.js', import.meta.url));

const MESH_YAML = LOCALITY_FAILOVER_YAML;

interface App {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  stop(): Promise<void>;
}

async function startApp(
  controlPlane: string,
  name: string,
  region: string,
  zone: string,
): Promise<App> {
  const child = spawn(process.execPath, [APP, controlPlane, name, region, zone], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${name} exited (${code}) before serving:\n${stderr}`)),
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"serving"')) resolve();
    });
  });
  const exited = once(child, 'exit');
  return {
    name,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, `${name} did not stop cleanly:\n${stderr}`);
    },
  };
}

function grpcCall(client: Client): Promise<EchoResponse> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
      client,
      { message: 'hi' },
      { deadline: Date.now() + 5000 },
      (err: Error | null, res: EchoResponse) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** Calls in a loop (one in flight per protocol) until stopped; records who answered, in order. */
class Load {
  readonly http: string[] = [];
  readonly grpc: string[] = [];
  readonly failures: string[] = [];
  #running = true;
  readonly #done: Promise<unknown>;

  constructor(mesh: Mesh, client: Client) {
    const httpLoop = async (): Promise<void> => {
      while (this.#running) {
        try {
          const res = await mesh.fetch('http://inventory:8080/stock');
          this.http.push(((await res.json()) as { backend: string }).backend);
        } catch (err) {
          this.failures.push(`http: ${String((err as Error).cause ?? err)}`);
        }
      }
    };
    const grpcLoop = async (): Promise<void> => {
      while (this.#running) {
        try {
          this.grpc.push((await grpcCall(client)).backend);
        } catch (err) {
          this.failures.push(`grpc: ${(err as Error).message}`);
        }
      }
    };
    this.#done = Promise.all([httpLoop(), grpcLoop()]);
  }

  /** Resolves when both protocols' last `n` answers came from `backend` (bounded wait). */
  async until(backend: string, n: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const settled = (xs: string[]): boolean =>
      xs.length >= n && xs.slice(-n).every((x) => x === backend);
    while (!(settled(this.http) && settled(this.grpc))) {
      if (Date.now() > deadline) {
        throw new Error(
          `traffic did not settle on ${backend}: http …${this.http.slice(-5).join(',')}; grpc …${this.grpc.slice(-5).join(',')}; failures ${this.failures.length}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

describe('e2e: locality-aware routing and failover (HTTP and gRPC, real processes)', function () {
  this.timeout(90_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let east: App | undefined;
  let west: App;
  let checkout: Mesh;
  let grpc: Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-failover-'));
    await writeFile(join(dir, 'inventory.yaml'), MESH_YAML);
    cp = await startControlPlaneProcess(dir);
    const controlPlane = `127.0.0.1:${cp.xdsPort}`;
    [east, west] = await Promise.all([
      startApp(controlPlane, 'inventory-east', 'us-east-1', 'us-east-1a'),
      startApp(controlPlane, 'inventory-west', 'us-west-2', 'us-west-2a'),
    ]);
    checkout = await createMesh({
      controlPlane,
      node: { id: 'checkout-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      workload: { name: 'checkout', namespace: 'default' },
    });
    await checkout.ready();
    grpc = new EchoClient('xds:///inventory:9090', credentials.createInsecure());
    // Registrations reach EDS after the control plane's debounce: wait (bounded) until both
    // protocols have an answer before measuring anything.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await (await checkout.fetch('http://inventory:8080/stock')).text();
        await grpcCall(grpc);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  after(async () => {
    grpc.close();
    await checkout.close();
    await Promise.allSettled([east?.stop(), west.stop()]);
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every call local while the local inventory is up', async () => {
    const load = new Load(checkout, grpc);
    await load.until('inventory-east', 50);
    const [httpBefore, grpcBefore] = [load.http.length, load.grpc.length];
    await load.until('inventory-east', 200);
    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.ok(load.http.slice(httpBefore).every((b) => b === 'inventory-east'));
    assert.ok(load.grpc.slice(grpcBefore).every((b) => b === 'inventory-east'));
  });

  it('moves to us-west-2 with zero failed calls when the local inventory stops, and back when it returns', async () => {
    const load = new Load(checkout, grpc);
    await load.until('inventory-east', 20);
    await east!.stop();
    east = undefined;
    await load.until('inventory-west', 100);
    const servedByWest = { http: load.http.length, grpc: load.grpc.length };

    east = await startApp(`127.0.0.1:${cp.xdsPort}`, 'inventory-east', 'us-east-1', 'us-east-1a');
    await load.until('inventory-east', 100);
    await load.stop();

    assert.deepEqual(load.failures, [], 'no call may fail over the switch');
    assert.ok(servedByWest.http > 100 && servedByWest.grpc > 100);
    assert.ok(load.http.includes('inventory-west') && load.grpc.includes('inventory-west'));
  });
});
