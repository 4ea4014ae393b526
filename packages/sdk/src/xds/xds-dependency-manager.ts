// Follows one listener through LDS → RDS (or its inline routes) → every referenced cluster's CDS →
// its EDS, and emits one immutable XdsConfig only when all of it is at hand (STYLE rule 2).
// Reference: grpc-js-xds src/xds-dependency-manager.ts; gRFC A74 (xDS config tears), A88 (errors).
import { WeftError } from '@weft/xds-client';
import type {
  ClusterLoadAssignmentUpdate,
  ClusterUpdate,
  Clock,
  ListenerUpdate,
  Logger,
  RouteConfigurationUpdate,
  TimerHandle,
  XdsResourceType,
} from '@weft/xds-client';
import { RoutingError } from '../routing/routing-error.js';
import type { XdsClusterConfig, XdsConfig } from './xds-config.js';
import type { XdsWatchSource } from './xds-watch-source.js';

/** The four resource types followed; they must be the objects the watch source registered. */
export interface XdsDependencyResourceTypes {
  readonly listener: XdsResourceType<ListenerUpdate>;
  readonly routeConfiguration: XdsResourceType<RouteConfigurationUpdate>;
  readonly cluster: XdsResourceType<ClusterUpdate>;
  readonly clusterLoadAssignment: XdsResourceType<ClusterLoadAssignmentUpdate>;
}

/** Receives the manager's output. Callbacks must not throw. */
export interface XdsConfigWatcher {
  /** A new complete configuration is in force (never called twice with the same content). */
  onConfig(config: XdsConfig): void;
  /**
   * The listener or its route configuration is missing or invalid (layer 'listener' or
   * 'route-config', code WEFT_NO_ROUTE, `cause` the resource error): requests fail with it.
   */
  onError(err: RoutingError): void;
  /** Stream trouble or a rejected update: the last configuration keeps serving. */
  onAmbientError(err: WeftError): void;
}

/** Validated options (built by createMeshRuntime). */
export interface XdsDependencyManagerOptions {
  readonly watchSource: XdsWatchSource;
  readonly listenerName: string;
  readonly resourceTypes: XdsDependencyResourceTypes;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A watched resource with no answer after this long is treated as does-not-exist. */
  readonly resourceWaitMs: number;
}

class Slot<T> {
  value: T | undefined;
  error: WeftError | undefined;
  cancel: () => void = () => undefined;
  timer: TimerHandle | undefined;
  closed = false;

  constructor(
    readonly label: string,
    readonly name: string,
  ) {}

  get settled(): boolean {
    return this.value !== undefined || this.error !== undefined;
  }
}

/** Watches the dependency tree of one listener. Call `close()` to cancel every watch. */
export class XdsDependencyManager {
  private readonly options: XdsDependencyManagerOptions;
  private readonly watcher: XdsConfigWatcher;
  private readonly listener: Slot<ListenerUpdate>;
  private rds: Slot<RouteConfigurationUpdate> | undefined;
  private readonly cds = new Map<string, Slot<ClusterUpdate>>();
  private readonly eds = new Map<string, Slot<ClusterLoadAssignmentUpdate>>();
  private wantedClusters: readonly string[] = [];
  private lastConfig: XdsConfig | undefined;
  private lastError: WeftError | undefined;
  private running = false;
  private dirty = false;
  private closed = false;

  constructor(options: XdsDependencyManagerOptions, watcher: XdsConfigWatcher) {
    this.options = options;
    this.watcher = watcher;
    this.listener = this.open(options.resourceTypes.listener, options.listenerName);
  }

  /** `type name` of every referenced resource still unanswered (for timeouts and describe). */
  missing(): string[] {
    const out: string[] = [];
    const add = (s: Slot<unknown> | undefined): void => {
      if (s !== undefined && !s.settled) out.push(`${s.label} ${s.name}`);
    };
    add(this.listener);
    add(this.rds);
    for (const s of this.cds.values()) add(s);
    for (const s of this.eds.values()) add(s);
    return out;
  }

  /** Cancels every watch and timer; no callback follows. */
  close(): void {
    this.closed = true;
    this.shut(this.listener);
    this.shut(this.rds);
    for (const s of this.cds.values()) this.shut(s);
    for (const s of this.eds.values()) this.shut(s);
    this.cds.clear();
    this.eds.clear();
  }

  private open<T>(type: XdsResourceType<T>, name: string): Slot<T> {
    const slot = new Slot<T>(type.shortName, name);
    const { clock, resourceWaitMs } = this.options;
    slot.timer = clock.setTimeout(() => {
      slot.timer = undefined;
      if (slot.closed || slot.settled) return;
      slot.error = new WeftError(
        'WEFT_RESOURCE_DOES_NOT_EXIST',
        `${type.shortName} ${name}: no answer after ${resourceWaitMs} ms`,
      );
      this.schedule();
    }, resourceWaitMs);
    slot.timer.unref?.();
    const settle = (): void => {
      if (slot.timer !== undefined) clock.clearTimeout(slot.timer);
      slot.timer = undefined;
    };
    slot.cancel = this.options.watchSource.watch(type, name, {
      onChanged: (value) => {
        if (slot.closed) return;
        settle();
        slot.value = value;
        slot.error = undefined;
        this.schedule();
      },
      onResourceError: (err) => {
        if (slot.closed) return;
        settle();
        slot.value = undefined;
        slot.error = err;
        this.schedule();
      },
      onAmbientError: (err) => {
        if (slot.closed) return;
        this.options.logger.warn('xds ambient error', {
          listener: this.options.listenerName,
          resource: `${type.shortName} ${name}`,
          code: err.code,
          message: err.message,
        });
        this.watcher.onAmbientError(err);
      },
    });
    return slot;
  }

