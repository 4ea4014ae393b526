// Shared readers for decoded proto objects (proto-loader shape: snake_case, 64-bit ints and enums
// as strings, Any as {type_url, value}); every reader records issues instead of throwing.
// Spec: https://protobuf.dev/programming-guides/proto3/#json (well-known types).
import { isDeepStrictEqual } from 'node:util';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { DecodeContext, DecodeResult, ResourceIssue } from './xds-resource-type.js';
export { structToJson } from '../protos/struct.js';

/** A decoded proto message as a plain object. */
export type ProtoObject = Readonly<Record<string, unknown>>;

/** Collects issues with their paths; decoders pass it down instead of throwing. */
export class IssueCollector {
  readonly issues: ResourceIssue[] = [];

  /** Records one issue at `path`. */
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** Whether nothing has been recorded yet. */
  get ok(): boolean {
    return this.issues.length === 0;
  }
}

/** Joins a parent path and a field name (`a.b`, or `b` at the root). */
export function join(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

/** Whether a value is a non-array object. */
export function isRecord(value: unknown): value is ProtoObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The sub-message at `key`, or undefined when unset. */
export function message(obj: ProtoObject, key: string): ProtoObject | undefined {
  const v = obj[key];
  return isRecord(v) ? v : undefined;
}

/** The repeated message field at `key` (empty when unset). */
export function messages(obj: ProtoObject, key: string): readonly ProtoObject[] {
  const v = obj[key];
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** A string field; proto3 leaves the default ('') out, so absence reads as ''. */
export function str(obj: ProtoObject, key: string): string {
  const v = obj[key];
  return typeof v === 'string' ? v : '';
}

/** A bool field (false when unset). */
export function bool(obj: ProtoObject, key: string): boolean {
  return obj[key] === true;
}

/** A 32- or 64-bit integer field (64-bit ones arrive as strings); 0 when unset. */
export function int(obj: ProtoObject, key: string): number {
  const v = obj[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return 0;
}

/** The `value` of a wrapper message (UInt32Value, BoolValue…) at `key`, or undefined when unset. */
export function wrapped(obj: ProtoObject, key: string): unknown {
  const w = message(obj, key);
  if (w === undefined) return undefined;
  const v = w['value'];
  // proto3 omits the wrapped default (0, false) on the wire, but the wrapper itself is present.
  if (v === undefined) return null;
  return v;
}

/** A UInt32Value/UInt64Value at `key` as a number (wrapped 0 included), or undefined when unset. */
export function wrappedInt(obj: ProtoObject, key: string): number | undefined {
  const v = wrapped(obj, key);
  if (v === undefined) return undefined;
  if (v === null) return 0;
  return typeof v === 'number' ? v : Number(v);
}

/** A BoolValue at `key`, or undefined when unset. */
export function wrappedBool(obj: ProtoObject, key: string): boolean | undefined {
  const v = wrapped(obj, key);
  if (v === undefined) return undefined;
  return v === true;
}

/** Which member of a oneof is set (proto-loader's virtual oneof field), or undefined. */
export function oneof(obj: ProtoObject, name: string): string | undefined {
  const v = obj[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A google.protobuf.Duration at `key` in milliseconds, or undefined when unset. A negative or
 * malformed duration is an issue (and reads as undefined).
 */
export function durationMs(
  obj: ProtoObject,
  key: string,
  path: string,
  issues: IssueCollector,
): number | undefined {
  const d = message(obj, key);
  if (d === undefined) return undefined;
  const seconds = int(d, 'seconds');
  const nanos = int(d, 'nanos');
  if (!Number.isFinite(seconds) || seconds < 0 || nanos < 0 || nanos >= 1e9) {
    issues.add(join(path, key), 'duration must be non-negative with nanos in [0, 1e9)');
    return undefined;
  }
  return seconds * 1000 + nanos / 1e6;
}

const PER_MILLION_FACTOR: Readonly<Record<string, number>> = {
  HUNDRED: 10_000,
  TEN_THOUSAND: 100,
  MILLION: 1,
};

/**
 * An envoy.type.v3.Percent (`{ value: 0-100 }`) at `key`; undefined when absent, or when out of
 * range (then an issue at `issuePath`).
 */
export function percent(
  obj: ProtoObject,
  key: string,
  issuePath: string,
  issues: IssueCollector,
): number | undefined {
  const p = message(obj, key);
  if (p === undefined) return undefined;
  const value = p['value'] ?? 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    issues.add(issuePath, `expected a percentage 0-100, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

/**
 * An envoy.type.v3.FractionalPercent at `key` as an integer per million (exact for every
 * denominator; a numerator above the denominator is clamped to 100%, as Envoy does). Unset
 * reads as `fallbackPerMillion`.
 */
export function fractionPerMillion(
  obj: ProtoObject,
  key: string,
  path: string,
  issues: IssueCollector,
  fallbackPerMillion: number,
): number {
  const f = message(obj, key);
  if (f === undefined) return fallbackPerMillion;
  const denominator = str(f, 'denominator') || 'HUNDRED';
  const factor = PER_MILLION_FACTOR[denominator];
  if (factor === undefined) {
    issues.add(join(join(path, key), 'denominator'), `unknown denominator ${denominator}`);
    return fallbackPerMillion;
  }
  return Math.min(1_000_000, int(f, 'numerator') * factor);
}

/**
 * A RuntimeFractionalPercent (`{default_value: FractionalPercent}`) at `key`, per million; the
 * runtime key is ignored (Weft has no runtime layer).
 */
export function runtimeFractionPerMillion(
  obj: ProtoObject,
  key: string,
  path: string,
  issues: IssueCollector,
  fallbackPerMillion: number,
): number {
  const r = message(obj, key);
  if (r === undefined) return fallbackPerMillion;
  return fractionPerMillion(r, 'default_value', join(path, key), issues, fallbackPerMillion);
}

/** The config source of an RDS/EDS/SDS reference must be `ads: {}` or `self: {}` (gRPC's rule). */
export function checkAdsConfigSource(
  source: ProtoObject | undefined,
  path: string,
  issues: IssueCollector,
): void {
  if (source === undefined) {
    issues.add(path, 'required');
    return;
  }
  const which = oneof(source, 'config_source_specifier');
  if (which !== 'ads' && which !== 'self') {
    issues.add(path, `must be ads or self, got ${which ?? 'nothing'}`);
  }
}

/** TypedStruct wrappers (xds.type.v3 / udpa.type.v1) name the real config type inside. */
const TYPED_STRUCT_TYPE_URLS: ReadonlySet<string> = new Set([
  'type.googleapis.com/xds.type.v3.TypedStruct',
  'type.googleapis.com/udpa.type.v1.TypedStruct',
]);

/** An Any field as {type_url, value}, or undefined when unset. */
export function anyField(obj: ProtoObject, key: string): AnyMessage | undefined {
  const a = message(obj, key);
  if (a === undefined || typeof a['type_url'] !== 'string') return undefined;
  const value = a['value'];
  return {
    type_url: a['type_url'],
    value: value instanceof Uint8Array ? value : Buffer.alloc(0),
  };
}

/**
 * The effective type URL of an Any: for a TypedStruct, the type URL it wraps (gRPC reads filter
 * and LB policy names this way).
 */
export function effectiveTypeUrl(any: AnyMessage, ctx: DecodeContext): string {
  if (!TYPED_STRUCT_TYPE_URLS.has(any.type_url)) return any.type_url;
  const inner = tryDecodeAny(any, ctx);
  return inner !== undefined ? str(inner, 'type_url') : any.type_url;
}

/** Decodes an Any, or returns undefined when its type is unknown or its bytes are malformed. */
export function tryDecodeAny(any: AnyMessage, ctx: DecodeContext): ProtoObject | undefined {
  if (!ctx.protos.hasType(any.type_url)) return undefined;
  try {
    return ctx.protos.decodeAny(any);
  } catch {
    return undefined;
  }
}

/**
 * The common head of every decoder: checks the Any's type URL and decodes it, so a resource
 * type's `decode` only validates fields. `body` must not throw; an unexpected throw is still
 * caught and reported so that `decode` never throws (XdsResourceType's contract).
 */
export function decodeResource<T>(
  raw: AnyMessage,
  ctx: DecodeContext,
  expectedTypeUrl: string,
  nameField: string,
  body: (msg: ProtoObject, name: string, issues: IssueCollector) => T,
): DecodeResult<T> {
  if (raw.type_url !== expectedTypeUrl) {
    return {
      ok: false,
      name: undefined,
      issues: [{ path: '', message: `expected type ${expectedTypeUrl}, got ${raw.type_url}` }],
    };
  }
  let msg: ProtoObject;
  try {
    msg = ctx.protos.decodeAny(raw);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, name: undefined, issues: [{ path: '', message: `malformed: ${reason}` }] };
  }
  const name = str(msg, nameField);
  const issues = new IssueCollector();
  if (name === '') issues.add(nameField, 'required');
  let value: T;
  try {
    value = body(msg, name, issues);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    issues.add('', `internal decoder error: ${reason}`);
    return { ok: false, name: name === '' ? undefined : name, issues: issues.issues };
  }
  if (!issues.ok) return { ok: false, name: name === '' ? undefined : name, issues: issues.issues };
  return { ok: true, name, value };
}

/** Structural equality of two decoded updates (Buffers, Maps and nested arrays included). */
export function deepEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Deep-freezes a decoded update so watchers share it safely. Returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    if (ArrayBuffer.isView(value)) return value;
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
