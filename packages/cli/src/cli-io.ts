// The CLI's view of the outside world (streams, env, exit), injected so commands run in tests.

/** Where a command writes and what it reads; `process` in production. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  /** Standard input, for commands that read `-`; absent: such commands refuse `-`. */
  readonly stdin?: AsyncIterable<string | Buffer>;
  /** Resolves when the user asks a long-running command to stop (SIGINT/SIGTERM). */
  readonly stopSignal: Promise<string>;
}

/** A command's result: the process exit code. */
export type ExitCode = number;
