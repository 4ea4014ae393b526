// LDS: decodes client-side envoy.config.listener.v3.Listener resources (api_listener with an
// HttpConnectionManager) into a ListenerUpdate. Spec: gRFC A27 (xDS-based global load balancing),
// A39 (HTTP filters); envoy/extensions/filters/network/http_connection_manager/v3/*.proto.
import { HTTP_CONNECTION_MANAGER_TYPE_URL, LISTENER_TYPE_URL } from '../protos/type-urls.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  anyField,
  checkAdsConfigSource,
  decodeResource,
  deepEqual,
  deepFreeze,
  durationMs,
  join,
  message,
  messages,
  oneof,
  percent,
  str,
  tryDecodeAny,
} from './decode-helpers.js';
import type { HttpFilterUpdate } from './http-filters.js';
import type { ServerListenerUpdate } from './server-listener.js';
import { decodeServerListener } from './server-listener.js';
import { decodeHttpFilters } from './http-filters.js';
import type { RouteConfigurationUpdate } from './route-configuration-resource-type.js';
import { decodeRouteConfigurationMessage } from './route-configuration-resource-type.js';
import type { DecodeContext, DecodeResult, XdsResourceType } from './xds-resource-type.js';

/** Where the listener's routes come from: an RDS name to watch, or an inline configuration. */
export type RouteSourceUpdate =
  | { readonly kind: 'rds'; readonly routeConfigName: string }
  | { readonly kind: 'inline'; readonly routeConfig: RouteConfigurationUpdate };

/** A decoded client-side Listener. Deep-frozen. */
export interface ListenerUpdate {
  readonly name: string;
  readonly routeSource: RouteSourceUpdate;
  /** In order; the last is the router. Unknown optional filters are listed with `config: undefined`. */
  readonly httpFilters: readonly HttpFilterUpdate[];
  /** HCM `common_http_protocol_options.max_stream_duration` in ms; undefined when unset. */
  readonly maxStreamDurationMs: number | undefined;
  /**
   * HCM `tracing.random_sampling` (percent 0-100): how many requests that start a trace are
   * sampled; undefined when the HCM has no `tracing` or no `random_sampling` (Envoy: 100).
   */
  readonly tracingRandomSamplingPercent?: number;
  /**
   * Present for a server-side (inbound) Listener (no api_listener; gRFC A36). Its routeSource
   * and httpFilters are then unused (empty): each filter chain carries its own.
   */
  readonly server?: ServerListenerUpdate;
}

function decodeHcm(
  hcm: ProtoObject,
  name: string,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): ListenerUpdate {
  let routeSource: RouteSourceUpdate;
  const which = oneof(hcm, 'route_specifier');
  if (which === 'rds') {
    const rds = message(hcm, 'rds') ?? {};
    const rp = join(path, 'rds');
    checkAdsConfigSource(message(rds, 'config_source'), join(rp, 'config_source'), issues);
    const routeConfigName = str(rds, 'route_config_name');
    if (routeConfigName === '') issues.add(join(rp, 'route_config_name'), 'required');
    routeSource = { kind: 'rds', routeConfigName };
  } else if (which === 'route_config') {
    const rc = message(hcm, 'route_config') ?? {};
    const rcPath = join(path, 'route_config');
    const routeConfig = decodeRouteConfigurationMessage(rc, str(rc, 'name'), rcPath, issues, ctx);
    routeSource = { kind: 'inline', routeConfig };
  } else {
    issues.add(path, `one of rds or route_config is required, got ${which ?? 'nothing'}`);
    routeSource = { kind: 'rds', routeConfigName: '' };
  }
  const httpFilters = decodeHttpFilters(
    messages(hcm, 'http_filters'),
    join(path, 'http_filters'),
    issues,
    ctx,
  );
  const options = message(hcm, 'common_http_protocol_options') ?? {};
  const maxStreamDurationMs = durationMs(
    options,
    'max_stream_duration',
    join(path, 'common_http_protocol_options'),
    issues,
  );
  const tracingRandomSamplingPercent = decodeTracing(
    message(hcm, 'tracing'),
    join(path, 'tracing'),
    issues,
  );
  return {
    name,
    routeSource,
    httpFilters,
    maxStreamDurationMs,
    ...(tracingRandomSamplingPercent === undefined ? {} : { tracingRandomSamplingPercent }),
  };
}

/**
 * HCM `tracing`: `random_sampling` is the mesh's sampling of requests that start a trace.
 * `client_sampling` (requests with x-client-trace-id) and `overall_sampling` are not applied by
 * the SDK: anything but their default 100 is an error rather than a setting silently ignored.
 */
function decodeTracing(
  tracing: ProtoObject | undefined,
  path: string,
  issues: IssueCollector,
): number | undefined {
  if (tracing === undefined) return undefined;
  for (const key of ['client_sampling', 'overall_sampling']) {
    const v = percent(tracing, key, join(join(path, key), 'value'), issues);
    if (v !== undefined && v !== 100) {
      issues.add(
        join(path, key),
        `only 100 is supported (the SDK samples by random_sampling), got ${v}`,
      );
    }
  }
  return percent(tracing, 'random_sampling', join(path, 'random_sampling.value'), issues);
}

/** The LDS resource type. In SotW every response carries the full set (a missing one is deleted). */
export class ListenerResourceType implements XdsResourceType<ListenerUpdate> {
  readonly typeUrl = LISTENER_TYPE_URL;
  readonly shortName = 'lds';
  readonly allResourcesRequiredInSotW = true;

  /** Decodes and validates; never throws. Only api_listeners with an HCM are accepted. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<ListenerUpdate> {
    return decodeResource(raw, ctx, this.typeUrl, 'name', (msg, name, issues) => {
      const empty: ListenerUpdate = {
        name,
        routeSource: { kind: 'rds', routeConfigName: '' },
        httpFilters: [],
        maxStreamDurationMs: undefined,
      };
      const api = message(msg, 'api_listener');
      if (api === undefined) {
        if (message(msg, 'address') === undefined) {
          issues.add(
            'api_listener',
            'required (or address and filter_chains for a server listener)',
          );
          return empty;
        }
        return deepFreeze({ ...empty, server: decodeServerListener(msg, issues, ctx) });
      }
      const any = anyField(api, 'api_listener');
      const path = 'api_listener.api_listener';
      if (any?.type_url !== HTTP_CONNECTION_MANAGER_TYPE_URL) {
        issues.add(
          path,
          `expected ${HTTP_CONNECTION_MANAGER_TYPE_URL}, got ${any?.type_url ?? 'nothing'}`,
        );
        return empty;
      }
      const hcm = tryDecodeAny(any, ctx);
      if (hcm === undefined) {
        issues.add(path, 'malformed HttpConnectionManager');
        return empty;
      }
      return deepFreeze(decodeHcm(hcm, name, path, issues, ctx));
    });
  }

  /** Structural equality. */
  isEqual(a: ListenerUpdate, b: ListenerUpdate): boolean {
    return deepEqual(a, b);
  }
}
