// Reads the caller's request headers in any of the shapes undici accepts, lazily, and adds the
// Host header that keeps the caller's authority when the origin is rewritten to an endpoint, and
// the mesh's own headers (x-request-id once per request, trace headers once per attempt), never
// mutating the caller's.
import type { Dispatcher } from 'undici';

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];

function toText(value: unknown): string {
  return typeof value === 'string'
    ? value
    : Buffer.isBuffer(value)
      ? value.toString('latin1')
      : `${value as number}`;
}

function joinValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(toText).join(',');
  return toText(value);
}

/**
 * Builds a lower-case name → value map of `headers`; several values of one name are joined by
 * `,`. Called at most once per request, and only when a route has header matchers.
 */
export function indexHeaders(headers: UndiciHeaders): ReadonlyMap<string, string> {
  const map = new Map<string, string>();
  const add = (name: unknown, value: unknown): void => {
    const v = joinValue(value);
    if (v === undefined) return;
    const key = String(name).toLowerCase();
    const previous = map.get(key);
    map.set(key, previous === undefined ? v : `${previous},${v}`);
  };
  if (headers === undefined || headers === null) return map;
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) add(flat[i], flat[i + 1]);
  } else if (isIterable(headers)) {
    for (const entry of headers) add(entry[0], entry[1]);
  } else {
    const record = headers as Record<string, unknown>;
    for (const name in record) add(name, record[name]);
  }
  return map;
}

/**
 * Whether `headers` carry `lowerCaseName` (with a value), without building an index: the hot path
 * asks this of every request (x-request-id), while `indexHeaders` is for routes that match headers.
 */
export function hasHeader(headers: UndiciHeaders, lowerCaseName: string): boolean {
  if (headers === undefined || headers === null) return false;
  const matches = (name: unknown): boolean =>
    typeof name === 'string' &&
    name.length === lowerCaseName.length &&
    name.toLowerCase() === lowerCaseName;
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2)
      if (matches(flat[i]) && flat[i + 1] !== undefined && flat[i + 1] !== null) return true;
    return false;
  }
  if (isIterable(headers)) {
    for (const [name, value] of headers) if (matches(name) && value !== undefined) return true;
    return false;
  }
  const record = headers as Record<string, unknown>;
  for (const name in record)
    if (matches(name) && record[name] !== undefined && record[name] !== null) return true;
  return false;
}

function isIterable(value: object): value is Iterable<[string, unknown]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

function isHost(name: unknown): boolean {
  return typeof name === 'string' && name.length === 4 && name.toLowerCase() === 'host';
}

/**
 * Returns headers that carry `host: authority`: the caller's own Host header wins (it is kept as
 * is); otherwise a copy with one added. `hostOnly` is the shared object for header-less requests.
 * Must not mutate `headers`: callers may reuse their options object.
 */
export function withHostHeader(
  headers: UndiciHeaders,
  authority: string,
  hostOnly: Readonly<Record<string, string>>,
): UndiciHeaders {
  if (headers === undefined || headers === null) return hostOnly;
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i < flat.length; i += 2) if (isHost(flat[i])) return headers;
    return [...headers, 'host', authority];
  }
  if (isIterable(headers)) {
    const flat: string[] = [];
    for (const [name, value] of headers) {
      if (isHost(name)) return headers;
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) flat.push(name, v);
      else flat.push(name, value);
    }
    flat.push('host', authority);
    return flat;
  }
  const record = headers as Record<string, unknown>;
  for (const name in record) if (isHost(name)) return headers;
  return { ...(headers as Record<string, string>), host: authority };
}

/**
 * A copy of `headers` with the `pairs` (flat name, value list) added; headers for which `drop`
 * says true (lower-case name) are left out of the copy (the mesh replaces them).
 */
export function withHeaders(
  headers: UndiciHeaders,
  pairs: readonly string[],
  drop: ((lowerCaseName: string) => boolean) | undefined,
): UndiciHeaders {
  if (headers === undefined || headers === null) {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < pairs.length; i += 2)
      record[pairs[i] as string] = pairs[i + 1] as string;
    return record;
  }
  if (Array.isArray(headers) || isIterable(headers)) {
    const flat: unknown[] = [];
    const keep = (name: unknown, value: unknown): void => {
      if (value === undefined) return;
      if (drop !== undefined && drop(String(name).toLowerCase())) return;
      if (Array.isArray(value)) for (const v of value as unknown[]) flat.push(name, v);
      else flat.push(name, value);
    };
    if (Array.isArray(headers)) {
      const given = headers as unknown[];
      if (drop === undefined) flat.push(...given);
      else for (let i = 0; i + 1 < given.length; i += 2) keep(given[i], given[i + 1]);
    } else {
      for (const [name, value] of headers) keep(name, value);
    }
    flat.push(...pairs);
    return flat as string[];
  }
  const record: Record<string, unknown> = {};
  const given = headers as Record<string, unknown>;
  for (const name in given) {
    if (drop === undefined || !drop(name.toLowerCase())) record[name] = given[name];
  }
  for (let i = 0; i + 1 < pairs.length; i += 2) record[pairs[i] as string] = pairs[i + 1];
  return record as Record<string, string>;
}

/**
 * `headers` plus `name: id` (x-request-id): written into `headers` when it is a copy the mesh made
 * for this request (`owned`), else into a new copy (the caller's headers and the shared host-only
 * object are never mutated).
 */
export function addRequestId(
  headers: UndiciHeaders,
  owned: boolean,
  name: string,
  id: string,
): UndiciHeaders {
  if (!owned || headers === undefined || headers === null)
    return withHeaders(headers, [name, id], undefined);
  if (Array.isArray(headers)) {
    headers.push(name, id);
    return headers;
  }
  (headers as Record<string, string>)[name] = id;
  return headers;
}

/**
 * Whether any header name of `headers` (lower-cased) satisfies `match`, without building an
 * index (asked once per traced request: does the caller send trace headers of its own?).
 */
export function hasHeaderWhere(
  headers: UndiciHeaders,
  match: (lowerCaseName: string) => boolean,
): boolean {
  if (headers === undefined || headers === null) return false;
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2)
      if (flat[i + 1] !== undefined && match(String(flat[i]).toLowerCase())) return true;
    return false;
  }
  if (isIterable(headers)) {
    for (const [name, value] of headers)
      if (value !== undefined && match(name.toLowerCase())) return true;
    return false;
  }
  const record = headers as Record<string, unknown>;
  for (const name in record)
    if (record[name] !== undefined && match(name.toLowerCase())) return true;
  return false;
}

/**
 * Sets the `pairs` (flat name, value list; lower-case names) on `headers` in place, replacing a
 * value the mesh set before under the same name (a retry's trace headers replace the first
 * try's). Only for a header object the mesh made for this request (never the caller's).
 */
export function setHeaderPairs(
  headers: Record<string, string> | string[],
  pairs: readonly string[],
): void {
  if (!Array.isArray(headers)) {
    for (let i = 0; i + 1 < pairs.length; i += 2)
      headers[pairs[i] as string] = pairs[i + 1] as string;
    return;
  }
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i] as string;
    const value = pairs[i + 1] as string;
    let at = -1;
    for (let j = 0; j + 1 < headers.length; j += 2) {
      if (headers[j] === name) {
        at = j;
        break;
      }
    }
    if (at < 0) headers.push(name, value);
    else headers[at + 1] = value;
  }
}
