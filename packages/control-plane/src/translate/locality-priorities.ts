// Assigns endpoint localities their priority and weight relative to the client's locality:
// Istio's default locality failover, `failover` rules and `distribute` weights.
// Spec: https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting
import type { ClientLocality } from '../contracts.js';
import type { LocalityLbSetting, MeshLocality } from '../config/mesh-model.js';

/** A locality group's placement: `null` means the locality gets no traffic (dropped). */
export interface LocalityPlacement {
  readonly priority: number;
  /** `null`: use the sum of its endpoint weights. */
  readonly weight: number | null;
}

/** `region/zone/subzone` key of a locality. */
export function localityKey(l: MeshLocality): string {
  return `${l.region}/${l.zone}/${l.subZone}`;
}

/** Whether locality `l` matches an Istio locality pattern (`region/zone/subzone`, `*` parts, missing parts match all). */
export function localityMatches(pattern: string, l: MeshLocality): boolean {
  const parts = pattern.split('/');
  const values = [l.region, l.zone, l.subZone];
  for (const [i, part] of parts.entries()) {
    if (part === '*') return true;
    if (part !== values[i]) return false;
  }
  return true;
}

/**
 * Istio's failover order: 0 same region+zone+subzone, 1 same region+zone, 2 same region, then the
 * `failover.to` region for the client's region, then everything else. Uncompacted.
 */
function rawPriority(client: ClientLocality, l: MeshLocality, setting: LocalityLbSetting): number {
  if (l.region === client.region) {
    if (l.zone !== client.zone) return 2;
    return l.subZone === client.subZone ? 0 : 1;
  }
  const rule = setting.failover.find((f) => f.from === client.region);
  return rule !== undefined && rule.to === l.region ? 3 : 4;
}

/**
 * Places each locality (by {@link localityKey}) for a client. Priorities are contiguous from 0.
 * With `distribute` (and a rule whose `from` matches the client) every locality is priority 0 and
 * weighted by the first matching `to` pattern, its percent split evenly among the localities it
 * matches; localities no pattern matches get no traffic. A client with no region, or a disabled
 * setting, puts everything at priority 0.
 */
export function placeLocalities(
  client: ClientLocality,
  localities: readonly MeshLocality[],
  setting: LocalityLbSetting,
): Map<string, LocalityPlacement | null> {
  const out = new Map<string, LocalityPlacement | null>();
  if (!setting.enabled || client.region === '') {
    for (const l of localities) out.set(localityKey(l), { priority: 0, weight: null });
    return out;
  }
  const clientLocality: MeshLocality = client;
  const rule = setting.distribute.find((d) => localityMatches(d.from, clientLocality));
  if (setting.distribute.length > 0) {
    if (rule === undefined) {
      for (const l of localities) out.set(localityKey(l), { priority: 0, weight: null });
      return out;
    }
    const targets = Object.entries(rule.to);
    const matched = new Map<string, MeshLocality[]>();
    for (const l of localities) {
      const target = targets.find(([pattern]) => localityMatches(pattern, l));
      if (target === undefined || target[1] === 0) {
        out.set(localityKey(l), null);
        continue;
      }
      matched.set(target[0], [...(matched.get(target[0]) ?? []), l]);
    }
    for (const [pattern, group] of matched) {
      const percent = rule.to[pattern] ?? 0;
      const each = Math.max(1, Math.round(percent / group.length));
      for (const l of group) out.set(localityKey(l), { priority: 0, weight: each });
    }
    return out;
  }
  const raw = new Map(localities.map((l) => [localityKey(l), rawPriority(client, l, setting)]));
  const levels = [...new Set(raw.values())].sort((a, b) => a - b);
  for (const [key, p] of raw) out.set(key, { priority: levels.indexOf(p), weight: null });
  return out;
}
