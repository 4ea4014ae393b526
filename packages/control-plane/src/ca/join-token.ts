// Join tokens: the credential an operator issues for one service account (`weft cert token`) and
// a workload presents when it asks the mesh CA for a certificate. JWT compact form, HS256 with a
// key held in the CA directory (RFC 7519 / RFC 7515 §3.1).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The claims of a join token. */
export interface JoinTokenClaims {
  /** Token id (`jti`): names the token in logs without revealing it. */
  readonly id: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Issued at, ms since the epoch (carried in seconds). */
  readonly issuedAtMs: number;
  /** Expiry, ms since the epoch (carried in seconds). */
  readonly expiresAtMs: number;
}

/** Why a token was not accepted. */
export type JoinTokenProblem = 'malformed-token' | 'forged-token' | 'expired-token';

/** The result of {@link verifyJoinToken}. */
export type JoinTokenVerification =
  | { readonly ok: true; readonly claims: JoinTokenClaims }
  | {
      readonly ok: false;
      readonly reason: JoinTokenProblem;
      readonly message: string;
      /** The token's id when its payload could be read (never trusted for anything but logs). */
      readonly id: string;
    };

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Kubernetes-style name check for a namespace or service account; returns a problem or null. */
export function checkIdentityName(field: string, value: string): string | null {
  if (value.length === 0 || value.length > 253 || !NAME_RE.test(value))
    return `${field}: expected a lowercase DNS-1123 name, got ${JSON.stringify(value)}`;
  return null;
}

function mac(key: Buffer, signingInput: string): Buffer {
  return createHmac('sha256', key).update(signingInput).digest();
}

/** Signs a token for `namespace`/`serviceAccount` valid for `ttlMs` from `nowMs`. */
export function createJoinToken(
  key: Buffer,
  identity: { readonly namespace: string; readonly serviceAccount: string },
  nowMs: number,
  ttlMs: number,
): { readonly token: string; readonly claims: JoinTokenClaims } {
  const iat = Math.floor(nowMs / 1000);
  const exp = Math.floor((nowMs + ttlMs) / 1000);
  const id = randomBytes(9).toString('base64url');
  const payload = { jti: id, ns: identity.namespace, sa: identity.serviceAccount, iat, exp };
  const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const token = `${signingInput}.${mac(key, signingInput).toString('base64url')}`;
  return {
    token,
    claims: {
      id,
      namespace: identity.namespace,
      serviceAccount: identity.serviceAccount,
      issuedAtMs: iat * 1000,
      expiresAtMs: exp * 1000,
    },
  };
}

/** Checks a token's signature (constant time), shape and expiry at `nowMs`. */
export function verifyJoinToken(key: Buffer, token: string, nowMs: number): JoinTokenVerification {
  const parts = token.split('.');
  if (parts.length !== 3)
    return {
      ok: false,
      reason: 'malformed-token',
      message: 'expected header.payload.signature',
      id: '',
    };
  const [header, body, signature] = parts as [string, string, string];
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    if (typeof payload !== 'object' || (payload as unknown) === null || Array.isArray(payload))
      throw new Error('not an object');
  } catch {
    return {
      ok: false,
      reason: 'malformed-token',
      message: 'payload is not base64url JSON',
      id: '',
    };
  }
  const id = typeof payload['jti'] === 'string' ? payload['jti'] : '';
  const expected = mac(key, `${header}.${body}`);
  const given = Buffer.from(signature, 'base64url');
  if (header !== HEADER || given.length !== expected.length || !timingSafeEqual(given, expected))
    return {
      ok: false,
      reason: 'forged-token',
      message: "signature does not verify with this CA's token key",
      id,
    };
  const { ns, sa, iat, exp } = payload;
  if (
    typeof ns !== 'string' ||
    typeof sa !== 'string' ||
    typeof exp !== 'number' ||
    typeof iat !== 'number'
  )
    return { ok: false, reason: 'malformed-token', message: 'missing ns, sa, iat or exp', id };
  if (nowMs >= exp * 1000)
    return {
      ok: false,
      reason: 'expired-token',
      message: `token expired at ${new Date(exp * 1000).toISOString()}`,
      id,
    };
  return {
    ok: true,
    claims: {
      id,
      namespace: ns,
      serviceAccount: sa,
      issuedAtMs: iat * 1000,
      expiresAtMs: exp * 1000,
    },
  };
}
