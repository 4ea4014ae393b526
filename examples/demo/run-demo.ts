// The quick-start demo: a real `weft control-plane` process serves Istio YAML; gRPC's own
// proxyless client (@grpc/grpc-js-xds, unmodified) routes `xds:///inventory` through it. Shows a
// weighted split, a header match, a live YAML edit, a rejected broken edit and `weft status`.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Metadata, credentials, type Client } from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { runCli } from '@weft/cli';
import { EchoClient, startEchoBackend, type EchoResponse } from './echo-service.js';
import { echoMeshYaml } from './mesh-yaml.js';
import { runObservabilityDemo } from './observability-demo.js';
import { runSdkDemo } from './sdk-demo.js';
import { runResilienceDemo } from './resilience-demo.js';
import { runSecurityDemo } from './security-demo.js';

const require = createRequire(import.meta.url);
const WEFT_BIN = join(dirname(require.resolve('@weft/cli/package.json')), 'dist/src/bin/weft.js');
const WORK_DIR = join(process.cwd(), '.weft-demo');
const CONFIG_DIR = join(WORK_DIR, 'config');

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function callMany(
  client: Client,
  n: number,
  headers: Record<string, string> = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const call = (): Promise<EchoResponse> =>
    new Promise((resolve, reject) => {
      (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
        client,
        { message: 'demo' },
        metadata,
        { deadline: Date.now() + 5000 },
        (err: Error | null, res: EchoResponse) => (err ? reject(err) : resolve(res)),
      );
    });
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(10, n - i) }, call));
    for (const r of batch) {
      const key =
        r.status === 'fulfilled' ? r.value.backend : `error: ${(r.reason as Error).message}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

async function configVersion(admin: string): Promise<number> {
  return ((await (await fetch(`${admin}/config`)).json()) as { version: number }).version;
}

function percentages(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.entries(counts)
    .sort()
    .map(([k, v]) => `${k} ${((100 * v) / total).toFixed(1)}%`)
    .join(', ');
}

async function main(): Promise<void> {
  await rm(WORK_DIR, { recursive: true, force: true });
  await mkdir(CONFIG_DIR, { recursive: true });

  const v1 = await startEchoBackend('inventory-v1');
  const v2 = await startEchoBackend('inventory-v2');
  say(`1. inventory backends: v1 on 127.0.0.1:${v1.port}, v2 on 127.0.0.1:${v2.port}`);

  const yaml = (weights: Record<string, number>): string =>
    echoMeshYaml({
      host: 'inventory',
      servicePort: 8080,
      workloads: [
        { name: 'inventory-v1', port: v1.port, version: 'v1', locality: 'us-east-1/us-east-1a' },
        { name: 'inventory-v2', port: v2.port, version: 'v2', locality: 'us-east-1/us-east-1a' },
      ],
      weights,
      premiumSubset: 'v2',
    });
  const configFile = join(CONFIG_DIR, 'inventory.yaml');
  await writeFile(configFile, yaml({ v1: 90, v2: 10 }));
  say(
    `2. mesh config (Istio YAML) written to ${configFile}: 90/10 split v1/v2, x-user-type: premium → v2`,
  );

  const cp = spawn(
    process.execPath,
    [
      WEFT_BIN,
      'control-plane',
      '--config',
      CONFIG_DIR,
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      '--ca-dir',
      join(WORK_DIR, 'ca'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let cpLog = '';
  cp.stderr.on('data', (c: Buffer) => (cpLog += c.toString()));
  const ports = await new Promise<{ xdsPort: number; adminPort: number }>((resolve, reject) => {
    cp.once('exit', (code) => reject(new Error(`control plane exited (${code}):\n${cpLog}`)));
    createInterface({ input: cp.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { event: string; xdsPort: number; adminPort: number };
      if (msg.event === 'listening') resolve(msg);
    });
  });
  const admin = `http://127.0.0.1:${ports.adminPort}`;
  say(
    `3. weft control-plane (pid ${cp.pid}) serving xDS on 127.0.0.1:${ports.xdsPort}, admin on ${admin}`,
  );

  const bootstrapFile = join(WORK_DIR, 'bootstrap.json');
  const code = await runCli(
    [
      'bootstrap',
      '--xds-server',
      `127.0.0.1:${ports.xdsPort}`,
      '--node-id',
      'checkout-1',
      '--region',
      'us-east-1',
      '--zone',
      'us-east-1a',
      '--out',
      bootstrapFile,
    ],
    {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      stopSignal: new Promise(() => undefined),
    },
  );
  if (code !== 0) throw new Error('weft bootstrap failed');
  process.env['GRPC_XDS_BOOTSTRAP'] = bootstrapFile;
  grpcXds.register();
  const client = new EchoClient('xds:///inventory', credentials.createInsecure());
  say(`4. gRPC's own proxyless client (@grpc/grpc-js-xds) bootstrapped from ${bootstrapFile}`);

  say(`   200 calls to xds:///inventory            → ${percentages(await callMany(client, 200))}`);
  say(
    `   20 calls with x-user-type: premium       → ${percentages(await callMany(client, 20, { 'x-user-type': 'premium' }))}`,
  );

  await writeFile(configFile, yaml({ v1: 50, v2: 50 }));
  say('5. edited the YAML to a 50/50 split while the client is connected');
  let counts: Record<string, number> = {};
  for (let i = 0; i < 50; i++) {
    counts = await callMany(client, 200);
    if ((counts['inventory-v1'] ?? 0) < 150) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`   200 calls to xds:///inventory            → ${percentages(counts)}`);

  const good = await readFile(configFile, 'utf8');
  await writeFile(
    configFile,
    good.replace(/weight: 50\n/, 'weight: 50\n          retries: {attempts: 3}\n'),
  );
  say('6. a broken edit: retries placed inside a route destination…');
  let rejection: { issues?: string[] } | null | undefined;
  for (let i = 0; i < 100 && (rejection === undefined || rejection === null); i++) {
    await new Promise((r) => setTimeout(r, 100));
    rejection = (
      (await (await fetch(`${admin}/config`)).json()) as { lastRejection?: { issues?: string[] } }
    ).lastRejection;
  }
  say(`   rejected by the control plane (${admin}/config):`);
  for (const issue of rejection?.issues ?? [])
    say(`     ${typeof issue === 'string' ? issue : JSON.stringify(issue)}`);
  say(
    `   and the last good config keeps serving: 200 calls → ${percentages(await callMany(client, 200))}`,
  );

  say('7. weft status:');
  await runCli(['status', '--admin', admin], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stopSignal: new Promise(() => undefined),
  });

  client.close();
  // Put the good config back (the broken edit is still on disk) before the SDK part.
  const appliedBefore = await configVersion(admin);
  await writeFile(configFile, good);
  for (let i = 0; i < 100 && (await configVersion(admin)) === appliedBefore; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await runSdkDemo(`127.0.0.1:${ports.xdsPort}`, CONFIG_DIR, say);
  await runResilienceDemo(`127.0.0.1:${ports.xdsPort}`, CONFIG_DIR, say);
  const caDir = join(WORK_DIR, 'ca');
  await runSecurityDemo(
    `127.0.0.1:${ports.xdsPort}`,
    admin,
    CONFIG_DIR,
    async (sa) =>
      (
        await captureCli(['cert', 'token', '--ns', 'default', '--sa', sa, '--ca-dir', caDir])
      ).trim(),
    (workload) => captureCli(['cert', 'inspect', '--workload', workload, '--admin', admin]),
    say,
  );

  await runObservabilityDemo(`127.0.0.1:${ports.xdsPort}`, CONFIG_DIR, say);

  cp.kill('SIGTERM');
  await new Promise((r) => cp.once('exit', r));
  await Promise.all([v1.close(), v2.close()]);
  say('done.');
  process.exit(0);
}

/** Runs `weft ARGS` in-process and returns its standard output (throws with stderr on failure). */
async function captureCli(args: readonly string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: { write: (chunk: string) => (out += chunk) },
    stderr: { write: (chunk: string) => (err += chunk) },
    env: process.env,
    stopSignal: new Promise(() => undefined),
  });
  if (code !== 0) throw new Error(`weft ${args.join(' ')} exited ${code}: ${err}`);
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(
    `demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
