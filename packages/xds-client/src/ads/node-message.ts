// Builds envoy.config.core.v3.Node from the bootstrap, sent on the first request of each stream
// (xDS protocol doc; gRFC A27 "node").
import type { ResolvedNode } from '../bootstrap/resolved-bootstrap.js';

/** A JSON value as a google.protobuf.Value in proto-loader object form. */
function toValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'string') return { string_value: value };
  if (typeof value === 'boolean') return { bool_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(toValue) } };
  if (typeof value === 'object') return { struct_value: toStruct(value as Record<string, unknown>) };
  return { string_value: String(value as bigint) };
}

/** A plain object as a google.protobuf.Struct in proto-loader object form. */
export function toStruct(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toValue(value);
  return { fields };
}

/** The Node message of a bootstrap, in proto-loader object form (snake_case). */
export function buildNodeMessage(node: ResolvedNode): Record<string, unknown> {
  return {
    id: node.id,
    cluster: node.cluster,
    locality: {
      region: node.locality.region,
      zone: node.locality.zone,
      sub_zone: node.locality.subZone,
    },
    metadata: toStruct(node.metadata),
    user_agent_name: node.userAgentName,
    user_agent_version: node.userAgentVersion,
    client_features: [...node.clientFeatures],
  };
}
