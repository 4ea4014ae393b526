// Channel credentials of one mesh for grpc-js (`mesh.grpcCredentials()`): per subchannel, mTLS
// with the workload's CURRENT certificate and the mesh's trust bundle when the mesh LB policy
// marked the subchannel's args with its cluster's UpstreamTlsContext (ISTIO_MUTUAL), the SPIFFE
// ID of the server checked against the cluster's SAN matchers; the fallback credentials
// (plaintext by default) otherwise. The counterpart of grpc-js-xds's XdsChannelCredentials
// (gRFC A29), fed by the SDK's certificate agent instead of file-watcher providers.
// https://github.com/grpc/proposal/blob/master/A29-xds-tls-security.md
import type { Socket } from 'node:net';
import { CallCredentials, ChannelCredentials } from '@grpc/grpc-js';
import type { ChannelOptions, experimental } from '@grpc/grpc-js';
import { WeftError } from '@weft/xds-client';
import type { Clock, ClusterUpdate } from '@weft/xds-client';
import type { WorkloadCertificateAgent } from '../security/certificate-agent.js';
import type { TlsHandshakes } from '../security/tls-handshakes.js';
import { connectUpstreamTls, upstreamTlsPolicy } from '../security/upstream-tls.js';
import type { UpstreamTlsPolicy } from '../security/upstream-tls.js';

/**
 * The subchannel arg carrying a cluster's TLS requirement ({@link GrpcUpstreamTls}) from the mesh
 * LB policy to the credentials. Not under grpc-js's excluded prefix: subchannels must see it.
 */
export const UPSTREAM_TLS_ARG = 'weft.upstream_tls' as const;

/** A cluster's TLS requirement as a subchannel arg (one object per settings: pool-shareable). */
export interface GrpcUpstreamTls {
  readonly cluster: string;
  /**
   * The generation of the workload material when it was made (bumped by each issue, rotation or
   * trust-bundle change): new material makes new args, so the LB policy replaces the cluster's
   * subchannels and new calls handshake with the current certificate and bundle.
   */
  readonly generation: string;
  /** The compiled policy, or why the SDK cannot serve the cluster's TLS settings. */
  readonly policy: UpstreamTlsPolicy | WeftError;
  readonly connectTimeoutMs: number;
}

/** Whether two TLS requirements ask for the same transport (generations aside). */
export function sameUpstreamTls(
  a: GrpcUpstreamTls | undefined,
  b: GrpcUpstreamTls | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return tlsSettingsKey(a) === tlsSettingsKey(b);
}

function tlsSettingsKey(tls: GrpcUpstreamTls): string {
  return tls.policy instanceof WeftError ? `error ${tls.policy.message}` : tls.policy.key;
}

/** `mTLS (…)` or `plaintext`, for messages. */
export function describeUpstreamTls(tls: GrpcUpstreamTls | undefined): string {
  if (tls === undefined) return 'plaintext';
  return tls.policy instanceof WeftError
    ? 'mTLS (unsupported settings)'
    : `mTLS (${tls.policy.expected || 'any SPIFFE ID'})`;
}

/** What the mesh's gRPC path needs for outbound mTLS. */
export interface GrpcMeshSecurity {
  /** Undefined: no identity configured (mTLS clusters fail WEFT_TLS_NO_CERTIFICATE). */
  readonly certificates: WorkloadCertificateAgent | undefined;
  readonly handshakes: TlsHandshakes;
}

/**
 * Tells the mesh LB policy whether a subchannel it just created uses this mesh's credentials.
 * grpc-js builds a subchannel's connector synchronously inside `createSubchannel` (or hands out a
 * pooled subchannel made earlier with equal credentials), so: the credentials note each connector
 * they make, and the policy brackets `createSubchannel` with begin/end. Unknown means "not ours":
 * a TLS subchannel is then never connected (never plaintext).
 */
export class GrpcCredentialsProbe {
  private made = false;
  /** Real subchannels whose connector these mesh credentials made. */
  private readonly ours = new WeakSet<object>();

  begin(): void {
    this.made = false;
  }

  noteConnector(): void {
    this.made = true;
  }

  /** Whether `realSubchannel` (just created or reused) connects through this mesh's credentials. */
  end(realSubchannel: object): boolean {
    if (this.made) this.ours.add(realSubchannel);
    this.made = false;
    return this.ours.has(realSubchannel);
  }
}

/** Per mesh: one {@link GrpcUpstreamTls} per distinct settings, so equal args stay `===`. */
export class GrpcUpstreamTlsCache {
  private readonly byCluster = new WeakMap<ClusterUpdate, GrpcUpstreamTls | null>();
  private readonly byKey = new Map<string, GrpcUpstreamTls>();

  /** `generation()`: the current generation of the workload material. */
  constructor(private readonly generation: () => string) {}

