// Plugs a mesh into @grpc/grpc-js: a resolver for `xds:///name[:port]` targets and an LB policy
// that route every call through the core's tables (gRFC A28 semantics), so users' existing
// grpc-js clients work unchanged. Installed by createMesh(), never at import (STYLE rule 12).
// https://github.com/grpc/proposal/blob/master/A28-xds-traffic-splitting-and-routing.md
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { ConfigError, type Clock, type ConfigIssue, type Logger } from '@weft/xds-client';
import { ClusterAdmission } from '../cluster/cluster-admission.js';
import type { ClusterAdmissionStats } from '../cluster/cluster-admission.js';
import type { ServiceBreakers } from '../breaker/service-breakers.js';
import { RetryBudgets } from '../cluster/retry-budget.js';
import { LocalRateLimiter } from '../filters/local-rate-limit.js';
import { FaultInjector } from '../filters/fault.js';
import { GrpcMirror } from '../filters/grpc-mirror.js';
import type { MeshRuntime } from '../runtime/mesh-runtime.js';
import { MeshTracing } from '../tracing/mesh-tracing.js';
import {
  GRPC_CALL_DIAGNOSTICS_CHANNEL,
  type GrpcCounters,
  type GrpcMeshContext,
} from './grpc-mesh-context.js';
import { registerMeshLoadBalancer } from './grpc-mesh-load-balancer.js';
import { GrpcMeshResolver } from './grpc-mesh-resolver.js';
import {
  addResolverProvider,
  allocateMeshId,
  removeResolverProvider,
  type GrpcResolverProvider,
} from './grpc-registry.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import {
  GrpcCredentialsProbe,
  GrpcUpstreamTlsCache,
  MeshChannelCredentials,
  type GrpcMeshSecurity,
} from './grpc-mesh-credentials.js';

/** Options of installGrpcIntegration. */
export interface GrpcIntegrationOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** URI scheme to serve. Default `xds` (takes over grpc-js-xds's scheme in this process). */
  readonly scheme?: string;
  /** How long a channel's first resolution waits for a complete config, in ms. Default 15,000. */
  readonly resolutionTimeoutMs?: number;
  /** Service-level breakers per cluster (createMesh passes the mesh's, shared with HTTP). Default: none. */
  readonly breakers?: ServiceBreakers;
  /** The mesh's local rate limits (buckets shared with its HTTP path). Default: one of its own. */
  readonly localRateLimiter?: LocalRateLimiter;
  /** Istio metrics / access log of each call at its end (createMesh's). Default: none. */
  readonly telemetry?: MeshTelemetry;
  /** Uniform in [0, 1), for fault-injection percentages. Default: Math.random. */
  readonly random?: () => number;
  /** Spans and x-request-id (createMesh passes the mesh's). Default: tracing off. */
  readonly tracing?: MeshTracing;
  /** Outbound mTLS: the workload certificates and handshake counters (createMesh passes the mesh's). Default: none (mTLS clusters fail). */
  readonly security?: GrpcMeshSecurity;
}

/** Validated GrpcIntegrationOptions. */
export interface ResolvedGrpcIntegrationOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly scheme: string;
  readonly resolutionTimeoutMs: number;
  readonly random: () => number;
}

