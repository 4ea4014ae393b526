// The request hash a ring-hash cluster picks by, from the route's hash policies.
// Spec: gRFC A42 "Hash computation"; Envoy RouteAction.HashPolicy (combination and `terminal`).
import type { HashPolicyUpdate } from '@weft/xds-client';
import type { RequestView } from './request-view.js';
import { xxhash64 } from './xxhash64.js';

const MASK = 0xffffffffffffffffn;

/** What a hash policy may read besides the request. */
export interface HashContext {
  /** Stands for gRPC's `io.grpc.channel_id` filter state: one id per runtime. */
  readonly channelId: bigint;
  /** Uniform in [0, 1); used when no policy yields a hash (A42: pick at random). */
  readonly random: () => number;
}

/** A uniformly random 64-bit hash from `random`. */
export function randomHash(random: () => number): bigint {
  const hi = BigInt(Math.floor(random() * 0x1_0000_0000));
  const lo = BigInt(Math.floor(random() * 0x1_0000_0000));
  return (hi << 32n) | lo;
}

function policyHash(
  policy: HashPolicyUpdate,
  req: RequestView,
  ctx: HashContext,
): bigint | undefined {
  switch (policy.kind) {
    case 'header': {
      // A42: binary metadata is never hashed.
      if (policy.headerName.endsWith('-bin')) return undefined;
      const v = req.input.header(policy.headerName);
      return v === undefined ? undefined : xxhash64(v);
    }
    case 'source_ip': {
      const ip = req.input.sourceIp;
      return ip === undefined || ip === '' ? undefined : xxhash64(ip);
    }
    case 'query_parameter': {
      const v = req.query.get(policy.name);
      return v === undefined ? undefined : xxhash64(v);
    }
    case 'filter_state':
      return policy.key === 'io.grpc.channel_id' ? ctx.channelId : undefined;
  }
}

/**
 * Envoy's combination: each new hash is XORed into the previous one rotated left by 1; a
 * `terminal` policy that produced a hash stops the walk. No hash at all → a random one.
 */
export function computeRequestHash(
  policies: readonly HashPolicyUpdate[],
  req: RequestView,
  ctx: HashContext,
): bigint {
  let hash: bigint | undefined;
  for (const policy of policies) {
    const h = policyHash(policy, req, ctx);
    if (h !== undefined) {
      hash = hash === undefined ? h : (((hash << 1n) | (hash >> 63n)) & MASK) ^ h;
    }
    if (policy.terminal && hash !== undefined) break;
  }
  return hash ?? randomHash(ctx.random);
}
