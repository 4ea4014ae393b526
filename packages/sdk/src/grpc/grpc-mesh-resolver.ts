// The name resolver of one mesh for `xds:///name[:port]` targets: waits for the listener's full
// config (runtime.whenReady), then reports the endpoints of every cluster the listener reaches,
// a service config selecting the mesh's LB policy, and the channel's ConfigSelector; re-reports
// on every config change. gRFC A28 / A31; the counterpart of grpc-js-xds's resolver-xds.ts.
import { experimental, status as GrpcStatus, type ServiceConfig } from '@grpc/grpc-js';
import { WeftError } from '@weft/xds-client';
import { GrpcMeshChannel } from './grpc-mesh-channel.js';
import type { GrpcMeshContext } from './grpc-mesh-context.js';
import { MESH_CHANNEL_ATTRIBUTE } from './grpc-mesh-load-balancer.js';

/** The authority a target names: `xds:///inventory:9090` → `inventory:9090`; undefined if unusable. */
export function authorityOfTarget(target: experimental.GrpcUri): string | undefined {
  // `xds://AUTHORITY/name` names an xDS federation authority (gRFC A47), which Weft does not serve.
  if (target.authority !== undefined && target.authority !== '') return undefined;
  const name = target.path.replace(/^\/+/, '');
  return name === '' ? undefined : name;
}

/** One channel's resolver, bound to one mesh for its whole life. */
export class GrpcMeshResolver implements experimental.Resolver {
  readonly channel: GrpcMeshChannel | undefined;
  private readonly serviceConfig: ServiceConfig;
  private readonly targetError: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private ready = false;
  private waiting = false;
  private reportQueued = false;
  /** Bumped by destroy(): results of work started before it are dropped. */
  private generation = 0;

  constructor(
    private readonly ctx: GrpcMeshContext,
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    /** Called once when grpc-js destroys this resolver, so the mesh stops tracking it. */
    private readonly onDestroy: (resolver: GrpcMeshResolver) => void,
  ) {
    const authority = authorityOfTarget(target);
    if (authority === undefined) {
      this.targetError = `weft: target ${experimental.uriToString(target)} must be ${ctx.scheme}:///NAME[:PORT] (no authority)`;
    } else {
      this.channel = new GrpcMeshChannel(ctx, authority);
    }
    this.serviceConfig = {
      loadBalancingConfig: [{ [ctx.meshId]: {} }],
      methodConfig: [],
    };
  }

  updateResolution(): void {
    const channel = this.channel;
    if (channel === undefined) {
      this.reportError(this.targetError ?? 'weft: bad target');
      return;
    }
    if (channel.closedReason !== undefined) {
      this.queueReport();
      return;
    }
    this.unsubscribe ??= this.ctx.runtime.onUpdate(channel.authority, () => {
      this.refresh(channel);
    });
    this.refresh(channel);
  }

  /** Re-reports when the config is in force, else (re)starts waiting for it. */
  private refresh(channel: GrpcMeshChannel): void {
    if (this.ready) {
      this.queueReport();
      return;
    }
    if (this.waiting) return;
    this.waiting = true;
    const generation = this.generation;
    this.ctx.runtime.whenReady(channel.authority, this.ctx.resolutionTimeoutMs).then(
      () => {
        if (generation !== this.generation) return;
        this.waiting = false;
        this.ready = true;
        channel.lastResolutionError = undefined;
        this.queueReport();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.waiting = false;
        const error = WeftError.from(err);
        channel.lastResolutionError = `${error.code}: ${error.message}`;
        this.ctx.logger.warn('grpc: resolution failed', {
          meshId: this.ctx.meshId,
          authority: channel.authority,
          code: error.code,
          error: error.message,
        });
        this.queueReport();
      },
    );
  }

  destroy(): void {
    this.generation += 1;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.ready = false;
    this.waiting = false;
    this.onDestroy(this);
  }

  /** The mesh closed: report it now; later calls on this channel fail with `reason`. */
  close(reason: string): void {
    if (this.channel === undefined) return;
    this.channel.closedReason = reason;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.queueReport();
  }

  /** Re-reports the current endpoints (the workload certificate rotated); no-op until ready. */
  refreshSubchannels(): void {
    if (this.ready && this.channel?.closedReason === undefined) this.queueReport();
  }

  /** Coalesces bursts of updates into one report, after the current tick (never synchronous). */
  private queueReport(): void {
    if (this.reportQueued) return;
    this.reportQueued = true;
    const generation = this.generation;
    process.nextTick(() => {
      this.reportQueued = false;
      if (generation === this.generation) this.report();
    });
  }

  private report(): void {
    const channel = this.channel;
    if (channel === undefined) return;
    const attributes = {
      [experimental.CHANNEL_ARGS_CONFIG_SELECTOR_KEY]: channel.configSelector,
      [MESH_CHANNEL_ATTRIBUTE]: channel,
    };
    const config = experimental.statusOrFromValue(this.serviceConfig);
    if (channel.closedReason !== undefined) {
      this.listener(
        experimental.statusOrFromError({
          code: GrpcStatus.UNAVAILABLE,
          details: channel.closedReason,
        }),
        attributes,
        config,
        channel.closedReason,
      );
      return;
    }
    if (!this.ready) {
      // whenReady failed: install the ConfigSelector anyway so calls fail with the reason
      // instead of waiting; the next updateResolution() (grpc-js backs off) tries again.
      const details = `weft: no complete xDS config for ${channel.authority}: ${channel.lastResolutionError ?? 'unknown'}`;
      this.listener(
        experimental.statusOrFromError({ code: GrpcStatus.UNAVAILABLE, details }),
        attributes,
        config,
        details,
      );
      return;
    }
    const endpoints = this.ctx.runtime.endpointsOf(channel.authority);
    channel.endpoints = endpoints;
    this.listener(
      experimental.statusOrFromValue(
        endpoints.map((e) => ({ addresses: [{ host: e.address, port: e.port }] })),
      ),
      attributes,
      config,
      '',
    );
  }

  private reportError(details: string): void {
    process.nextTick(() => {
      this.listener(
        experimental.statusOrFromError({ code: GrpcStatus.UNAVAILABLE, details }),
        {},
        null,
        details,
      );
    });
  }
}