/** Counters of one mesh's gRPC integration, as read by `stats()`. */
export interface GrpcIntegrationStats {
  /** Channels currently bound to this mesh (live resolvers). */
  readonly channels: number;
  /** Calls routed and not yet finished. */
  readonly callsInFlight: number;
  readonly callsStarted: number;
  /** Finished with status OK. */
  readonly callsSucceeded: number;
  /** Finished with another status after the mesh routed them. */
  readonly callsFailed: number;
  /** Refused by the mesh before any pick (no route, no config, mesh closed). */
  readonly callsRejected: number;
  /** Picks that waited for a connecting endpoint. */
  readonly picksQueued: number;
  /** Picks that found no endpoint able to serve (the call failed UNAVAILABLE unless waitForReady). */
  readonly picksFailed: number;
  /** Leases reported as 'connect-failure' because their endpoint's subchannel was unreachable. */
  readonly connectFailuresReported: number;
  /** Attempts after a call's first, made by grpc-js under the route's retry policy (gRFC A44). */
  readonly retries: number;
  /** Calls that ended with a retriable status after their last allowed attempt. */
  readonly retriesExhausted: number;
  /** Retries refused because the cluster's max_retries (or retry budget) was reached. */
  readonly retryBudgetExceeded: number;
  /** Picks dropped UNAVAILABLE because the cluster was at its max_requests (gRFC A32; UO). */
  readonly overflows: number;
  /**
   * Circuit-breaker state per cluster: `active` calls (from pick to end) and `overflows`; gRPC
   * has no pending queue and grpc-js owns the connections, so `pending` and `connections` are 0.
   */
  readonly clusters: Readonly<Record<string, ClusterAdmissionStats>>;
  /** Calls refused by a local rate limit (RESOURCE_EXHAUSTED, flag RL); also in callsRejected. */
  readonly callsRateLimited: number;
  /** Calls a fault filter delayed before they were sent (gRFC A33). */
  readonly faultsDelayed: number;
  /** Calls a fault filter ended with its status without reaching a server (gRFC A33). */
  readonly faultsAborted: number;
  /** Fault filters not applied because their max_active_faults were active. */
  readonly faultsOverflowed: number;
  /** Mirror copies sent (calls with one request message, after the primary call ended). */
  readonly mirrored: number;
  /** Mirror copies that did not reach a server (no endpoint, UNAVAILABLE, DEADLINE_EXCEEDED). */
  readonly mirrorFailures: number;
  /**
   * Calls drawn for mirroring that sent more (or fewer) than one request message: not mirrored
   * (logged once per route).
   */
  readonly mirrorsSkippedStreaming: number;
  /** Copies dropped because the mirror cluster was at its circuit breaker's max_requests. */
  readonly mirrorsOverflowed: number;
  /**
   * Calls to an mTLS cluster refused because their channel does not use this mesh's
   * `grpcCredentials()` (never sent in plaintext); also in callsRejected.
   */
  readonly callsRefusedNoMeshCredentials: number;
  /**
   * Picks refused because the endpoint's only subchannel was made for another cluster with other
   * TLS settings (one address in an mTLS and a plaintext cluster: gRPC keeps one per address).
   */
  readonly picksRefusedTlsMismatch: number;
}

/** A mesh's hold on grpc-js. */
export interface GrpcIntegration {
  /**
   * This mesh's id (`weft_mesh_<n>`), also the name of its grpc-js LB policy. Pass it as the
   * channel option `weft.mesh_id` to bind a channel to this mesh explicitly.
   */
  readonly meshId: string;
  /** The URI scheme served. */
  readonly scheme: string;
  stats(): GrpcIntegrationStats;
  /**
   * Channel credentials for channels of this mesh: mTLS with the workload certificate (checking
   * the server's SPIFFE ID) to clusters that require it, `fallback` to the others.
   */
  channelCredentials(fallback: ChannelCredentials): ChannelCredentials;
  /**
   * Stops serving: channels bound to this mesh fail every later call with UNAVAILABLE "mesh
   * closed" and drop their connections; new channels bind to the next most recent open mesh,
   * or fail. grpc-js has no unregister: the resolver class and LB policy name stay registered
   * (inert) for the life of the process. Idempotent.
   */
  uninstall(): void;
}

const SCHEME_PATTERN = /^[a-z][a-z0-9+.-]*$/;
const DEFAULT_RESOLUTION_TIMEOUT_MS = 15_000;

/** Validates GrpcIntegrationOptions once; throws a ConfigError listing every issue. */
export function resolveGrpcIntegrationOptions(
  options: GrpcIntegrationOptions,
): ResolvedGrpcIntegrationOptions {
  const issues: ConfigIssue[] = [];
  const scheme = options.scheme ?? 'xds';
  if (typeof scheme !== 'string' || !SCHEME_PATTERN.test(scheme)) {
    issues.push({
      path: 'scheme',
      message: `expected a lower-case URI scheme, got ${JSON.stringify(scheme)}`,
    });
  }
  const resolutionTimeoutMs = options.resolutionTimeoutMs ?? DEFAULT_RESOLUTION_TIMEOUT_MS;
  if (!Number.isFinite(resolutionTimeoutMs) || resolutionTimeoutMs <= 0) {
    issues.push({
      path: 'resolutionTimeoutMs',
      message: `expected a positive number of ms, got ${String(resolutionTimeoutMs)}`,
    });
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    issues.push({ path: 'random', message: 'expected a function returning [0, 1)' });
  }
  if (issues.length > 0) throw new ConfigError('grpc integration options', issues);
  return Object.freeze({
    logger: options.logger,
    clock: options.clock,
    scheme,
    resolutionTimeoutMs,
    random: options.random ?? Math.random,
  });
}

/**
 * Registers `runtime` with grpc-js so `SCHEME:///name[:port]` channels created from now on route
 * per call through the mesh. Call once per mesh (createMesh does); undo with `uninstall()`.
 */
