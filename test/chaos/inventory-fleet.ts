// The chaos test's inventory instances: real child processes (test/e2e/inventory-app.ts) that
// join the mesh with createMesh and register through mesh.serve; each can be stopped gracefully
// (SIGTERM) or killed outright (SIGKILL, no deregistration: the control plane learns it from the
// closed registry stream).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('../e2e/inventory-app.js', import.meta.url));

/** Where an instance runs and how it behaves. */
export interface InstanceSpec {
  readonly name: string;
  readonly region: string;
  readonly zone: string;
  /** Share of HTTP requests answered 503 (0 = healthy). */
  readonly http503Ratio?: number;
}

/** One running inventory process. */
export interface InventoryInstance {
  readonly spec: InstanceSpec;
  readonly child: ChildProcessWithoutNullStreams;
  /** The HTTP port it serves and registered (its EDS endpoint is 127.0.0.1:httpPort). */
  readonly httpPort: number;
  /** SIGKILL: no goodbye, sockets closed by the kernel. Resolves on exit. */
  kill(): Promise<void>;
  /** SIGTERM (deregister, drain, close) and wait for the exit; fails on a non-zero exit code. */
  stop(): Promise<void>;
}

/** Spawns an instance and resolves once it printed its "serving" line (registered). */
export async function startInstance(
  controlPlane: string,
  spec: InstanceSpec,
): Promise<InventoryInstance> {
  const child = spawn(process.execPath, [APP, controlPlane, spec.name, spec.region, spec.zone], {
    stdio: 'pipe',
    env: { ...process.env, INVENTORY_HTTP_503_RATIO: String(spec.http503Ratio ?? 0) },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const httpPort = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`${spec.name} exited (${code}) before serving:\n${stderr}`));
    };
    child.once('exit', onExit);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('"serving"')) return;
      child.off('exit', onExit);
      resolve((JSON.parse(line) as { httpPort: number }).httpPort);
    });
  });
  return {
    spec,
    child,
    httpPort,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code, signal] = await exited;
      if (signal === 'SIGKILL') return;
      if (code !== 0) throw new Error(`${spec.name} did not stop cleanly (${code}):\n${stderr}`);
    },
  };
}
