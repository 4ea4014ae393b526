// An RDS RouteConfiguration compiled once per update into an immutable table: virtual hosts by
// domain, routes by path, headers and query (first match wins), weighted cluster choice.
// Spec: envoy/config/route/v3/route_components.proto; gRFC A28 (xDS routing).
import type {
  PathMatchUpdate,
  RouteConfigurationUpdate,
  RouteUpdate,
  VirtualHostUpdate,
} from '@weft/xds-client';
import { DomainIndex } from './domain-index.js';
import type { RequestView } from './request-view.js';
import type { CompiledHeaderMatcher, CompiledQueryMatcher } from './string-matcher.js';
import {
  compileFullMatchRegex,
  compileHeaderMatcher,
  compileQueryMatcher,
} from './string-matcher.js';

type PathPredicate = (req: RequestView) => boolean;

function compilePath(match: PathMatchUpdate, caseSensitive: boolean): PathPredicate {
  switch (match.kind) {
    case 'prefix': {
      if (match.prefix === '') return () => true;
      if (caseSensitive) {
        const p = match.prefix;
        return (r) => r.path.startsWith(p);
      }
      const p = match.prefix.toLowerCase();
      return (r) => r.lowerPath.startsWith(p);
    }
    case 'path': {
      if (caseSensitive) {
        const p = match.path;
        return (r) => r.path === p;
      }
      const p = match.path.toLowerCase();
      return (r) => r.lowerPath === p;
    }
    case 'safe_regex': {
      // Envoy ignores case_sensitive for regexes: the pattern says what it means.
      const re = compileFullMatchRegex(match.regex);
      return (r) => re.test(r.path);
    }
  }
}

/** One route, compiled. Immutable. */
export class CompiledRoute {
  /** The route's name, or `#index` when unnamed. */
  readonly name: string;
  readonly route: RouteUpdate;
  /** Target clusters in config order, and their running weight sums. */
  readonly clusterNames: readonly string[];
  private readonly cumulative: readonly number[];
  private readonly totalWeight: number;
  private readonly firstCluster: string;
  private readonly pathMatches: PathPredicate;
  private readonly headers: readonly CompiledHeaderMatcher[];
  private readonly queries: readonly CompiledQueryMatcher[];

  constructor(route: RouteUpdate, index: number) {
    this.name = route.name === '' ? `#${index}` : route.name;
    this.route = route;
    this.pathMatches = compilePath(route.match.path, route.match.caseSensitive);
    this.headers = route.match.headers.map(compileHeaderMatcher);
    this.queries = route.match.queryParameters.map(compileQueryMatcher);
    const clusters = route.action.clusters.filter((c) => c.weight > 0);
    this.clusterNames = clusters.map((c) => c.name);
    let sum = 0;
    this.cumulative = clusters.map((c) => (sum += c.weight));
    this.totalWeight = sum;
    this.firstCluster = this.clusterNames[0] ?? '';
  }

  /** Whether the request matches path, every header matcher and every query matcher. */
  matches(req: RequestView): boolean {
    if (!this.pathMatches(req)) return false;
    if (this.headers.length > 0) {
      const header = req.input.header;
      for (const h of this.headers) if (!h.test(header)) return false;
    }
    if (this.queries.length > 0) {
      const q = req.query;
      for (const m of this.queries) if (!m.test(q)) return false;
    }
    return true;
  }

  /**
   * The cluster for one request: weighted clusters draw from [0, totalWeight) with `random`
   * (uniform in [0, 1)); a single cluster draws nothing.
   */
  pickCluster(random: () => number): string {
    const names = this.clusterNames;
    if (names.length === 1) return this.firstCluster;
    const r = random() * this.totalWeight;
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) {
      if (r < (cumulative[i] ?? 0)) return names[i] ?? this.firstCluster;
    }
    return this.firstCluster;
  }
}

/** One virtual host, compiled. */
export class CompiledVirtualHost {
  readonly name: string;
  readonly virtualHost: VirtualHostUpdate;
  readonly routes: readonly CompiledRoute[];

  constructor(vh: VirtualHostUpdate) {
    this.name = vh.name;
    this.virtualHost = vh;
    this.routes = vh.routes.map((r, i) => new CompiledRoute(r, i));
  }

  /** The first route that matches, or undefined. */
  match(req: RequestView): CompiledRoute | undefined {
    for (const r of this.routes) if (r.matches(req)) return r;
    return undefined;
  }
}

const MEMO_LIMIT = 256;

/** A RouteConfiguration compiled for lookups. Immutable apart from a bounded authority memo. */
export class RouteTable {
  readonly name: string;
  readonly routeConfig: RouteConfigurationUpdate;
  readonly virtualHosts: readonly CompiledVirtualHost[];
  /** Every cluster any route may choose, deduplicated, in config order. */
  readonly clusterNames: readonly string[];
  private readonly domains: DomainIndex<CompiledVirtualHost>;
  // Authorities repeat (one per upstream service), so the domain walk is paid once per authority.
  private readonly memo = new Map<string, CompiledVirtualHost | null>();

  constructor(routeConfig: RouteConfigurationUpdate) {
    this.name = routeConfig.name;
    this.routeConfig = routeConfig;
    this.virtualHosts = routeConfig.virtualHosts.map((vh) => new CompiledVirtualHost(vh));
    this.domains = new DomainIndex(
      this.virtualHosts.map((vh) => ({ domains: vh.virtualHost.domains, value: vh })),
    );
    const names = new Set<string>();
    for (const vh of this.virtualHosts)
      for (const r of vh.routes) for (const c of r.clusterNames) names.add(c);
    this.clusterNames = [...names];
  }

  /** The virtual host for `authority`, or undefined (Envoy's domain order; see DomainIndex). */
  selectVirtualHost(authority: string): CompiledVirtualHost | undefined {
    const memo = this.memo.get(authority);
    if (memo !== undefined) return memo ?? undefined;
    const vh = this.domains.select(authority);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(authority, vh ?? null);
    return vh;
  }
}