export function installGrpcIntegration(
  runtime: MeshRuntime,
  options: GrpcIntegrationOptions,
): GrpcIntegration {
  const resolved = resolveGrpcIntegrationOptions(options);
  /** Bumped by every new workload material (issue, rotation, trust-bundle change). */
  let certificateGeneration = 0;
  const counters: GrpcCounters = {
    callsStarted: 0,
    callsSucceeded: 0,
    callsFailed: 0,
    callsRejected: 0,
    picksQueued: 0,
    picksFailed: 0,
    connectFailuresReported: 0,
    retries: 0,
    retriesExhausted: 0,
    retryBudgetExceeded: 0,
    overflows: 0,
    callsRateLimited: 0,
    faultsDelayed: 0,
    faultsAborted: 0,
    faultsOverflowed: 0,
    mirrored: 0,
    mirrorFailures: 0,
    mirrorsSkippedStreaming: 0,
    mirrorsOverflowed: 0,
    callsRefusedNoMeshCredentials: 0,
    picksRefusedTlsMismatch: 0,
  };
  const admission = new ClusterAdmission(resolved.logger, 'grpc');
  const ctx: GrpcMeshContext = {
    meshId: allocateMeshId(),
    scheme: resolved.scheme,
    runtime,
    logger: resolved.logger,
    clock: resolved.clock,
    resolutionTimeoutMs: resolved.resolutionTimeoutMs,
    counters,
    retryBudgets: new RetryBudgets(),
    admission,
    breakers: options.breakers,
    rateLimiter:
      options.localRateLimiter ??
      new LocalRateLimiter({ clock: resolved.clock, logger: resolved.logger }),
    faults: new FaultInjector(resolved.random, counters, resolved.logger, 'grpc'),
    mirror: new GrpcMirror(counters, resolved.logger, resolved.clock, admission, resolved.random),
    diagnostics: diagnosticsChannel.channel(GRPC_CALL_DIAGNOSTICS_CHANNEL),
    telemetry: options.telemetry,
    tracing: options.tracing ?? new MeshTracing(undefined, 'off'),
    security: options.security,
    credentialsProbe: new GrpcCredentialsProbe(),
    upstreamTls: new GrpcUpstreamTlsCache(() => String(certificateGeneration)),
  };
  const credentialsContext = {
    meshId: ctx.meshId,
    security: ctx.security,
    clock: ctx.clock,
    probe: ctx.credentialsProbe,
  };
  const resolvers = new Set<GrpcMeshResolver>();
  let installed = true;

  const provider: GrpcResolverProvider = {
    meshId: ctx.meshId,
    createResolver: (target, listener, _channelOptions: ChannelOptions) => {
      const resolver = new GrpcMeshResolver(ctx, target, listener, (r) => resolvers.delete(r));
      if (!installed) resolver.close(closedReason(ctx));
      else resolvers.add(resolver);
      return resolver;
    },
  };

  // A rotation (or the first certificate, or a trust-bundle change) re-reports every channel: the LB policy replaces the
  // subchannels of mTLS clusters, so new connections present the new certificate.
  const offRotation = ctx.security?.certificates?.onChange(() => {
    certificateGeneration += 1;
    for (const resolver of resolvers) resolver.refreshSubchannels();
  });

  registerMeshLoadBalancer(ctx);
  addResolverProvider(ctx.scheme, provider);
  ctx.logger.info('grpc: integration installed', { meshId: ctx.meshId, scheme: ctx.scheme });

  return {
    meshId: ctx.meshId,
    scheme: ctx.scheme,
    stats: () => {
      let callsInFlight = 0;
      for (const r of resolvers) callsInFlight += r.channel?.calls.size ?? 0;
      return Object.freeze({
        channels: resolvers.size,
        callsInFlight,
        ...counters,
        clusters: ctx.admission.snapshot(),
      });
    },
    channelCredentials: (fallback) => new MeshChannelCredentials(credentialsContext, fallback),
    uninstall: () => {
      if (!installed) return;
      installed = false;
      offRotation?.();
      removeResolverProvider(ctx.scheme, provider);
      ctx.mirror.close();
      const reason = closedReason(ctx);
      for (const resolver of resolvers) resolver.close(reason);
      ctx.logger.info('grpc: integration uninstalled', {
        meshId: ctx.meshId,
        channels: resolvers.size,
      });
    },
  };
}

function closedReason(ctx: GrpcMeshContext): string {
  return `weft: mesh ${ctx.meshId} closed; ${ctx.scheme}: channels created under it no longer route (create a new client after createMesh())`;
}
