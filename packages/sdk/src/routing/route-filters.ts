// The HTTP filters in force for one route: the listener's filter chain with each filter's config
// overridden by the most specific typed_per_filter_config (weighted cluster > route > virtual
// host > the listener's own typed_config). Spec: gRFC A39 (xDS HTTP filters), "Filter config
// overrides"; Envoy's http_connection_manager.proto http_filters.
import type {
  FaultUpdate,
  HttpFilterConfigUpdate,
  ListenerUpdate,
  LocalRateLimitUpdate,
  RouteUpdate,
  VirtualHostUpdate,
  WeightedClusterUpdate,
} from '@weft/xds-client';

/** One filter the transports run for a request, in chain order. */
export type EffectiveHttpFilter =
  | {
      readonly kind: 'fault';
      /** The filter instance name (HCM http_filters[].name). */
      readonly name: string;
      readonly fault: FaultUpdate;
    }
  | {
      readonly kind: 'local_ratelimit';
      readonly name: string;
      /** The decoded LocalRateLimit; its identity is the config instance (one bucket each). */
      readonly config: LocalRateLimitUpdate;
      /**
       * Where the config came from, e.g. `listener`, `vhost:inventory`, `route:inventory/#0`,
       * `cluster:inventory/#0/outbound|8080||inventory`: Envoy keeps one token bucket per config
       * instance, so a limiter is keyed by (filter name, scope, config object).
       */
      readonly scope: string;
    };

/** The filters of one route × cluster. Frozen; empty for the common case of router only. */
export type EffectiveHttpFilters = readonly EffectiveHttpFilter[];

const NONE: EffectiveHttpFilters = Object.freeze([]);

/**
 * Resolves the filters `listener` runs for `route` of `vh` sending to `cluster` (undefined when
 * the route's action names a single cluster with no overrides). Filters Weft does not run on the
 * client side (RBAC is inbound-only; unknown optional filters) are left out, as is a fault config
 * with neither a delay nor an abort.
 */
export function resolveRouteFilters(
  listener: ListenerUpdate,
  vh: VirtualHostUpdate,
  vhScope: string,
  route: RouteUpdate,
  routeScope: string,
  cluster: WeightedClusterUpdate | undefined,
): EffectiveHttpFilters {
  let out: EffectiveHttpFilter[] | undefined;
  for (const filter of listener.httpFilters) {
    const top = filter.config;
    if (top === undefined || top.kind === 'router') continue;
    const name = filter.name;
    let config: HttpFilterConfigUpdate = top;
    let scope = 'listener';
    const fromCluster = cluster?.typedPerFilterConfig[name];
    const fromRoute = route.typedPerFilterConfig[name];
    const fromHost = vh.typedPerFilterConfig[name];
    if (fromCluster !== undefined) {
      config = fromCluster;
      scope = `cluster:${routeScope}/${cluster?.name ?? ''}`;
    } else if (fromRoute !== undefined) {
      config = fromRoute;
      scope = `route:${routeScope}`;
    } else if (fromHost !== undefined) {
      config = fromHost;
      scope = `vhost:${vhScope}`;
    }
    switch (config.kind) {
      case 'fault':
        if (config.fault.delay === undefined && config.fault.abort === undefined) continue;
        (out ??= []).push(Object.freeze({ kind: 'fault', name, fault: config.fault }));
        break;
      case 'local_ratelimit':
        (out ??= []).push(
          Object.freeze({ kind: 'local_ratelimit', name, config: config.config, scope }),
        );
        break;
      case 'disabled':
      case 'router': // never an override
      case 'rbac': // inbound authorization, not outbound
        break;
    }
  }
  return out === undefined ? NONE : Object.freeze(out);
}
