// createMeshRuntime: the SDK core behind the MeshRuntime contract. Follows listeners on demand,
// keeps one immutable ListenerTable per listener, and routes synchronously from it.
// DESIGN.md "The request path" steps 1-3; STYLE rules 2, 12, 15, 21, 26.
import {
  ConfigError,
  DEFAULT_RESOURCE_TYPES,
  WeftError,
  silentLogger,
  systemClock,
} from '@weft/xds-client';
import type {
  Clock,
  ClusterUpdate,
  ConfigIssue,
  ListenerUpdate,
  Logger,
  TimerHandle,
} from '@weft/xds-client';
import { EndpointHealthStore } from '../cluster/endpoint-health-store.js';
import { OutlierDetectors } from '../cluster/outlier-detectors.js';
import { randomHash } from '../routing/request-hash.js';
import { RoutingError } from '../routing/routing-error.js';
import type { XdsConfig } from '../xds/xds-config.js';
import type { XdsDependencyResourceTypes } from '../xds/xds-dependency-manager.js';
import { XdsDependencyManager } from '../xds/xds-dependency-manager.js';
import type { XdsWatchSource } from '../xds/xds-watch-source.js';
import type { TableContext } from './listener-table.js';
import { ListenerTable } from './listener-table.js';
import type {
  EndpointLocality,
  MeshRuntime,
  RouteDecision,
  RouteInput,
  UpstreamEndpoint,
} from './mesh-runtime.js';

/** Options of createMeshRuntime. */
export interface MeshRuntimeOptions {
  /** Where watches go: the XdsClient, or a fake in tests. */
  readonly watchSource: XdsWatchSource;
  /** This workload's locality (bootstrap `node.locality`); missing keys are ''. */
  readonly localLocality: Partial<EndpointLocality>;
  /**
   * The resource-type objects registered with `watchSource` (the XdsClient checks identity).
   * Default: `DEFAULT_RESOURCE_TYPES` of @weft/xds-client.
   */
  readonly resourceTypes?: XdsDependencyResourceTypes;
  /** Default: systemClock. */
  readonly clock?: Clock;
  /** Default: silentLogger. */
  readonly logger?: Logger;
  /** Uniform in [0, 1), for weighted clusters, LB and random hashes. Default: Math.random. */
  readonly random?: () => number;
  /**
   * A referenced resource unanswered this long counts as does-not-exist, so a route to a cluster
   * that never arrives fails with WEFT_NO_HEALTHY_UPSTREAM instead of holding the update back.
   * Milliseconds; default 15000 (the xDS protocol's recommended does-not-exist timer).
   */
  readonly resourceWaitMs?: number;
  /**
   * Told each listener configuration that comes into force (after its tables are built), e.g.
   * for the control plane's tracing sampling on the HCM. Must not throw.
   */
  readonly onListener?: (listenerName: string, listener: ListenerUpdate) => void;
}

/** Validated MeshRuntimeOptions. Frozen. */
export interface ResolvedMeshRuntimeOptions {
  readonly watchSource: XdsWatchSource;
  readonly localLocality: EndpointLocality;
  readonly resourceTypes: XdsDependencyResourceTypes;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  readonly resourceWaitMs: number;
  readonly onListener: ((listenerName: string, listener: ListenerUpdate) => void) | undefined;
}

/** Default of `MeshRuntimeOptions.resourceWaitMs`. */
export const DEFAULT_RESOURCE_WAIT_MS = 15_000;

const XDS_SCHEME = 'xds:///';

/** Validates every option at once; throws one ConfigError listing every issue. */
export function resolveMeshRuntimeOptions(options: MeshRuntimeOptions): ResolvedMeshRuntimeOptions {
  const issues: ConfigIssue[] = [];
  const o = options as Partial<MeshRuntimeOptions> | undefined;
  if (typeof o?.watchSource?.watch !== 'function') {
    issues.push({
      path: 'watchSource',
      message: 'expected an object with watch(type, name, watcher)',
    });
  }
  const loc = (o?.localLocality ?? {}) as Record<string, unknown>;
  for (const key of ['region', 'zone', 'subZone'] as const) {
    if (loc[key] !== undefined && typeof loc[key] !== 'string') {
      issues.push({
        path: `localLocality.${key}`,
        message: `expected string, got ${typeof loc[key]}`,
      });
    }
  }
  if (o?.random !== undefined && typeof o.random !== 'function') {
    issues.push({ path: 'random', message: 'expected a function returning [0, 1)' });
  }
  const wait = o?.resourceWaitMs ?? DEFAULT_RESOURCE_WAIT_MS;
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait <= 0) {
    issues.push({
      path: 'resourceWaitMs',
      message: `expected a positive number of ms, got ${String(wait)}`,
    });
  }
  if (issues.length > 0 || o?.watchSource === undefined)
    throw new ConfigError('createMeshRuntime', issues);
  const [cluster, clusterLoadAssignment, listener, routeConfiguration] = DEFAULT_RESOURCE_TYPES;
  return Object.freeze({
    watchSource: o.watchSource,
    localLocality: Object.freeze({
      region: typeof loc.region === 'string' ? loc.region : '',
      zone: typeof loc.zone === 'string' ? loc.zone : '',
      subZone: typeof loc.subZone === 'string' ? loc.subZone : '',
    }),
    resourceTypes:
      o.resourceTypes ??
      Object.freeze({ listener, routeConfiguration, cluster, clusterLoadAssignment }),
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
    random: o.random ?? Math.random,
    resourceWaitMs: wait,
    onListener: o.onListener,
  });
}