  /** The TLS requirement of `cluster`; undefined when it has no UpstreamTlsContext. */
  of(cluster: ClusterUpdate | undefined): GrpcUpstreamTls | undefined {
    if (cluster === undefined) return undefined;
    const cached = this.byCluster.get(cluster);
    const generation = this.generation();
    if (cached === null) return undefined;
    if (cached?.generation === generation) return cached;
    const value = cluster.tls === undefined ? null : this.intern(cluster, generation);
    this.byCluster.set(cluster, value);
    return value ?? undefined;
  }

  private intern(cluster: ClusterUpdate, generation: string): GrpcUpstreamTls {
    const tls = cluster.tls;
    const policy =
      tls === undefined
        ? new WeftError('WEFT_INTERNAL', `cluster ${cluster.name}: no TLS`)
        : upstreamTlsPolicy(cluster.name, tls);
    const key = JSON.stringify([
      cluster.name,
      policy instanceof WeftError ? policy.message : policy.key,
      cluster.connectTimeoutMs,
    ]);
    const known = this.byKey.get(key);
    if (known?.generation === generation) return known;
    // One entry per settings: the previous generation's object is dropped.
    const value = Object.freeze({
      cluster: cluster.name,
      generation,
      policy,
      connectTimeoutMs: cluster.connectTimeoutMs,
    });
    this.byKey.set(key, value);
    return value;
  }
}

/** What {@link MeshChannelCredentials} needs from its mesh. */
export interface MeshChannelCredentialsContext {
  readonly meshId: string;
  readonly security: GrpcMeshSecurity | undefined;
  readonly clock: Clock;
  readonly probe: GrpcCredentialsProbe;
}

type SecureConnector = experimental.SecureConnector;
type SecureConnectResult = experimental.SecureConnectResult;

/** The channel credentials `mesh.grpcCredentials(fallback)` returns. */
export class MeshChannelCredentials extends ChannelCredentials {
  constructor(
    private readonly ctx: MeshChannelCredentialsContext,
    private readonly fallback: ChannelCredentials,
  ) {
    super();
  }

  _isSecure(): boolean {
    // Like XdsChannelCredentials: secure whenever the cluster asks for it.
    return true;
  }

  _equals(other: ChannelCredentials): boolean {
    return (
      other === this ||
      (other instanceof MeshChannelCredentials &&
        other.ctx === this.ctx &&
        this.fallback._equals(other.fallback))
    );
  }

  _createSecureConnector(
    channelTarget: experimental.GrpcUri,
    options: ChannelOptions,
    callCredentials?: CallCredentials,
  ): SecureConnector {
    this.ctx.probe.noteConnector();
    const tls = options[UPSTREAM_TLS_ARG] as GrpcUpstreamTls | undefined;
    if (tls === undefined) {
      return this.fallback._createSecureConnector(channelTarget, options, callCredentials);
    }
    return new MeshTlsConnector(this.ctx, tls, callCredentials ?? CallCredentials.createEmpty());
  }
}

/** One subchannel's connector to an mTLS cluster. */
class MeshTlsConnector implements SecureConnector {
  constructor(
    private readonly ctx: MeshChannelCredentialsContext,
    private readonly tls: GrpcUpstreamTls,
    private readonly callCredentials: CallCredentials,
  ) {}

  connect(socket: Socket): Promise<SecureConnectResult> {
    const { tls } = this;
    const policy = tls.policy;
    if (policy instanceof WeftError)
      return Promise.reject(new Error(`${policy.code}: ${policy.message}`, { cause: policy }));
    const security = this.ctx.security;
    if (security === undefined) {
      return Promise.reject(
        new WeftError(
          'WEFT_UNSUPPORTED',
          `cluster ${tls.cluster}: mTLS is not set up in mesh ${this.ctx.meshId}`,
        ),
      );
    }
    return new Promise<SecureConnectResult>((resolve, reject) => {
      connectUpstreamTls(
        {
          policy,
          host: socket.remoteAddress ?? '',
          port: socket.remotePort ?? 0,
          timeoutMs: tls.connectTimeoutMs,
          certificates: security.certificates,
          handshakes: security.handshakes,
          clock: this.ctx.clock,
          socket,
          alpnProtocols: ['h2'],
        },
        (err, tlsSocket) => {
          if (err !== null || tlsSocket === null) {
            // grpc-js reports `${error}` as the subchannel's error: keep the mesh's code in it.
            reject(
              err instanceof WeftError
                ? new Error(`${err.code}: ${err.message}`, { cause: err })
                : (err ?? new Error('no TLS socket')),
            );
            return;
          }
          resolve({ socket: tlsSocket, secure: true });
        },
      );
    });
  }

  waitForReady(): Promise<void> {
    // connectUpstreamTls waits for the first certificate itself (bounded by the agent).
    return Promise.resolve();
  }

  getCallCredentials(): CallCredentials {
    return this.callCredentials;
  }

  destroy(): void {
    // Nothing held: the secure context is the agent's, read at each connect.
  }
}
