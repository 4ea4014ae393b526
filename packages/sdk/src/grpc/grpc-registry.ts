// The one process-wide state Weft cannot avoid: grpc-js keeps name resolvers in a module-level
// registry keyed by URI scheme, with no way to unregister (STYLE rule 12). Each scheme gets one
// delegating resolver class; which mesh serves a channel is decided here, per channel.
import { experimental, status as GrpcStatus, type ChannelOptions } from '@grpc/grpc-js';

/**
 * Channel option naming the mesh a channel must use (the value of `GrpcIntegration.meshId`).
 * Without it a channel binds to the most recently installed open mesh for its scheme, at its
 * first name resolution.
 */
export const GRPC_MESH_ID_OPTION = 'weft.mesh_id' as const;

/** What the registry needs from one installed integration. */
export interface GrpcResolverProvider {
  readonly meshId: string;
  createResolver(
    target: experimental.GrpcUri,
    listener: experimental.ResolverListener,
    options: ChannelOptions,
  ): experimental.Resolver;
}

// Open providers per scheme, oldest first: the last one is the default for new channels.
const providersByScheme = new Map<string, GrpcResolverProvider[]>();
type ResolverConstructor = Parameters<typeof experimental.registerResolver>[1];
const resolverClassByScheme = new Map<string, ResolverConstructor>();
let meshCount = 0;

/** A process-unique mesh id, also the name of that mesh's grpc-js LB policy: `weft_mesh_<n>`. */
export function allocateMeshId(): string {
  meshCount += 1;
  return `weft_mesh_${meshCount}`;
}

/**
 * Makes `provider` the default for new `scheme:` channels. (Re-)registers the delegating
 * resolver every time, so a mesh created after something else claimed the scheme (e.g.
 * grpc-js-xds's `register()`) takes it back.
 */
export function addResolverProvider(scheme: string, provider: GrpcResolverProvider): void {
  const list = providersByScheme.get(scheme) ?? [];
  list.push(provider);
  providersByScheme.set(scheme, list);
  let resolverClass = resolverClassByScheme.get(scheme);
  if (resolverClass === undefined) {
    resolverClass = createDelegatingResolverClass(scheme);
    resolverClassByScheme.set(scheme, resolverClass);
  }
  experimental.registerResolver(scheme, resolverClass);
}

/** Removes `provider`; the next most recent open mesh (if any) becomes the default again. */
export function removeResolverProvider(scheme: string, provider: GrpcResolverProvider): void {
  const list = providersByScheme.get(scheme);
  if (list === undefined) return;
  const index = list.indexOf(provider);
  if (index !== -1) list.splice(index, 1);
}

function findProvider(scheme: string, options: ChannelOptions): GrpcResolverProvider | string {
  const list = providersByScheme.get(scheme) ?? [];
  const wanted: unknown = options[GRPC_MESH_ID_OPTION];
  if (wanted !== undefined) {
    const found = list.find((p) => p.meshId === wanted);
    return (
      found ??
      `weft: mesh ${JSON.stringify(wanted)} (channel option ${GRPC_MESH_ID_OPTION}) is closed or was never created`
    );
  }
  const last = list.at(-1);
  return (
    last ??
    `weft: no open mesh serves ${scheme}: targets (create the mesh before the first call; a closed mesh stops serving)`
  );
}

function createDelegatingResolverClass(scheme: string): ResolverConstructor {
  /** Binds the channel to a mesh at its first resolution, then forwards to that mesh's resolver. */
  class WeftDelegatingResolver implements experimental.Resolver {
    private inner: experimental.Resolver | undefined;

    constructor(
      private readonly target: experimental.GrpcUri,
      private readonly listener: experimental.ResolverListener,
      private readonly options: ChannelOptions,
    ) {}

    updateResolution(): void {
      if (this.inner === undefined) {
        const provider = findProvider(scheme, this.options);
        if (typeof provider === 'string') {
          // Listener callbacks must never run synchronously with updateResolution().
          process.nextTick(() => {
            this.listener(
              experimental.statusOrFromError({ code: GrpcStatus.UNAVAILABLE, details: provider }),
              {},
              null,
              provider,
            );
          });
          return;
        }
        this.inner = provider.createResolver(this.target, this.listener, this.options);
      }
      this.inner.updateResolution();
    }

    destroy(): void {
      this.inner?.destroy();
    }

    static getDefaultAuthority(target: experimental.GrpcUri): string {
      return target.path.replace(/^\/+/, '');
    }
  }
  return WeftDelegatingResolver;
}