interface Waiter {
  resolve(): void;
  reject(err: WeftError): void;
  timer: TimerHandle;
}

interface ListenerEntry {
  readonly name: string;
  manager: XdsDependencyManager | undefined;
  table: ListenerTable | undefined;
  error: RoutingError | undefined;
  lastAmbientError: WeftError | undefined;
  readonly waiters: Set<Waiter>;
  readonly subscribers: Set<() => void>;
}

/** `xds:///inventory:8080` → `inventory:8080`; anything else is the listener name as given. */
export function listenerNameOf(authority: string): string {
  return authority.startsWith(XDS_SCHEME) ? authority.slice(XDS_SCHEME.length) : authority;
}

class MeshRuntimeImpl implements MeshRuntime {
  private readonly options: ResolvedMeshRuntimeOptions;
  private readonly listeners = new Map<string, ListenerEntry>();
  private readonly store: EndpointHealthStore;
  private readonly outliers: OutlierDetectors;
  private readonly ctx: TableContext;
  private closedError: WeftError | undefined;

  constructor(options: ResolvedMeshRuntimeOptions) {
    this.options = options;
    this.store = new EndpointHealthStore(options.clock);
    const clock = options.clock;
    const store = this.store;
    this.outliers = new OutlierDetectors({
      clock,
      logger: options.logger,
      random: options.random,
      onChange: () => {
        store.generation++; // balancers recompute their health view
      },
    });
    this.ctx = {
      store: this.store,
      outliers: this.outliers,
      now: () => clock.now(),
      random: options.random,
      localLocality: options.localLocality,
      hash: { channelId: randomHash(options.random), random: options.random },
    };
  }

  route(input: RouteInput): RouteDecision | WeftError | 'pending' {
    if (this.closedError !== undefined) return this.closedError;
    const name = listenerNameOf(input.authority);
    const entry = this.listeners.get(name);
    if (entry === undefined) return 'pending';
    const table = entry.table;
    if (table === undefined) return entry.error ?? 'pending';
    return table.route(name, input);
  }

