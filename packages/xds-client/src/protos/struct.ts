// google.protobuf.Struct ⇄ plain JSON, in proto-loader object form (snake_case Value fields; the
// build step renames protobufjs's bundled camelCase ones). Used for node metadata and filter_metadata.

/** A JSON value as a google.protobuf.Value object. */
export function jsonToValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'string') return { string_value: value };
  if (typeof value === 'boolean') return { bool_value: value };
  if (typeof value === 'bigint') return { string_value: value.toString() };
  if (Array.isArray(value)) return { list_value: { values: value.map(jsonToValue) } };
  if (typeof value === 'object')
    return { struct_value: jsonToStruct(value as Record<string, unknown>) };
  return { null_value: 'NULL_VALUE' };
}

/** A JSON object as a google.protobuf.Struct object. */
export function jsonToStruct(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = jsonToValue(value);
  return { fields };
}

/** A decoded google.protobuf.Value back to JSON; unknown shapes become null. */
export function valueToJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if ('string_value' in v) return v['string_value'];
  if ('number_value' in v) return v['number_value'];
  if ('bool_value' in v) return v['bool_value'];
  if ('struct_value' in v) return structToJson(v['struct_value']);
  if ('list_value' in v) {
    const list = v['list_value'] as { values?: unknown[] } | undefined;
    return (list?.values ?? []).map(valueToJson);
  }
  return null;
}

/** A decoded google.protobuf.Struct back to a JSON object; a missing struct is `{}`. */
export function structToJson(struct: unknown): Record<string, unknown> {
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, valueToJson(v)]));
}
