#!/usr/bin/env node
// Entry point of the `weft` command: wires process streams and signals into runCli.
import { runCli } from '../run-cli.js';

const stopSignal = new Promise<string>((resolve) => {
  process.once('SIGINT', () => {
    resolve('SIGINT');
  });
  process.once('SIGTERM', () => {
    resolve('SIGTERM');
  });
});

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // Lazy: touching process.stdin opens it, which only `weft cert inspect -` needs.
  get stdin() {
    return process.stdin;
  },
  env: process.env,
  stopSignal,
}).then(
  (code) => {
    process.exitCode = code;
    // Long-running commands have closed their servers; exit even if a stray handle lingers.
    if (code !== 0 || process.argv[2] === 'control-plane') process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(
      `weft: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
