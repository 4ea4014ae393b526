// Runs every benchmark (`*.bench.js` under bench/dist) one after another, each in its own Node
// process so one benchmark's sockets and heap cannot skew the next. Arguments after `--` (or all
// arguments) are passed to every benchmark. Exits non-zero if any benchmark failed; it is never
// part of the test command (STYLE rule 42).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('.', import.meta.url));

async function findBenchmarks(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findBenchmarks(path)));
    else if (entry.isFile() && entry.name.endsWith('.bench.js')) found.push(path);
  }
  return found.sort();
}

const args = process.argv.slice(2).filter((a) => a !== '--');
const benchmarks = await findBenchmarks(DIST);
if (benchmarks.length === 0) {
  console.error(`no *.bench.js under ${DIST}; run \`pnpm run build\` first`);
  process.exitCode = 1;
}
const failed: string[] = [];
for (const file of benchmarks) {
  const name = relative(DIST, file);
  console.log(`\n=== ${name} ===`);
  const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    failed.push(name);
    console.error(`${name} failed (${signal ?? `exit ${code}`})`);
  }
}
if (failed.length > 0) {
  console.error(
    `\n${failed.length} of ${benchmarks.length} benchmarks failed: ${failed.join(', ')}`,
  );
  process.exitCode = 1;
}