  private shut(slot: Slot<unknown> | undefined): void {
    if (slot === undefined || slot.closed) return;
    slot.closed = true;
    if (slot.timer !== undefined) this.options.clock.clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.cancel();
  }

  // Callbacks may arrive synchronously from inside watch(): reconcile runs to a fixed point.
  private schedule(): void {
    if (this.closed) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.dirty = false;
        this.reconcile();
      } while (this.rerunNeeded());
    } finally {
      this.running = false;
    }
  }

  // A method, not an inline read: a callback inside reconcile() may have set `dirty`.
  private rerunNeeded(): boolean {
    return this.dirty && !this.closed;
  }

  private reconcile(): void {
    const types = this.options.resourceTypes;
    const listener = this.listener.value;
    let routeConfig: RouteConfigurationUpdate | undefined;
    let routeError: WeftError | undefined;
    if (listener === undefined) {
      this.shut(this.rds);
      this.rds = undefined;
    } else if (listener.routeSource.kind === 'rds') {
      const name = listener.routeSource.routeConfigName;
      if (this.rds?.name !== name) {
        this.shut(this.rds);
        this.rds = this.open(types.routeConfiguration, name);
      }
      routeConfig = this.rds.value;
      routeError = this.rds.error;
    } else {
      this.shut(this.rds);
      this.rds = undefined;
      routeConfig = listener.routeSource.routeConfig;
    }

    // Clusters follow the route configuration in force. While a new RDS name is unanswered the
    // old clusters stay watched (make-before-break); with no listener or routes, none are.
    if (routeConfig !== undefined) this.wantedClusters = referencedClusters(routeConfig);
    else if (listener === undefined || routeError !== undefined) this.wantedClusters = [];
    const wanted = new Set(this.wantedClusters);
    for (const name of wanted) {
      if (!this.cds.has(name)) this.cds.set(name, this.open(types.cluster, name));
    }
    for (const [name, slot] of this.cds) {
      if (!wanted.has(name)) {
        this.shut(slot);
        this.cds.delete(name);
      }
    }
    const wantedEds = new Set<string>();
    for (const slot of this.cds.values()) {
      if (slot.value !== undefined) wantedEds.add(slot.value.edsServiceName);
    }
    for (const name of wantedEds) {
      if (!this.eds.has(name)) this.eds.set(name, this.open(types.clusterLoadAssignment, name));
    }
    for (const [name, slot] of this.eds) {
      if (!wantedEds.has(name)) {
        this.shut(slot);
        this.eds.delete(name);
      }
    }
    if (this.closed) return;

    if (listener === undefined) {
      if (this.listener.error !== undefined) {
        this.emitError('listener', `listener ${this.options.listenerName}`, this.listener.error);
      }
      return;
    }
    if (routeConfig === undefined) {
      if (routeError !== undefined && this.rds !== undefined) {
        this.emitError('route-config', `route configuration ${this.rds.name}`, routeError);
      }
      return;
    }
    const config = this.buildConfig(listener, routeConfig);
    if (config !== undefined && !sameConfig(config, this.lastConfig)) {
      this.lastConfig = config;
      this.lastError = undefined;
      this.watcher.onConfig(config);
    }
  }

  private buildConfig(
    listener: ListenerUpdate,
    routeConfig: RouteConfigurationUpdate,
  ): XdsConfig | undefined {
    const clusters = new Map<string, XdsClusterConfig>();
    for (const name of this.wantedClusters) {
      const slot = this.cds.get(name);
      if (slot === undefined || !slot.settled) return undefined;
      const cluster = slot.value;
      if (cluster === undefined) {
        clusters.set(name, { name, cluster, endpoints: undefined, error: slot.error });
        continue;
      }
      const eds = this.eds.get(cluster.edsServiceName);
      if (eds === undefined || !eds.settled) return undefined;
      clusters.set(
        name,
        Object.freeze({
          name,
          cluster,
          endpoints: eds.value,
          error: eds.value ? undefined : eds.error,
        }),
      );
    }
    return Object.freeze({
      listenerName: this.options.listenerName,
      listener,
      routeConfig,
      clusters,
    });
  }

  private emitError(layer: 'listener' | 'route-config', what: string, cause: WeftError): void {
    if (this.lastError === cause) return;
    this.lastError = cause;
    this.lastConfig = undefined;
    this.watcher.onError(
      new RoutingError('WEFT_NO_ROUTE', layer, `${what}: ${cause.message}`, { cause }),
    );
  }
}

/**
 * Every cluster a route may choose, deduplicated, in config order, then the clusters of request
 * mirror policies (their balancers serve the mirror copies).
 */
export function referencedClusters(routeConfig: RouteConfigurationUpdate): string[] {
  const names = new Set<string>();
  for (const vh of routeConfig.virtualHosts)
    for (const r of vh.routes)
      for (const c of r.action.clusters) if (c.weight > 0) names.add(c.name);
  for (const vh of routeConfig.virtualHosts)
    for (const r of vh.routes) for (const m of r.action.requestMirrorPolicies) names.add(m.cluster);
  return [...names];
}

function sameConfig(a: XdsConfig, b: XdsConfig | undefined): boolean {
  if (b === undefined) return false;
  if (a.listener !== b.listener || a.routeConfig !== b.routeConfig) return false;
  if (a.clusters.size !== b.clusters.size) return false;
  for (const [name, ca] of a.clusters) {
    const cb = b.clusters.get(name);
    if (cb === undefined) return false;
    if (ca.cluster !== cb.cluster || ca.endpoints !== cb.endpoints || ca.error !== cb.error)
      return false;
  }
  return true;
}
