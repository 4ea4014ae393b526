// Envoy's priority load: how much traffic each priority takes given its health and the
// overprovisioning factor. Spec: envoy arch_overview/upstream/load_balancing/priority
// ("Priority levels") and locality_weight ("Locality weighted load balancing").

/** A priority's or locality's availability in [0, 1]: min(1, factor × available / total). */
export function availability(
  available: number,
  total: number,
  overprovisioningFactor: number,
): number {
  if (total === 0) return 0;
  return Math.min(1, (overprovisioningFactor * available) / total);
}

/**
 * Per-priority load in [0, 1] summing to 1 (or all 0 when nothing is available): each priority,
 * highest first, takes min(what is left, its health normalised by the total health when that
 * total is below 100%). A priority at ≥ 1/factor healthy therefore takes everything.
 */
export function priorityLoads(health: readonly number[]): number[] {
  const total = Math.min(
    1,
    health.reduce((a, b) => a + b, 0),
  );
  if (total === 0) return health.map(() => 0);
  let remaining = 1;
  return health.map((h) => {
    const load = Math.min(remaining, h / total);
    remaining -= load;
    return load;
  });
}
