// The validated bootstrap: gRPC's GRPC_XDS_BOOTSTRAP format (gRFC A27, A71 for the ordered
// server list) resolved into a frozen object with no optional fields. (STYLE rule 15.)

/** One xDS management server, in fallback order. */
export interface ResolvedXdsServer {
  /** `host:port` (no scheme), as in the bootstrap's `server_uri`. */
  readonly serverUri: string;
  /** First supported entry of `channel_creds`; Weft supports `insecure` (and later `tls`). */
  readonly channelCredentials: 'insecure' | 'tls';
  /** `server_features`, e.g. `xds_v3`, `ignore_resource_deletion`; `weft_delta` selects Delta xDS. */
  readonly serverFeatures: readonly string[];
  /**
   * The `config` object of the chosen `channel_creds` entry (`{}` when absent), e.g. the file
   * paths of `tls` credentials (gRFC A65). Optional only so hand-built objects stay valid;
   * parseBootstrap always sets it.
   */
  readonly channelCredentialsConfig?: Readonly<Record<string, unknown>>;
}

/** Where a node runs: the keys of envoy.config.core.v3.Locality, empty string when absent. */
export interface ResolvedLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** The node identity sent on the first request of every stream. */
export interface ResolvedNode {
  readonly id: string;
  readonly cluster: string;
  readonly locality: ResolvedLocality;
  /** google.protobuf.Struct contents: workload name, namespace, service account, labels… */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly userAgentName: string;
  readonly userAgentVersion: string;
  readonly clientFeatures: readonly string[];
}

/** A validated bootstrap. */
export interface ResolvedBootstrap {
  /** Ordered: the client uses the first reachable one and falls back down the list. */
  readonly xdsServers: readonly ResolvedXdsServer[];
  readonly node: ResolvedNode;
  /** `certificate_providers` kept verbatim for the security layer (gRFC A29). */
  readonly certificateProviders: Readonly<Record<string, unknown>>;
  /**
   * gRPC's `server_listener_resource_name_template` (A36), kept for files shared with gRPC
   * servers. The three fields below are optional only so hand-built objects stay valid;
   * parseBootstrap always sets them (undefined / `{}` when absent).
   */
  readonly serverListenerResourceNameTemplate?: string | undefined;
  /** gRPC's `client_default_listener_resource_name_template` (A47). */
  readonly clientDefaultListenerResourceNameTemplate?: string | undefined;
  /** gRPC's federation `authorities` (A47), kept verbatim; Weft's client does not use them yet. */
  readonly authorities?: Readonly<Record<string, unknown>>;
}
