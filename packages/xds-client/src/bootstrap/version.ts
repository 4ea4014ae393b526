// The client's identity in node.user_agent_name / user_agent_version: the one place the package
// version is written in source. Spec: envoy/config/core/v3/base.proto (Node).

/** This package's version, sent as `node.user_agent_version` unless the bootstrap sets one. */
export const WEFT_XDS_CLIENT_VERSION = '0.1.0' as const;

/** Sent as `node.user_agent_name` unless the bootstrap sets one. */
export const DEFAULT_USER_AGENT_NAME = 'weft-xds-client' as const;
