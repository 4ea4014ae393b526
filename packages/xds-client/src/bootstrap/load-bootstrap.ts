// Finds and loads the bootstrap the way gRPC does (GRPC_XDS_BOOTSTRAP file, else the inline
// GRPC_XDS_BOOTSTRAP_CONFIG), with Weft's WEFT_BOOTSTRAP first. Spec: gRFC A27 "Bootstrap file".
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/weft-error.js';
import { parseBootstrap } from './parse-bootstrap.js';
import type {
  ResolvedBootstrap,
  ResolvedLocality,
  ResolvedNode,
  ResolvedXdsServer,
} from './resolved-bootstrap.js';

/** Values that replace what the file says, applied after validation (e.g. from CLI flags). */
export interface BootstrapOverrides {
  /** Replaces the given node fields; `locality` is merged key by key. */
  readonly node?: Partial<Omit<ResolvedNode, 'locality'>> & {
    readonly locality?: Partial<ResolvedLocality>;
  };
  /** Replaces the whole server list. */
  readonly xdsServers?: readonly ResolvedXdsServer[];
}

/** Where loadBootstrap looks. */
export interface LoadBootstrapOptions {
  /** A bootstrap file to read; takes precedence over every environment variable. */
  readonly path?: string;
  /** Environment to read WEFT_BOOTSTRAP, GRPC_XDS_BOOTSTRAP, GRPC_XDS_BOOTSTRAP_CONFIG from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly overrides?: BootstrapOverrides;
}

function failure(source: string, path: string, message: string, cause?: unknown): ConfigError {
  const err = new ConfigError(`bootstrap ${source}`, [{ path, message }], 'WEFT_BOOTSTRAP');
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause });
  return err;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw failure(source, '(json)', `invalid JSON: ${(err as Error).message}`, err);
  }
}

function applyOverrides(
  b: ResolvedBootstrap,
  o: BootstrapOverrides | undefined,
): ResolvedBootstrap {
  if (o === undefined) return b;
  const { locality, ...nodeRest } = o.node ?? {};
  return Object.freeze({
    ...b,
    xdsServers: Object.freeze([...(o.xdsServers ?? b.xdsServers)]),
    node: Object.freeze({
      ...b.node,
      ...nodeRest,
      locality: Object.freeze({ ...b.node.locality, ...locality }),
    }),
  });
}

/**
 * Loads and validates the bootstrap. Precedence: `options.path`, then the file named by
 * WEFT_BOOTSTRAP, then by GRPC_XDS_BOOTSTRAP, then the inline JSON of GRPC_XDS_BOOTSTRAP_CONFIG.
 * Throws one ConfigError (code WEFT_BOOTSTRAP) naming the file or variable: when none is set,
 * the file cannot be read, the JSON is invalid, or the content has issues (all listed).
 */
export async function loadBootstrap(
  options: LoadBootstrapOptions = {},
): Promise<ResolvedBootstrap> {
  const env = options.env ?? process.env;
  const file = options.path ?? (env['WEFT_BOOTSTRAP'] || env['GRPC_XDS_BOOTSTRAP'] || undefined);
  let resolved: ResolvedBootstrap;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw failure(file, '(file)', `cannot read (${code})`, err);
    }
    resolved = parseBootstrap(parseJson(text, file), file);
  } else {
    const inline = env['GRPC_XDS_BOOTSTRAP_CONFIG'];
    if (inline === undefined || inline === '') {
      throw failure(
        '(none)',
        '(env)',
        'set WEFT_BOOTSTRAP or GRPC_XDS_BOOTSTRAP to a file, or GRPC_XDS_BOOTSTRAP_CONFIG to JSON',
      );
    }
    const source = 'GRPC_XDS_BOOTSTRAP_CONFIG';
    resolved = parseBootstrap(parseJson(inline, source), source);
  }
  return applyOverrides(resolved, options.overrides);
}
