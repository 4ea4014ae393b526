// The grpc-js LB policy of one mesh: one subchannel per endpoint key of the channel's listener
// (every cluster, every priority), kept connecting, and a GrpcMeshPicker over their states.
// Endpoint choice itself is the core's (RouteDecision.pick); this policy only knows which
// endpoints are connectable right now. Registered under the mesh's own name (`weft_mesh_<n>`).
import {
  connectivityState as ConnectivityState,
  experimental,
  type ChannelOptions,
} from '@grpc/grpc-js';
import type { UpstreamEndpoint } from '../runtime/mesh-runtime.js';
import { GrpcMeshChannel } from './grpc-mesh-channel.js';
import type { GrpcMeshContext } from './grpc-mesh-context.js';
import { createFailingPicker, GrpcMeshPicker, type PickerSubchannel } from './grpc-mesh-picker.js';
import {
  describeUpstreamTls,
  sameUpstreamTls,
  UPSTREAM_TLS_ARG,
  type GrpcUpstreamTls,
} from './grpc-mesh-credentials.js';

/**
 * The resolver attribute carrying the GrpcMeshChannel to the LB policy. The prefix keeps it
 * out of subchannel arguments (grpc-js drops `grpc.internal.no_subchannel*` keys).
 */
export const MESH_CHANNEL_ATTRIBUTE = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.weft_mesh_channel`;

type LoadBalancerConstructor = Parameters<typeof experimental.registerLoadBalancerType>[1];
type LoadBalancingConfigConstructor = Parameters<typeof experimental.registerLoadBalancerType>[2];

interface SubchannelEntry {
  readonly endpoint: UpstreamEndpoint;
  readonly subchannel: experimental.SubchannelInterface;
  /** Per entry: grpc-js may pass the listener the unwrapped subchannel, so no identity lookups. */
  readonly listener: experimental.ConnectivityStateListener;
  state: ConnectivityState;
  /** Failed to connect and not READY since: counts as unreachable while it retries (gRFC A62's sticky TRANSIENT_FAILURE). */
  failing: boolean;
  /** The cluster's TLS requirement the subchannel was made with; undefined: plaintext. */
  readonly tls: GrpcUpstreamTls | undefined;
  /**
   * An mTLS endpoint on a channel without the mesh's credentials: never connected (it would be
   * plaintext), always TRANSIENT_FAILURE.
   */
  readonly refused: boolean;
}

/** Registers the LB policy `ctx.meshId` with grpc-js. grpc-js cannot unregister it. */
export function registerMeshLoadBalancer(ctx: GrpcMeshContext): void {
  const policyName = ctx.meshId;

  /** The (empty) config of this policy: everything it needs comes from the resolver. */
  class MeshLoadBalancingConfig implements experimental.TypedLoadBalancingConfig {
    getLoadBalancerName(): string {
      return policyName;
    }
    toJsonObject(): object {
      return { [policyName]: {} };
    }
    static createFromJson(_obj: unknown): MeshLoadBalancingConfig {
      return new MeshLoadBalancingConfig();
    }
  }

  class MeshLoadBalancer implements experimental.LoadBalancer {
    private readonly entries = new Map<string, SubchannelEntry>();
    private channel: GrpcMeshChannel | undefined;
    private lastError: string | null = null;
    private destroyed = false;
    /** Addresses already logged as shared by clusters with different TLS settings. */
    private readonly warnedSharedAddresses = new Set<string>();
    constructor(private readonly helper: experimental.ChannelControlHelper) {}

    updateAddressList(
      endpointList: experimental.StatusOr<experimental.Endpoint[]>,
      _config: experimental.TypedLoadBalancingConfig,
      options: ChannelOptions,
      _resolutionNote: string,
    ): boolean {
      const channel: unknown = options[MESH_CHANNEL_ATTRIBUTE];
      if (!(channel instanceof GrpcMeshChannel)) {
        this.helper.updateState(
          ConnectivityState.TRANSIENT_FAILURE,
          createFailingPicker(`weft: LB policy ${policyName} needs the weft resolver of its mesh`),
          null,
        );
        return false;
      }
      this.channel = channel;
      if (!endpointList.ok) {
        this.lastError = endpointList.error.details;
        // Like grpc-js policies, keep serving the last endpoints on a resolution error, except
        // when the mesh closed: then drop every connection.
        if (channel.closedReason !== undefined) this.removeAll();
        this.publish();
        return true;
      }
      this.sync(channel, channel.endpoints, subchannelArgs(options));
      this.publish();
      return true;
    }

    exitIdle(): void {
      for (const entry of this.entries.values()) {
        if (entry.state === ConnectivityState.IDLE && !entry.refused)
          entry.subchannel.startConnecting();
      }
    }

    resetBackoff(): void {
      // Subchannels own their backoff; grpc-js resets it through the subchannel pool.
    }

    destroy(): void {
      this.destroyed = true;
      this.removeAll();
    }

    getTypeName(): string {
      return policyName;
    }

    private sync(
      channel: GrpcMeshChannel,
      endpoints: readonly UpstreamEndpoint[],
      args: ChannelOptions,
    ): void {
      const tlsOf = (endpoint: UpstreamEndpoint): GrpcUpstreamTls | undefined =>
        ctx.upstreamTls.of(ctx.runtime.clusterOf(channel.authority, endpoint.clusterName));
      const wanted = new Map<string, UpstreamEndpoint>();
      for (const endpoint of endpoints) {
        const other = wanted.get(endpoint.key);
        if (other !== undefined && !this.warnedSharedAddresses.has(endpoint.key)) {
          const a = tlsOf(other);
          const b = tlsOf(endpoint);
          if (!sameUpstreamTls(a, b)) {
            this.warnedSharedAddresses.add(endpoint.key);
            ctx.logger.warn(
              'mesh grpc: one address in clusters with different TLS settings; calls of one of them are refused',
              {
                authority: channel.authority,
                endpoint: endpoint.key,
                kept: `${endpoint.clusterName} (${describeUpstreamTls(b)})`,
                refused: `${other.clusterName} (${describeUpstreamTls(a)})`,
              },
            );
          }
        }
        wanted.set(endpoint.key, endpoint);
      }
      for (const [key, entry] of this.entries) {
        const endpoint = wanted.get(key);
        // A cluster whose TLS settings changed gets new connections (as the HTTP pools do).
        if (endpoint === undefined || tlsOf(endpoint) !== entry.tls) this.remove(key, entry);
      }
      for (const [key, endpoint] of wanted) {
        if (this.entries.has(key)) continue;
        const tls = tlsOf(endpoint);
        ctx.credentialsProbe.begin();
        const subchannel = this.helper.createSubchannel(
          { host: endpoint.address, port: endpoint.port },
          tls === undefined ? args : { ...args, [UPSTREAM_TLS_ARG]: tls },
        );
        const meshCredentials = ctx.credentialsProbe.end(subchannel.getRealSubchannel());
        channel.meshCredentials = meshCredentials;
        const refused = tls !== undefined && !meshCredentials;
        subchannel.ref();
        this.helper.addChannelzChild(subchannel.getChannelzRef());
        const entry: SubchannelEntry = {
          endpoint,
          subchannel,
          listener: (_subchannel, _previous, next, _keepaliveTime, errorMessage) => {
            this.onStateChange(entry, next, errorMessage);
          },
          state: refused ? ConnectivityState.TRANSIENT_FAILURE : subchannel.getConnectivityState(),
          failing: refused,
          tls,
          refused,
        };
        this.entries.set(key, entry);
        if (refused) {
          channel.refusePlaintext(endpoint.clusterName);
          this.lastError = `${key}: ${channel.noMeshCredentialsMessage(endpoint.clusterName)}`;
          continue;
        }
        subchannel.addConnectivityStateListener(entry.listener);
        if (entry.state === ConnectivityState.IDLE) subchannel.startConnecting();
      }
    }

    private remove(key: string, entry: SubchannelEntry): void {
      this.entries.delete(key);
      entry.subchannel.removeConnectivityStateListener(entry.listener);
      entry.subchannel.unref();
      this.helper.removeChannelzChild(entry.subchannel.getChannelzRef());
    }

    private removeAll(): void {
      for (const [key, entry] of this.entries) this.remove(key, entry);
    }

    private onStateChange(
      entry: SubchannelEntry,
      next: ConnectivityState,
      errorMessage: string | undefined,
    ): void {
      if (this.destroyed || this.entries.get(entry.endpoint.key) !== entry) return;
      entry.state = next;
      if (next === ConnectivityState.READY) entry.failing = false;
      if (next === ConnectivityState.TRANSIENT_FAILURE) {
        entry.failing = true;
        if (errorMessage !== undefined) this.lastError = `${entry.endpoint.key}: ${errorMessage}`;
      }
      // Keep every endpoint warm (as round_robin does), so failover finds connections ready.
      if (next === ConnectivityState.IDLE) entry.subchannel.startConnecting();
      this.publish();
    }

    /** Reports the aggregate state and a fresh picker over the current subchannel states. */
    private publish(): void {
      const channel = this.channel;
      if (this.destroyed || channel === undefined) return;
      if (channel.closedReason !== undefined) {
        this.helper.updateState(
          ConnectivityState.TRANSIENT_FAILURE,
          createFailingPicker(channel.closedReason),
          channel.closedReason,
        );
        return;
      }
      const snapshot = new Map<string, PickerSubchannel>();
      let ready = false;
      let connecting = false;
      for (const [key, entry] of this.entries) {
        const state =
          entry.failing && entry.state !== ConnectivityState.READY
            ? ConnectivityState.TRANSIENT_FAILURE
            : entry.state;
        snapshot.set(key, {
          subchannel: entry.subchannel,
          state,
          tls: entry.tls,
          cluster: entry.endpoint.clusterName,
        });
        if (state === ConnectivityState.READY) ready = true;
        else if (state !== ConnectivityState.TRANSIENT_FAILURE) connecting = true;
      }
      const state = ready
        ? ConnectivityState.READY
        : connecting
          ? ConnectivityState.CONNECTING
          : ConnectivityState.TRANSIENT_FAILURE;
      const picker = new GrpcMeshPicker(
        channel,
        snapshot,
        (key) => {
          const entry = this.entries.get(key);
          if (entry?.state === ConnectivityState.IDLE && !entry.refused)
            entry.subchannel.startConnecting();
        },
        this.lastError,
      );
      const message =
        state === ConnectivityState.TRANSIENT_FAILURE
          ? (this.lastError ?? `weft: no endpoints for ${channel.authority}`)
          : null;
      this.helper.updateState(state, picker, message);
    }
  }

  experimental.registerLoadBalancerType(
    policyName,
    MeshLoadBalancer satisfies LoadBalancerConstructor,
    MeshLoadBalancingConfig satisfies LoadBalancingConfigConstructor,
  );
}

/** Channel options for subchannels: without the resolver's per-channel attributes. */
function subchannelArgs(options: ChannelOptions): ChannelOptions {
  const args: ChannelOptions = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === experimental.CHANNEL_ARGS_CONFIG_SELECTOR_KEY) continue;
    args[key] = value as unknown;
  }
  return args;
}
