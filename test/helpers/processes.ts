// Real processes for cross-package tests: the `weft` CLI (control plane) and the grpc-js-xds
// driver. Each helper waits for a readiness line instead of sleeping.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Absolute path of the built `weft` CLI entry point. */
export const WEFT_BIN = fileURLToPath(
  new URL('../../../packages/cli/dist/src/bin/weft.js', import.meta.url),
);
const DRIVER = fileURLToPath(new URL('../interop/grpc-xds-driver.js', import.meta.url));

/** A `weft control-plane` child process. */
export interface ControlPlaneProcess {
  readonly xdsPort: number;
  /** The mTLS xDS port (null with --no-ca). */
  readonly xdsTlsPort: number | null;
  readonly adminPort: number;
  /** The process's own temporary mesh CA directory (WEFT_CA_DIR), removed when it exits. */
  readonly caDir: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything the process wrote to stderr (its JSON log lines). */
  readonly log: () => string;
  /** SIGTERM, then wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<void>;
}

/** Runs `weft control-plane --config DIR` with ephemeral ports (or the given ones) and waits until it listens. */
export async function startControlPlaneProcess(
  configDir: string,
  ports: { xdsPort?: number; adminPort?: number } = {},
  extraArgs: readonly string[] = [],
): Promise<ControlPlaneProcess> {
  // The mesh CA's directory defaults to ~/.weft/ca: each process gets its own temporary one.
  const caDir = mkdtempSync(join(tmpdir(), 'weft-ca-'));
  const removeCaDir = (): void => {
    rmSync(caDir, { recursive: true, force: true });
  };
  const child = spawn(
    process.execPath,
    [
      WEFT_BIN,
      'control-plane',
      '--config',
      configDir,
      '--xds-port',
      String(ports.xdsPort ?? 0),
      '--admin-port',
      String(ports.adminPort ?? 0),
      '--log-level',
      'debug',
      ...extraArgs,
    ],
    { stdio: 'pipe', env: { ...process.env, WEFT_CA_DIR: caDir } },
  );
  child.once('exit', removeCaDir);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const listening = await new Promise<{
    xdsPort: number;
    xdsTlsPort: number | null;
    adminPort: number;
  }>((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`weft control-plane exited with ${code} before listening:\n${stderr}`));
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as {
          event?: string;
          xdsPort: number;
          xdsTlsPort: number | null;
          adminPort: number;
        };
        if (msg.event === 'listening') {
          child.off('exit', onExit);
          resolve(msg);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  return {
    ...listening,
    caDir,
    child,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Result of a batch of calls made by the grpc-js-xds driver. */
export interface DriverResult {
  readonly counts: Record<string, number>;
  readonly errors: Record<string, number>;
}

/** A grpc-js-xds client process, bootstrapped from a file. */
export interface GrpcXdsDriver {
  calls(cmd: {
    target: string;
    n: number;
    metadata?: Record<string, string>;
    deadlineMs?: number;
    concurrency?: number;
    /** grpc-js-xds's XdsChannelCredentials (xDS mTLS) instead of insecure credentials. */
    xdsCredentials?: boolean;
  }): Promise<DriverResult>;
  close(): Promise<void>;
}

/** Starts the driver with GRPC_XDS_BOOTSTRAP pointing at `bootstrapPath`. */
export function startGrpcXdsDriver(bootstrapPath: string): GrpcXdsDriver {
  const child = spawn(process.execPath, [DRIVER], {
    stdio: 'pipe',
    env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrapPath },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const exited = once(child, 'exit');
  return {
    calls: (cmd) =>
      new Promise((resolve, reject) => {
        const onExit = (): void => {
          reject(new Error(`grpc-js-xds driver exited:\n${stderr}`));
        };
        child.once('exit', onExit);
        waiting.push((line) => {
          child.off('exit', onExit);
          const parsed = JSON.parse(line) as DriverResult & { fatal?: string };
          if (parsed.fatal !== undefined) reject(new Error(parsed.fatal));
          else resolve(parsed);
        });
        child.stdin.write(JSON.stringify({ op: 'calls', ...cmd }) + '\n');
      }),
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. For real-time waits on other processes only. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Replaces a config file the way careful editors and ConfigMap updates do: write a temporary
 * file beside it, then rename over it. A watcher never sees a half-written (e.g. empty) file,
 * which would be a valid, empty mesh.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const { rename, writeFile } = await import('node:fs/promises');
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
