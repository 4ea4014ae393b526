// Parses Istio duration strings (Go's time.ParseDuration syntax: `2s`, `500ms`, `1m`, `1.5s`, `1h30m`).
// Spec: https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute (timeout).

const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;

/** Milliseconds in an Istio duration string, or `null` when it is not one. `0` is allowed. */
export function parseDurationMs(text: string): number | null {
  if (text === '0') return 0;
  if (text === '') return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null || m.index !== start) return null;
    const unit = UNIT_MS[m[2] ?? ''];
    if (unit === undefined) return null;
    total += Number(m[1]) * unit;
  }
  return total;
}

/** Milliseconds → protobuf Duration `{seconds, nanos}` (non-negative). */
export function msToDuration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1_000_000);
  return nanos >= 1_000_000_000 ? { seconds: seconds + 1, nanos: 0 } : { seconds, nanos };
}
