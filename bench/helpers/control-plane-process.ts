// Runs `weft control-plane` as a child process for benchmarks and reads its memory and metrics.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Absolute path of the built `weft` CLI. */
export const WEFT_BIN = fileURLToPath(
  new URL('../../../packages/cli/dist/src/bin/weft.js', import.meta.url),
);

/** A running control-plane process. */
export interface ControlPlaneProcess {
  readonly pid: number;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Everything written to stderr so far (JSON log lines). */
  readonly log: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `weft control-plane --config DIR` on ephemeral ports and waits for its `listening` line. */
export async function startControlPlaneProcess(
  configDir: string,
  timeoutMs = 15_000,
): Promise<ControlPlaneProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [
      WEFT_BIN,
      'control-plane',
      '--config',
      configDir,
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const listening = await new Promise<{ xdsPort: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft control-plane did not listen within ${timeoutMs}ms:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft control-plane exited with ${code} before listening:\n${stderr}`));
    });
    lines.on('line', (line) => {
      let msg: { event?: string; xdsPort?: number; adminPort?: number };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return; // not a JSON line
      }
      if (msg.event === 'listening' && msg.xdsPort !== undefined && msg.adminPort !== undefined) {
        clearTimeout(timer);
        resolve({ xdsPort: msg.xdsPort, adminPort: msg.adminPort });
      }
    });
  });
  return {
    pid: child.pid!,
    ...listening,
    log: () => stderr,
    stop: async (graceMs = 5_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a Linux process in bytes (VmRSS of /proc/PID/status). */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Sum of every sample of `metric` in the admin `/metrics` text (Prometheus exposition), or
 * undefined when the endpoint or the metric does not exist.
 */
export async function readMetricSum(
  adminPort: number,
  metric: string,
): Promise<number | undefined> {
  let text: string;
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
    if (!res.ok) return undefined;
    text = await res.text();
  } catch {
    return undefined;
  }
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    // `name{labels} value [timestamp]`
    const afterLabels = rest[0] === '{' ? rest.slice(rest.lastIndexOf('}') + 1) : rest;
    const value = Number(afterLabels.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
