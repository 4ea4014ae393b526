// Writes a ResolvedBootstrap back as gRPC's GRPC_XDS_BOOTSTRAP JSON, so the control plane and
// tests can hand the same file to Weft and grpc-js-xds clients. Spec: gRFC A27.
import type { ResolvedBootstrap } from './resolved-bootstrap.js';
import { DEFAULT_USER_AGENT_NAME, WEFT_XDS_CLIENT_VERSION } from './version.js';

/**
 * Returns a plain JSON object in gRPC's bootstrap format. It always includes `node.id` and
 * `node.locality` (grpc-js fails obscurely without them) and `server_features`; Weft-only node
 * fields (user agent, client features) are written only when they differ from the defaults, and
 * gRPC ignores them. `parseBootstrap(formatBootstrap(b), …)` equals `b`.
 */
export function formatBootstrap(resolved: ResolvedBootstrap): Record<string, unknown> {
  const { node } = resolved;
  const nodeJson: Record<string, unknown> = {
    id: node.id,
    cluster: node.cluster,
    locality: {
      ...(node.locality.region === '' ? {} : { region: node.locality.region }),
      ...(node.locality.zone === '' ? {} : { zone: node.locality.zone }),
      ...(node.locality.subZone === '' ? {} : { sub_zone: node.locality.subZone }),
    },
    metadata: structuredClone(node.metadata),
  };
  if (node.userAgentName !== DEFAULT_USER_AGENT_NAME)
    nodeJson['user_agent_name'] = node.userAgentName;
  if (node.userAgentVersion !== WEFT_XDS_CLIENT_VERSION) {
    nodeJson['user_agent_version'] = node.userAgentVersion;
  }
  if (node.clientFeatures.length > 0) nodeJson['client_features'] = [...node.clientFeatures];
  const out: Record<string, unknown> = {
    xds_servers: resolved.xdsServers.map((s) => {
      const config = s.channelCredentialsConfig ?? {};
      return {
        server_uri: s.serverUri,
        channel_creds: [
          Object.keys(config).length === 0
            ? { type: s.channelCredentials }
            : { type: s.channelCredentials, config: structuredClone(config) },
        ],
        server_features: [...s.serverFeatures],
      };
    }),
    node: nodeJson,
    certificate_providers: structuredClone(resolved.certificateProviders),
  };
  if (resolved.serverListenerResourceNameTemplate !== undefined) {
    out['server_listener_resource_name_template'] = resolved.serverListenerResourceNameTemplate;
  }
  if (resolved.clientDefaultListenerResourceNameTemplate !== undefined) {
    out['client_default_listener_resource_name_template'] =
      resolved.clientDefaultListenerResourceNameTemplate;
  }
  if (resolved.authorities !== undefined && Object.keys(resolved.authorities).length > 0) {
    out['authorities'] = structuredClone(resolved.authorities);
  }
  return out;
}
