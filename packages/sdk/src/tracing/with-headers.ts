// Adds headers to an outbound request's undici headers (any shape undici accepts) without
// mutating them: x-request-id once per request, trace headers once per attempt.
import type { Dispatcher } from 'undici';

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];

function isIterable(value: object): value is Iterable<[string, unknown]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
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
