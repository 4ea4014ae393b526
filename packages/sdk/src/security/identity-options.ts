// createMesh's `identity` option (the workload's SPIFFE certificate from the mesh CA) and its
// environment defaults, validated once into a frozen ResolvedIdentityOptions (STYLE rules 15-17).
import type { ConfigIssue } from '@weft/xds-client';

/** Env variable: the join token (`weft cert token`). */
export const WEFT_JOIN_TOKEN_ENV = 'WEFT_JOIN_TOKEN' as const;
/** Env variable: a file holding the join token (re-read before every certificate request). */
export const WEFT_JOIN_TOKEN_FILE_ENV = 'WEFT_JOIN_TOKEN_FILE' as const;
/** The CA's shortest certificate lifetime (control plane `MIN_CERTIFICATE_TTL_MS`). */
export const MIN_IDENTITY_TTL_MS = 60_000;
/** Default of `IdentityOptions.readyTimeoutMs`. */
export const DEFAULT_IDENTITY_READY_TIMEOUT_MS = 15_000;

/**
 * The workload's identity: a SPIFFE certificate `spiffe://TD/ns/NAMESPACE/sa/SERVICE_ACCOUNT`
 * from the mesh CA, for mTLS. The key is generated in this process and never leaves it; the
 * join token proves the service account. Default: from `WEFT_JOIN_TOKEN` / `WEFT_JOIN_TOKEN_FILE`,
 * else none (then a cluster that asks for mTLS fails its requests with WEFT_TLS_NO_CERTIFICATE).
 */
export interface IdentityOptions {
  /** The join token from `weft cert token`. Not together with `tokenFile`. */
  readonly token?: string;
  /** A file holding the join token; re-read before each request, so it can be refreshed. */
  readonly tokenFile?: string;
  /**
   * Requested certificate lifetime in ms (at least 60000, the CA's minimum). Default: the mesh
   * default (MeshConfig `defaults.certificateTtl`, 24 h unless set).
   */
  readonly ttlMs?: number;
  /** How long `certificates.ready()` waits for the first certificate, in ms. Default 15000. */
  readonly readyTimeoutMs?: number;
}

/** Validated `identity`. */
export interface ResolvedIdentityOptions {
  readonly token:
    | { readonly kind: 'inline'; readonly value: string }
    | {
        readonly kind: 'file';
        readonly path: string;
      };
  /** 0: the CA's default. */
  readonly ttlMs: number;
  readonly readyTimeoutMs: number;
}

const IDENTITY_KEYS = new Set(['token', 'tokenFile', 'ttlMs', 'readyTimeoutMs']);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `identity` (or `false`), else WEFT_JOIN_TOKEN / WEFT_JOIN_TOKEN_FILE; undefined: no identity. */
export function resolveIdentityOptions(
  input: unknown,
  env: Readonly<Record<string, unknown>>,
  issues: ConfigIssue[],
): ResolvedIdentityOptions | undefined {
  if (input === false) return undefined;
  if (
    input !== undefined &&
    (typeof input !== 'object' || input === null || Array.isArray(input))
  ) {
    issues.push({ path: 'identity', message: `expected object or false, got ${typeName(input)}` });
    return undefined;
  }
  const o = (input ?? {}) as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(o))
    if (!IDENTITY_KEYS.has(key)) issues.push({ path: `identity.${key}`, message: 'unknown field' });
  const text = (v: unknown, path: string): string | undefined => {
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') {
      issues.push({ path, message: `expected a non-empty string, got ${typeName(v)}` });
      return undefined;
    }
    return v.trim();
  };
  const ms = (v: unknown, path: string, min: number, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      issues.push({
        path,
        message: `expected a number of ms >= ${min}, got ${typeof v === 'number' ? v : typeName(v)}`,
      });
      return fallback;
    }
    return v;
  };
  const token = text(o['token'], 'identity.token');
  const tokenFile = text(o['tokenFile'], 'identity.tokenFile');
  if (token !== undefined && tokenFile !== undefined)
    issues.push({ path: 'identity.tokenFile', message: 'give token or tokenFile, not both' });
  const envToken = text(env[WEFT_JOIN_TOKEN_ENV], `env.${WEFT_JOIN_TOKEN_ENV}`);
  const envFile = text(env[WEFT_JOIN_TOKEN_FILE_ENV], `env.${WEFT_JOIN_TOKEN_FILE_ENV}`);
  const ttlMs = ms(o['ttlMs'], 'identity.ttlMs', MIN_IDENTITY_TTL_MS, 0);
  const readyTimeoutMs = ms(
    o['readyTimeoutMs'],
    'identity.readyTimeoutMs',
    1,
    DEFAULT_IDENTITY_READY_TIMEOUT_MS,
  );
  const chosen =
    token !== undefined
      ? ({ kind: 'inline', value: token } as const)
      : tokenFile !== undefined
        ? ({ kind: 'file', path: tokenFile } as const)
        : envToken !== undefined
          ? ({ kind: 'inline', value: envToken } as const)
          : envFile !== undefined
            ? ({ kind: 'file', path: envFile } as const)
            : undefined;
  if (chosen === undefined) {
    if (input !== undefined)
      issues.push({
        path: 'identity.token',
        message: `required: token or tokenFile (or ${WEFT_JOIN_TOKEN_ENV} / ${WEFT_JOIN_TOKEN_FILE_ENV})`,
      });
    return undefined;
  }
  return Object.freeze({ token: Object.freeze(chosen), ttlMs, readyTimeoutMs });
}
