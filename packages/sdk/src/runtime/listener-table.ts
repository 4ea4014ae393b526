// The tables in force for one listener, built once per complete XdsConfig: the compiled route
// table and a balancer per referenced cluster; and the per-request RouteDecision over them.
// DESIGN.md "The request path" steps 1-3.
import type { ClusterUpdate, RetryPolicyUpdate, RouteActionUpdate } from '@weft/xds-client';
import type { BalancerContext } from '../cluster/cluster-balancer.js';
import { ClusterBalancer } from '../cluster/cluster-balancer.js';
import type { HashContext } from '../routing/request-hash.js';
import { computeRequestHash } from '../routing/request-hash.js';
import { RequestView } from '../routing/request-view.js';
import type { EffectiveHttpFilters } from '../routing/route-filters.js';
import { resolveRouteFilters } from '../routing/route-filters.js';
import type { CompiledRoute, CompiledVirtualHost } from '../routing/route-table.js';
import { RouteTable } from '../routing/route-table.js';
import { RoutingError } from '../routing/routing-error.js';
import type { XdsConfig } from '../xds/xds-config.js';
import type {
  EndpointLease,
  MirrorPick,
  RouteDecision,
  RouteInput,
  UpstreamEndpoint,
} from './mesh-runtime.js';

const NO_FILTERS: EffectiveHttpFilters = Object.freeze([]);

/** What every listener table of a runtime shares. */
export interface TableContext extends BalancerContext {
  readonly hash: HashContext;
}

class Decision implements RouteDecision {
  readonly listenerName: string;
  readonly routeConfigName: string;
  readonly virtualHostName: string;
  readonly routeName: string;
  readonly clusterName: string;
  readonly timeoutMs: number | undefined;
  readonly retryPolicy: RetryPolicyUpdate | undefined;
  readonly action: RouteActionUpdate;
  readonly cluster: ClusterUpdate | undefined;
  readonly filters: EffectiveHttpFilters;
  private readonly balancer: ClusterBalancer;
  private readonly balancers: ReadonlyMap<string, ClusterBalancer>;
  private readonly req: RequestView;
  private readonly hashContext: HashContext;
  private hash: bigint | undefined;

  constructor(
    table: ListenerTable,
    virtualHostName: string,
    route: CompiledRoute,
    balancer: ClusterBalancer,
    filters: EffectiveHttpFilters,
    req: RequestView,
    hashContext: HashContext,
  ) {
    this.listenerName = table.config.listenerName;
    this.routeConfigName = table.routes.name;
    this.virtualHostName = virtualHostName;
    this.routeName = route.name;
    this.clusterName = balancer.name;
    this.action = route.route.action;
    this.timeoutMs = this.action.timeoutMs;
    this.retryPolicy = this.action.retryPolicy;
    this.cluster = balancer.cluster;
    this.filters = filters;
    this.balancer = balancer;
    this.balancers = table.balancers;
    this.req = req;
    this.hashContext = hashContext;
  }

  /** The request hash, computed on first use and kept, so retries stay on the same ring spot. */
  requestHash(): bigint {
    return (this.hash ??= computeRequestHash(this.action.hashPolicies, this.req, this.hashContext));
  }

  pick(exclude?: ReadonlySet<string>): EndpointLease | undefined {
    return this.balancer.pick(this, exclude);
  }

  pickMirror(clusterName: string): MirrorPick | undefined {
    const balancer = this.balancers.get(clusterName);
    const lease = balancer?.pick(this, undefined);
    return lease === undefined ? undefined : { lease, cluster: balancer?.cluster };
  }

  unavailableError(exclude?: ReadonlySet<string>): RoutingError {
    return this.balancer.unavailableError(exclude);
  }
}

