// Builds envoy.config.core.v3.Node from the bootstrap, sent on the first request of each stream
// (xDS protocol doc; gRFC A27 "node").
import type { ResolvedNode } from '../bootstrap/resolved-bootstrap.js';
import { jsonToStruct } from '../protos/struct.js';

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
    metadata: jsonToStruct(node.metadata),
    user_agent_name: node.userAgentName,
    user_agent_version: node.userAgentVersion,
    client_features: [...node.clientFeatures],
  };
}
