// Workload self-registration end to end: child processes register an HTTP endpoint with the SDK
// registrar against a real `weft control-plane` process; an xds-client watching EDS sees it join the
// WorkloadEntry endpoints of the same cluster and subset, leave at once on close() or on a crash
// (socket closed), and leave within the lease TTL when the process hangs (SIGSTOP).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  ClusterLoadAssignmentResourceType,
  XdsClient,
  parseBootstrap,
  type ClusterLoadAssignmentUpdate,
} from '@weft/xds-client';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/processes.js';

const CHILD = fileURLToPath(new URL('./registration-child.js', import.meta.url));
const LEASE_TTL_MS = 1500;
const ALL = 'outbound|8080||inventory';
const V2 = 'outbound|8080|v2|inventory';
/** The WorkloadEntry from YAML, in every snapshot of the all-endpoints cluster. */
const STATIC = '127.0.0.2:8080';

const MESH_YAML = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: shop }
spec:
  hosts: [inventory]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: 8080, name: http, protocol: HTTP }
  workloadSelector: { labels: { app: inventory } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: inventory-static, namespace: shop }
spec:
  address: 127.0.0.2
  labels: { app: inventory, version: v1 }
  locality: us-east-1/us-east-1a
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

/** A workload child process (test/sdk/registration-child.ts). */
class Workload {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiter: ((line: string) => void) | undefined;
  #stderr = '';

  constructor(cpAddress: string, version: string, id: string) {
    this.child = spawn(process.execPath, [CHILD, cpAddress, version, id], { stdio: 'pipe' });
    this.child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const w = this.#waiter;
      this.#waiter = undefined;
      if (w !== undefined) w(line);
      else this.#lines.push(line);
    });
  }

  /** The next JSON event line; rejects if the process exits first. */
  async next(): Promise<Record<string, unknown>> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return JSON.parse(queued) as Record<string, unknown>;
    const line = await new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null): void => {
        reject(new Error(`workload exited (${code}) before its next event:\n${this.#stderr}`));
      };
      this.child.once('exit', onExit);
      this.#waiter = (l) => {
        this.child.off('exit', onExit);
        resolve(l);
      };
    });
    return JSON.parse(line) as Record<string, unknown>;
  }

  send(op: string): void {
    this.child.stdin.write(JSON.stringify({ op }) + '\n');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}

/** Watches both clusters and resolves when a predicate over their endpoint sets holds. */
class EdsView {
  readonly current = new Map<string, string[]>();
  #checks: (() => void)[] = [];