/** The immutable tables of one listener. */
export class ListenerTable {
  readonly config: XdsConfig;
  readonly routes: RouteTable;
  readonly balancers: ReadonlyMap<string, ClusterBalancer>;
  /** Every endpoint of every referenced cluster (for gRPC subchannels). */
  readonly endpoints: readonly UpstreamEndpoint[];
  private readonly ctx: TableContext;
  /** False when the listener runs the router only (the common case: no filter lookup per request). */
  private readonly hasFilters: boolean;
  /** Effective filters per route and chosen cluster, resolved on first use. */
  private readonly filterCache = new Map<CompiledRoute, Map<string, EffectiveHttpFilters>>();

  /**
   * Builds the tables for `config`. Balancers whose CDS/EDS resources are the very objects of
   * `previous` are reused, so their round-robin cursors and health caches carry over.
   */
  constructor(config: XdsConfig, previous: ListenerTable | undefined, ctx: TableContext) {
    this.config = config;
    this.ctx = ctx;
    this.hasFilters = config.listener.httpFilters.some(
      (f) => f.config !== undefined && f.config.kind !== 'router',
    );
    this.routes =
      previous?.config.routeConfig === config.routeConfig
        ? previous.routes
        : new RouteTable(config.routeConfig);
    const balancers = new Map<string, ClusterBalancer>();
    for (const [name, cc] of config.clusters) {
      const old = previous?.balancers.get(name);
      const reuse =
        old !== undefined &&
        old.cluster === cc.cluster &&
        old.assignment === cc.endpoints &&
        old.error === cc.error;
      balancers.set(name, reuse ? old : ClusterBalancer.create(cc, ctx));
    }
    this.balancers = balancers;
    const seen = new Set<string>();
    const endpoints: UpstreamEndpoint[] = [];
    for (const b of balancers.values()) {
      for (const e of b.endpoints) {
        const k = `${e.clusterName}\u0000${e.key}`;
        if (!seen.has(k)) {
          seen.add(k);
          endpoints.push(e);
        }
      }
    }
    this.endpoints = Object.freeze(endpoints);
  }

  /** Routes one request: a decision, or WEFT_NO_ROUTE naming the virtual-host or route layer. */
  route(authority: string, input: RouteInput): RouteDecision | RoutingError {
    const vh = this.routes.selectVirtualHost(authority);
    if (vh === undefined) {
      return new RoutingError(
        'WEFT_NO_ROUTE',
        'virtual-host',
        `listener ${this.config.listenerName}: route configuration ${this.routes.name} has no virtual host for ${authority}`,
      );
    }
    const req = new RequestView(input);
    const route = vh.match(req);
    if (route === undefined) {
      return new RoutingError(
        'WEFT_NO_ROUTE',
        'route',
        `listener ${this.config.listenerName}: virtual host ${vh.name} has no route for ${req.path}`,
      );
    }
    const clusterName = route.pickCluster(this.ctx.random);
    const balancer = this.balancers.get(clusterName);
    if (balancer === undefined) {
      // Unreachable: a complete XdsConfig holds every cluster its routes name.
      return new RoutingError(
        'WEFT_NO_HEALTHY_UPSTREAM',
        'cluster',
        `cluster ${clusterName}: not in the configuration of listener ${this.config.listenerName}`,
      );
    }
    const filters = this.hasFilters ? this.filtersOf(vh, route, clusterName) : NO_FILTERS;
    return new Decision(this, vh.name, route, balancer, filters, req, this.ctx.hash);
  }

  private filtersOf(
    vh: CompiledVirtualHost,
    route: CompiledRoute,
    clusterName: string,
  ): EffectiveHttpFilters {
    let byCluster = this.filterCache.get(route);
    if (byCluster === undefined) {
      byCluster = new Map<string, EffectiveHttpFilters>();
      this.filterCache.set(route, byCluster);
    }
    let filters = byCluster.get(clusterName);
    if (filters === undefined) {
      const weighted = route.route.action.clusters.find((c) => c.name === clusterName);
      filters = resolveRouteFilters(
        this.config.listener,
        vh.virtualHost,
        vh.name,
        route.route,
        `${vh.name}/${route.name}`,
        weighted,
      );
      byCluster.set(clusterName, filters);
    }
    return filters;
  }
}
