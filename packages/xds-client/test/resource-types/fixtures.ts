// Shared helpers for the resource-type tests: encoding plain objects as Anys and asserting on
// decode results by issue path.
import assert from 'node:assert/strict';
import { loadXdsProtos } from '../../src/protos/xds-protos.js';
import type { AnyMessage } from '../../src/protos/xds-protos.js';
import type {
  DecodeContext,
  DecodeResult,
  ResourceIssue,
} from '../../src/resource-types/xds-resource-type.js';

export const protos = loadXdsProtos();
export const ctx: DecodeContext = { protos };

/** Encodes a plain (snake_case) object as an Any of `typeUrl`. */
export function encode(typeUrl: string, value: Record<string, unknown>): AnyMessage {
  return protos.encodeAny(typeUrl, value);
}

/** Asserts success and returns the value. */
export function expectOk<T>(result: DecodeResult<T>): T {
  if (!result.ok) assert.fail(`expected ok, got issues: ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** Asserts failure and that some issue's path equals `path`; returns the issues. */
export function expectIssueAt<T>(result: DecodeResult<T>, path: string): readonly ResourceIssue[] {
  if (result.ok) assert.fail(`expected an issue at ${path}, decoded ok`);
  const paths = result.issues.map((i) => i.path);
  assert.ok(paths.includes(path), `no issue at ${path}; issues: ${JSON.stringify(result.issues)}`);
  return result.issues;
}

/** A deep copy with `patch` applied at a dotted path (arrays by index); `undefined` deletes. */
export function withField(
  base: Record<string, unknown>,
  path: string,
  patch: unknown,
): Record<string, unknown> {
  const copy = structuredClone(base);
  const keys = path.split('.');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys.at(-1)!;
  // An undefined field is left out when encoding, so this also "deletes" it.
  node[last] = patch;
  return copy;
}
