// The consistent-hash ring of a ring_hash cluster, built once per update. Spec: gRFC A42
// ("Ring hash LB policy": ring size from min/max and normalised weights, entries `ADDR_N` hashed
// with XXH64); Envoy's ring_hash_lb. Positions match gRPC's and Envoy's for the same endpoints.
import { xxhash64 } from '../routing/xxhash64.js';

/** gRPC caps rings at 4096 entries by default (A42 `ring_hash_cap`), bounding rebuild cost. */
export const RING_SIZE_CAP = 4096;

/** A sorted ring: `hashes[i]` is owned by member `owners[i]` (an index into the input list). */
export interface Ring {
  readonly hashes: BigUint64Array;
  readonly owners: Int32Array;
}

/**
 * Builds the ring over `members` (the hash key is `address:port`, as gRPC and Envoy use) with
 * A42's sizing: scale = min(ceil(minNormalisedWeight × minRingSize) / minNormalisedWeight,
 * maxRingSize), then each member gets scale × its normalised weight entries (carried over).
 */
export function buildRing(
  members: readonly { readonly hashKey: string; readonly weight: number }[],
  minRingSize: number,
  maxRingSize: number,
): Ring {
  const live = members.filter((m) => m.weight > 0);
  const total = live.reduce((s, m) => s + m.weight, 0);
  if (live.length === 0 || total === 0)
    return { hashes: new BigUint64Array(0), owners: new Int32Array(0) };
  const max = Math.min(maxRingSize, RING_SIZE_CAP);
  const min = Math.min(minRingSize, max);
  const minNormalized = Math.min(...live.map((m) => m.weight / total));
  const scale = Math.min(Math.ceil(minNormalized * min) / minNormalized, max);
  const entries: { hash: bigint; owner: number }[] = [];
  let current = 0;
  let target = 0;
  members.forEach((m, owner) => {
    if (m.weight <= 0) return;
    target += (scale * m.weight) / total;
    for (let n = 0; current < target; n++, current++) {
      entries.push({ hash: xxhash64(`${m.hashKey}_${n}`), owner });
    }
  });
  entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.owner - b.owner));
  const hashes = new BigUint64Array(entries.length);
  const owners = new Int32Array(entries.length);
  entries.forEach((e, i) => {
    hashes[i] = e.hash;
    owners[i] = e.owner;
  });
  return { hashes, owners };
}

/** The first ring index whose hash is ≥ `hash`, wrapping to 0 (A42). The ring must be non-empty. */
export function ringIndex(ring: Ring, hash: bigint): number {
  const h = ring.hashes;
  let lo = 0;
  let hi = h.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((h[mid] ?? 0n) < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo === h.length ? 0 : lo;
}
