// A strict parser of the Prometheus text exposition format (0.0.4) for asserting exact values.
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition. */
export interface Exposition {
  /** Metric family name → `counter` | `gauge` | `histogram` | ... */
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`bad sample value in: ${line}`);
  return value;
}

/** Parses `{a="x",b="y\"z"}` starting at `text[0] === '{'`; returns labels and the rest. */
function parseLabels(text: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = NAME.exec(text.slice(i))?.[0];
    if (name === undefined || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"')
      throw new Error(`bad label at ${i} in: ${line}`);
    i += name.length + 2;
    let value = '';
    while (text[i] !== '"') {
      const c = text[i];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '\\') {
        const e = text[i + 1];
        value += e === 'n' ? '\n' : (e ?? '');
        i += 2;
      } else {
        value += c;
        i += 1;
      }
    }
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`);
    labels[name] = value;
    i += 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`expected , or } at ${i} in: ${line}`);
  }
}

/** Parses an exposition; throws on any line it does not understand. */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      if (m[1] === 'TYPE') types.set(m[2]!, m[3]!);
      else help.set(m[2]!, m[3]!);
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined) throw new Error(`bad sample line: ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const fields = rest.trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 2) throw new Error(`bad sample line: ${line}`);
    samples.push({ name, labels, value: parseValue(fields[0] ?? '', line) });
  }
  return { types, help, samples };
}

/** Canonical key of a label set: `a="x",b="y"`, names sorted ('' for none). */
export function labelKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/**
 * Every series of one sample name, `labelKey → value`, for an exact `deepEqual`. Series whose
 * labels do not include every entry of `where` are left out.
 */
export function series(
  exposition: Exposition,
  name: string,
  where: Readonly<Record<string, string>> = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of exposition.samples) {
    if (s.name !== name) continue;
    if (!Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const key = labelKey(s.labels);
    if (key in out) throw new Error(`duplicate series ${name}{${key}}`);
    out[key] = s.value;
  }
  return out;
}

/** The value of exactly one series; throws if it is absent. */
export function valueOf(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const key = labelKey(labels);
  const found = exposition.samples.filter((s) => s.name === name && labelKey(s.labels) === key);
  if (found.length !== 1) throw new Error(`expected one ${name}{${key}}, found ${found.length}`);
  return found[0]!.value;
}

/** GETs `/metrics` from an admin port and parses it. */
export async function scrape(
  adminPort: number,
): Promise<{ status: number; contentType: string | null; exposition: Exposition }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    exposition: parsePrometheusText(text),
  };
}