  watcher(name: string): {
    onChanged(u: ClusterLoadAssignmentUpdate): void;
    onResourceError(): void;
    onAmbientError(): void;
  } {
    return {
      onChanged: (update) => {
        this.current.set(
          name,
          update.localities
            .flatMap((l) => l.endpoints)
            .map((e) => `${e.address}:${e.port}`)
            .sort(),
        );
        for (const check of [...this.#checks]) check();
      },
      onResourceError: () => undefined,
      onAmbientError: () => undefined,
    };
  }

  /** Resolves with the ms it took until `cluster` has exactly `endpoints`; rejects after `timeoutMs`. */
  async until(cluster: string, endpoints: readonly string[], timeoutMs = 15_000): Promise<number> {
    const started = Date.now();
    const want = JSON.stringify([...endpoints].sort());
    const holds = (): boolean => JSON.stringify(this.current.get(cluster) ?? null) === want;
    if (holds()) return 0;
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#checks = this.#checks.filter((c) => c !== check);
        reject(
          new Error(
            `${cluster}: expected ${want} within ${timeoutMs} ms, have ${JSON.stringify(this.current.get(cluster))}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        if (!holds()) return;
        clearTimeout(timer);
        this.#checks = this.#checks.filter((c) => c !== check);
        resolve(Date.now() - started);
      };
      this.#checks.push(check);
    });
  }
}

describe('sdk: workload self-registration against a weft control-plane process', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let client: XdsClient;
  let eds: EdsView;
  const workloads: Workload[] = [];

  const start = async (version: string, id: string): Promise<{ w: Workload; addr: string }> => {
    const w = new Workload(`127.0.0.1:${cp.xdsPort}`, version, id);
    workloads.push(w);
    const registered = await w.next();
    assert.equal(registered.event, 'registered');
    assert.equal(registered.leaseTtlMs, LEASE_TTL_MS);
    return { w, addr: `127.0.0.1:${String(registered.port)}` };
  };

  const registryOf = async (): Promise<{ registrations: { endpoint: { nodeId: string } }[] }> =>
    (await (await fetch(`http://127.0.0.1:${cp.adminPort}/registry`)).json()) as {
      registrations: { endpoint: { nodeId: string } }[];
    };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-registration-'));
    await writeFile(join(dir, 'inventory.yaml'), MESH_YAML);
    cp = await startControlPlaneProcess(dir, {}, ['--lease-ttl-ms', String(LEASE_TTL_MS)]);
    const type = new ClusterLoadAssignmentResourceType();
    client = new XdsClient({
      bootstrap: parseBootstrap(
        {
          xds_servers: [
            {
              server_uri: `127.0.0.1:${cp.xdsPort}`,
              channel_creds: [{ type: 'insecure' }],
              server_features: ['xds_v3'],
            },
          ],
          node: { id: 'checkout-1', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
        },
        'registration test bootstrap',
      ),
      resourceTypes: [type],
    });
    eds = new EdsView();
    client.watch(type, ALL, eds.watcher(ALL));
    client.watch(type, V2, eds.watcher(V2));
    await eds.until(ALL, [STATIC]);
    await eds.until(V2, []);
  });

  afterEach(async () => {
    for (const w of workloads.splice(0)) {
      if (w.child.signalCode === null && w.child.exitCode === null) w.child.kill('SIGCONT');
      await w.kill();
    }
  });

  after(async () => {
    await client.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a registered endpoint beside the WorkloadEntry, in its subset, and drops it at once on close()', async () => {
    const { w, addr } = await start('v2', 'inventory-a');
    await eds.until(ALL, [STATIC, addr]);
    await eds.until(V2, [addr]);
    assert.deepEqual(
      (await registryOf()).registrations.map((r) => r.endpoint.nodeId),
      ['inventory-a'],
    );
    w.send('close');
    assert.equal((await w.next()).event, 'closed');
    // "At once": the debounced push (100 ms quiet) plus delivery, far below the lease TTL.
    const leftMs = await eds.until(V2, [], LEASE_TTL_MS / 2);
    assert.ok(leftMs < LEASE_TTL_MS / 2, `left EDS after ${leftMs} ms`);
    await eds.until(ALL, [STATIC]);
    // The process is still running: only its registration is gone.
    assert.equal(w.child.exitCode, null);
    assert.deepEqual((await registryOf()).registrations, []);
  });

  it('drops a crashed (SIGKILLed) workload without waiting for the lease TTL: its socket closed', async () => {
    const { w, addr } = await start('v2', 'inventory-b');
    await eds.until(V2, [addr]);
    const killedAt = Date.now();
    await w.kill('SIGKILL');
    await eds.until(V2, [], LEASE_TTL_MS);
    assert.ok(Date.now() - killedAt < LEASE_TTL_MS, 'left before one TTL');
    await eds.until(ALL, [STATIC]);
  });

  it('drops a hung workload (SIGSTOP: socket open, no heartbeats) within the lease TTL, and keeps a live one', async () => {
    const hung = await start('v2', 'inventory-c');
    const live = await start('v2', 'inventory-d');
    await eds.until(V2, [hung.addr, live.addr]);
    const stoppedAt = Date.now();
    hung.w.child.kill('SIGSTOP');
    await eds.until(V2, [live.addr], LEASE_TTL_MS + 2000);
    const elapsedMs = Date.now() - stoppedAt;
    // The last heartbeat went out at most TTL/3 before the stop; allow the debounce and delivery.
    assert.ok(elapsedMs >= LEASE_TTL_MS * (2 / 3) - 50, `left after ${elapsedMs} ms: too early`);
    assert.ok(elapsedMs <= LEASE_TTL_MS + 1000, `left after ${elapsedMs} ms`);
    await eds.until(ALL, [STATIC, live.addr]);
    // The live workload heartbeats: still there after several TTLs.
    await new Promise((r) => setTimeout(r, 2 * LEASE_TTL_MS));
    assert.deepEqual(eds.current.get(V2), [live.addr]);
    const metrics = await (await fetch(`http://127.0.0.1:${cp.adminPort}/metrics`)).text();
    assert.match(metrics, /^weft_cp_registry_expirations_total 1$/m);
    assert.match(metrics, /^weft_cp_registered_endpoints\{service="inventory"\} 1$/m);
    assert.match(cp.log(), /"registry lease expired"/);
  });
});
