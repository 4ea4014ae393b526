// Builds an api_listener Listener: an HttpConnectionManager that fetches its routes over RDS (ADS)
// and runs the fault filter when needed, the router last. gRPC clients accept it unchanged.
// Spec: DESIGN.md "xDS conventions"; envoy http_connection_manager.proto; gRFC A27, A33.
import {
  FAULT_FILTER_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '@weft/xds-client';
import { localRateLimitHttpFilter } from './build-local-rate-limit.js';
import { FAULT_FILTER_NAME } from './build-route-configuration.js';

/** Options of {@link buildListener}. */
export interface ListenerInput {
  /** `host` or `host:port`. */
  readonly name: string;
  /** The RouteConfiguration to fetch. */
  readonly routeConfigName: string;
  /** Whether a route may carry fault-injection config (adds the fault filter). */
  readonly withFaultFilter: boolean;
  /** Whether a virtual host or route carries a local rate limit (adds that filter). */
  readonly withLocalRateLimit?: boolean;
  /**
   * HCM `tracing.random_sampling` (percent of trace-starting requests sampled: MeshConfig
   * `tracing.sampling`); omitted: no `tracing` block.
   */
  readonly tracingSamplingPercent?: number;
}

/** The Listener as a plain proto object. */
export function buildListener(input: ListenerInput): Record<string, unknown> {
  const httpFilters: Record<string, unknown>[] = [];
  if (input.withFaultFilter)
    httpFilters.push({ name: FAULT_FILTER_NAME, typed_config: { '@type': FAULT_FILTER_TYPE_URL } });
  if (input.withLocalRateLimit === true) httpFilters.push(localRateLimitHttpFilter());
  // The router must be last (gRPC rejects anything after it).
  httpFilters.push({
    name: 'envoy.filters.http.router',
    typed_config: { '@type': ROUTER_FILTER_TYPE_URL },
  });
  return {
    name: input.name,
    api_listener: {
      api_listener: {
        '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
        stat_prefix: input.name,
        rds: {
          config_source: { ads: {}, resource_api_version: 'V3' },
          route_config_name: input.routeConfigName,
        },
        http_filters: httpFilters,
        ...(input.tracingSamplingPercent === undefined
          ? {}
          : { tracing: { random_sampling: { value: input.tracingSamplingPercent } } }),
      },
    },
  };
}
