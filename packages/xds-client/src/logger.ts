// The logger interface every package takes as an option; no `console` in src. (STYLE rule 29.)

/** Structured fields attached to one log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger. Implementations must not throw. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Discards everything; the default for libraries embedded in user processes. */
export const silentLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A logger that writes one JSON object per line to a stream (stderr by default), for processes
 * (control plane, sidecar, CLI). `component` names the emitter in every line.
 */
export function createJsonLogger(options: {
  component: string;
  level?: LogLevel;
  stream?: { write(chunk: string): unknown };
  now?: () => number;
}): Logger {
  const min = LEVEL_ORDER[options.level ?? 'info'];
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date().getTime());
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVEL_ORDER[level] < min) return;
    try {
      stream.write(
        JSON.stringify({
          time: new Date(now()).toISOString(),
          level,
          component: options.component,
          msg: message,
          ...fields,
        }) + '\n',
      );
    } catch {
      // A logger never throws into its caller.
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