  whenReady(authority: string, timeoutMs: number): Promise<void> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        `whenReady: timeoutMs must be >= 0, got ${timeoutMs}`,
      );
    }
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const entry = this.entry(listenerNameOf(authority), true);
    if (entry.table !== undefined) return Promise.resolve();
    if (entry.error !== undefined) return Promise.reject(entry.error);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.options.clock.setTimeout(() => {
          entry.waiters.delete(waiter);
          const missing = entry.manager?.missing() ?? [];
          reject(
            new RoutingError(
              'WEFT_TIMEOUT',
              'listener',
              `listener ${entry.name}: no complete configuration after ${timeoutMs} ms` +
                (missing.length > 0 ? `; waiting for ${missing.join(', ')}` : ''),
            ),
          );
        }, timeoutMs),
      };
      waiter.timer.unref?.();
      entry.waiters.add(waiter);
    });
  }

  endpointsOf(authority: string): readonly UpstreamEndpoint[] {
    return this.listeners.get(listenerNameOf(authority))?.table?.endpoints ?? [];
  }

  clusterOf(authority: string, clusterName: string): ClusterUpdate | undefined {
    return this.listeners.get(listenerNameOf(authority))?.table?.balancers.get(clusterName)
      ?.cluster;
  }

  onUpdate(authority: string, listener: () => void): () => void {
    const entry = this.entry(listenerNameOf(authority), false);
    entry.subscribers.add(listener);
    return () => {
      entry.subscribers.delete(listener);
    };
  }

  describe(): unknown {
    const routeConfigs = new Map<string, unknown>();
    const clusters = new Map<string, unknown>();
    const listeners = [...this.listeners.values()].map((e) => {
      const table = e.table;
      if (table !== undefined) {
        const rc = table.routes;
        routeConfigs.set(rc.name, {
          name: rc.name,
          virtualHosts: rc.virtualHosts.map((vh) => ({
            name: vh.name,
            domains: vh.virtualHost.domains,
            routes: vh.routes.map((r) => ({
              name: r.name,
              match: r.route.match,
              clusters: r.route.action.clusters.map((c) => ({ name: c.name, weight: c.weight })),
              timeoutMs: r.route.action.timeoutMs ?? null,
            })),
          })),
        });
        for (const [name, b] of table.balancers)
          if (!clusters.has(name)) clusters.set(name, b.describe());
      }
      return {
        name: e.name,
        state: table !== undefined ? 'ready' : e.error !== undefined ? 'error' : 'pending',
        routeConfigName: table?.routes.name ?? null,
        clusters: table === undefined ? [] : [...table.balancers.keys()],
        waitingFor: e.manager?.missing() ?? [],
        error:
          e.error === undefined
            ? null
            : { code: e.error.code, layer: e.error.layer, message: e.error.message },
        lastAmbientError:
          e.lastAmbientError === undefined
            ? null
            : { code: e.lastAmbientError.code, message: e.lastAmbientError.message },
      };
    });
    return {
      localLocality: this.options.localLocality,
      listeners,
      routeConfigs: [...routeConfigs.values()],
      clusters: [...clusters.values()],
    };
  }

  close(): void {
    if (this.closedError !== undefined) return;
    this.closedError = new WeftError('WEFT_CLOSED', 'the mesh runtime is closed');
    this.outliers.close();
    for (const entry of this.listeners.values()) {
      entry.manager?.close();
      for (const w of entry.waiters) {
        this.options.clock.clearTimeout(w.timer);
        w.reject(this.closedError);
      }
      entry.waiters.clear();
      entry.subscribers.clear();
      entry.table = undefined;
    }
  }

  private entry(name: string, start: boolean): ListenerEntry {
    let entry = this.listeners.get(name);
    if (entry === undefined) {
      entry = {
        name,
        manager: undefined,
        table: undefined,
        error: undefined,
        lastAmbientError: undefined,
        waiters: new Set(),
        subscribers: new Set(),
      };
      this.listeners.set(name, entry);
    }
    if (start && entry.manager === undefined && this.closedError === undefined) {
      const e = entry;
      const { watchSource, resourceTypes, clock, logger, resourceWaitMs } = this.options;
      e.manager = new XdsDependencyManager(
        { watchSource, listenerName: name, resourceTypes, clock, logger, resourceWaitMs },
        {
          onConfig: (config) => {
            this.applyConfig(e, config);
          },
          onError: (err) => {
            this.applyError(e, err);
          },
          onAmbientError: (err) => {
            e.lastAmbientError = err;
          },
        },
      );
    }
    return entry;
  }

  private applyConfig(entry: ListenerEntry, config: XdsConfig): void {
    entry.table = new ListenerTable(config, entry.table, this.ctx);
    entry.error = undefined;
    this.options.onListener?.(entry.name, config.listener);
    this.pruneHealth();
    this.options.logger.debug('mesh config in force', {
      listener: entry.name,
      routeConfig: config.routeConfig.name,
      clusters: [...config.clusters.keys()],
    });
    for (const w of entry.waiters) {
      this.options.clock.clearTimeout(w.timer);
      w.resolve();
    }
    entry.waiters.clear();
    this.notify(entry);
  }

  private applyError(entry: ListenerEntry, err: RoutingError): void {
    entry.table = undefined;
    entry.error = err;
    this.options.logger.warn('mesh listener unusable', {
      listener: entry.name,
      code: err.code,
      layer: err.layer,
      message: err.message,
    });
    for (const w of entry.waiters) {
      this.options.clock.clearTimeout(w.timer);
      w.reject(err);
    }
    entry.waiters.clear();
    this.notify(entry);
  }

  private notify(entry: ListenerEntry): void {
    for (const s of entry.subscribers) {
      try {
        s();
      } catch (err) {
        this.options.logger.error('onUpdate listener threw', {
          listener: entry.name,
          message: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  private pruneHealth(): void {
    const keys = new Set<string>();
    const clusters = new Set<string>();
    for (const e of this.listeners.values()) {
      for (const ep of e.table?.endpoints ?? []) keys.add(ep.key);
      for (const name of e.table?.balancers.keys() ?? []) clusters.add(name);
    }
    this.store.retain(keys);
    this.outliers.retain(clusters);
  }
}

/**
 * Creates the SDK core. Validates `options` once (ConfigError listing every issue). Nothing is
 * watched until `whenReady(authority)` asks for a listener.
 */
export function createMeshRuntime(options: MeshRuntimeOptions): MeshRuntime {
  return new MeshRuntimeImpl(resolveMeshRuntimeOptions(options));
}
