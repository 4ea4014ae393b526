// Builds envoy.config.core.v3.Node from the bootstrap, sent on the first request of each stream
// (xDS protocol doc; gRFC A27 "node").
import type { ResolvedNode } from '../bootstrap/resolved-bootstrap.js';
import type { XdsProtos } from '../protos/xds-protos.js';

/** Field names of google.protobuf.Value in the loaded protos (snake_case or protobufjs's camelCase). */
interface ValueFields {
  readonly null: string;
  readonly number: string;
  readonly string: string;
  readonly bool: string;
  readonly struct: string;
  readonly list: string;
}

// The bundled well-known types may use camelCase names; ask the loaded type rather than guess.
function valueFields(protos: XdsProtos): ValueFields {
  const snake = 'string_value' in protos.type('google.protobuf.Value').fields;
  return snake
    ? {
        null: 'null_value',
        number: 'number_value',
        string: 'string_value',
        bool: 'bool_value',
        struct: 'struct_value',
        list: 'list_value',
      }
    : {
        null: 'nullValue',
        number: 'numberValue',
        string: 'stringValue',
        bool: 'boolValue',
        struct: 'structValue',
        list: 'listValue',
      };
}

/** A JSON value as a google.protobuf.Value in proto-loader object form. */
function toValue(value: unknown, f: ValueFields): Record<string, unknown> {
  if (value === null || value === undefined) return { [f.null]: 'NULL_VALUE' };
  if (typeof value === 'number') return { [f.number]: value };
  if (typeof value === 'string') return { [f.string]: value };
  if (typeof value === 'boolean') return { [f.bool]: value };
  if (Array.isArray(value)) return { [f.list]: { values: value.map((v) => toValue(v, f)) } };
  if (typeof value === 'object')
    return { [f.struct]: toStruct(value as Record<string, unknown>, f) };
  return { [f.string]: typeof value === 'bigint' ? value.toString() : '' };
}

function toStruct(
  object: Readonly<Record<string, unknown>>,
  f: ValueFields,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toValue(value, f);
  return { fields };
}

/** The Node message of a bootstrap, in proto-loader object form (snake_case). */
export function buildNodeMessage(node: ResolvedNode, protos: XdsProtos): Record<string, unknown> {
  return {
    id: node.id,
    cluster: node.cluster,
    locality: {
      region: node.locality.region,
      zone: node.locality.zone,
      sub_zone: node.locality.subZone,
    },
    metadata: toStruct(node.metadata, valueFields(protos)),
    user_agent_name: node.userAgentName,
    user_agent_version: node.userAgentVersion,
    client_features: [...node.clientFeatures],
  };
}
