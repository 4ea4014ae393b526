// Decodes a server-side (inbound) Listener: address, filter chains matched on transport protocol,
// DownstreamTlsContext (SDS secret names, require_client_certificate) and an HCM with an inline
// route config of non-forwarding routes plus RBAC filters. Anything else is an issue (NACK).
// Spec: gRFC A36 (xDS-enabled servers); envoy/config/listener/v3/listener_components.proto.
import { HTTP_CONNECTION_MANAGER_TYPE_URL } from '../protos/type-urls.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  anyField,
  int,
  join,
  message,
  messages,
  oneof,
  str,
  tryDecodeAny,
  wrappedBool,
} from './decode-helpers.js';
import type { HttpFilterUpdate } from './http-filters.js';
import { decodeHttpFilters } from './http-filters.js';
import type { DecodeContext } from './xds-resource-type.js';

/** envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext. */
export const DOWNSTREAM_TLS_CONTEXT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext' as const;

/** A decoded DownstreamTlsContext. */
export interface DownstreamTlsUpdate {
  readonly requireClientCertificate: boolean;
  /** SDS name of the server certificate (Istio: `default`). */
  readonly certificateSecretName: string;
  /** SDS name of the trust bundle the client certificate is checked against (Istio: `ROOTCA`); '' = none. */
  readonly validationSecretName: string;
}

/** One filter chain. */
export interface ServerFilterChainUpdate {
  readonly name: string;
  /** `filter_chain_match.transport_protocol`: '' matches any connection. */
  readonly transportProtocol: '' | 'tls' | 'raw_buffer';
  /** undefined: plaintext. */
  readonly tls: DownstreamTlsUpdate | undefined;
  /** The HCM's filters, the router last (RBAC decoded). */
  readonly httpFilters: readonly HttpFilterUpdate[];
}

/** The server side of a decoded Listener. */
export interface ServerListenerUpdate {
  readonly address: string;
  readonly port: number;
  readonly filterChains: readonly ServerFilterChainUpdate[];
  readonly defaultFilterChain: ServerFilterChainUpdate | undefined;
}

const SUPPORTED_MATCH_FIELDS = new Set(['transport_protocol']);

function decodeTls(
  chain: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): DownstreamTlsUpdate | undefined {
  const ts = message(chain, 'transport_socket');
  if (ts === undefined) return undefined;
  const tp = join(path, 'transport_socket');
  const any = anyField(ts, 'typed_config');
  if (any?.type_url !== DOWNSTREAM_TLS_CONTEXT_TYPE_URL) {
    issues.add(
      join(tp, 'typed_config'),
      `expected ${DOWNSTREAM_TLS_CONTEXT_TYPE_URL}, got ${any?.type_url ?? 'nothing'}`,
    );
    return undefined;
  }
  const d = tryDecodeAny(any, ctx);
  if (d === undefined) {
    issues.add(tp, 'malformed DownstreamTlsContext');
    return undefined;
  }
  const dp = join(tp, 'typed_config');
  for (const field of [
    'require_sni',
    'session_ticket_keys',
    'session_ticket_keys_sds_secret_config',
    'ocsp_staple_policy',
  ] as const) {
    const v = d[field];
    if (v !== undefined && v !== null && v !== false && v !== 'LENIENT_STAPLING')
      issues.add(join(dp, field), 'not supported by Weft');
  }
  const common = message(d, 'common_tls_context') ?? {};
  const cp = join(dp, 'common_tls_context');
  for (const field of [
    'tls_certificates',
    'validation_context',
    'tls_certificate_provider_instance',
    'validation_context_sds_secret_config',
  ] as const) {
    if (
      common[field] !== undefined &&
      common[field] !== null &&
      !(Array.isArray(common[field]) && common[field].length === 0)
    )
      issues.add(
        join(cp, field),
        'not supported by Weft (use SDS: tls_certificate_sds_secret_configs and combined_validation_context)',
      );
  }
  const certs = messages(common, 'tls_certificate_sds_secret_configs');
  if (certs.length !== 1)
    issues.add(join(cp, 'tls_certificate_sds_secret_configs'), 'expected exactly one SDS secret');
  const certificateSecretName = str(certs[0] ?? {}, 'name');
  const combined = message(common, 'combined_validation_context');
  const validationSecretName =
    combined === undefined
      ? ''
      : str(message(combined, 'validation_context_sds_secret_config') ?? {}, 'name');
  const requireClientCertificate = wrappedBool(d, 'require_client_certificate') ?? false;
  if (requireClientCertificate && validationSecretName === '')
    issues.add(
      join(cp, 'combined_validation_context'),
      'required when require_client_certificate is set',
    );
  return { requireClientCertificate, certificateSecretName, validationSecretName };
}

function decodeChainHcm(
  chain: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): HttpFilterUpdate[] {
  const filters = messages(chain, 'filters');
  if (filters.length !== 1) {
    issues.add(join(path, 'filters'), 'expected exactly one filter (the HttpConnectionManager)');
    return [];
  }
  const fp = `${join(path, 'filters')}[0]`;
  const any = anyField(filters[0] ?? {}, 'typed_config');
  if (any?.type_url !== HTTP_CONNECTION_MANAGER_TYPE_URL) {
    issues.add(
      join(fp, 'typed_config'),
      `expected ${HTTP_CONNECTION_MANAGER_TYPE_URL}, got ${any?.type_url ?? 'nothing'}`,
    );
    return [];
  }
  const hcm = tryDecodeAny(any, ctx);
  if (hcm === undefined) {
    issues.add(fp, 'malformed HttpConnectionManager');
    return [];
  }
  const hp = join(fp, 'typed_config');
  if (oneof(hcm, 'route_specifier') !== 'route_config') {
    issues.add(
      hp,
      'inbound listeners need an inline route_config (RDS is not supported for servers)',
    );
  } else {
    // A36: server routes must carry non_forwarding_action; Weft serves every path the same way.
    const rc = message(hcm, 'route_config') ?? {};
    messages(rc, 'virtual_hosts').forEach((vh, i) => {
      messages(vh, 'routes').forEach((r, j) => {
        const rp = `${join(hp, 'route_config')}.virtual_hosts[${i}].routes[${j}]`;
        if (oneof(r, 'action') !== 'non_forwarding_action')
          issues.add(rp, `expected non_forwarding_action, got ${oneof(r, 'action') ?? 'nothing'}`);
        const m = message(r, 'match') ?? {};
        if (str(m, 'prefix') !== '/' || messages(m, 'headers').length > 0)
          issues.add(join(rp, 'match'), 'only prefix "/" is supported on inbound routes');
      });
    });
  }
  return decodeHttpFilters(messages(hcm, 'http_filters'), join(hp, 'http_filters'), issues, ctx);
}

function decodeChain(
  chain: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): ServerFilterChainUpdate {
  const match = message(chain, 'filter_chain_match') ?? {};
  for (const [k, v] of Object.entries(match)) {
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
    if (!empty && !SUPPORTED_MATCH_FIELDS.has(k))
      issues.add(join(join(path, 'filter_chain_match'), k), 'not supported by Weft');
  }
  const tp = str(match, 'transport_protocol');
  if (tp !== '' && tp !== 'tls' && tp !== 'raw_buffer')
    issues.add(join(join(path, 'filter_chain_match'), 'transport_protocol'), `unsupported ${tp}`);
  const tls = decodeTls(chain, path, issues, ctx);
  if (tp === 'tls' && tls === undefined)
    issues.add(join(path, 'transport_socket'), 'required for a tls chain');
  if (tp === 'raw_buffer' && tls !== undefined)
    issues.add(join(path, 'transport_socket'), 'a raw_buffer chain cannot have TLS');
  return {
    name: str(chain, 'name'),
    transportProtocol: tp === 'tls' || tp === 'raw_buffer' ? tp : '',
    tls,
    httpFilters: decodeChainHcm(chain, path, issues, ctx),
  };
}

/** Decodes a Listener without api_listener as a server listener. */
export function decodeServerListener(
  msg: ProtoObject,
  issues: IssueCollector,
  ctx: DecodeContext,
): ServerListenerUpdate {
  const sa = message(message(msg, 'address') ?? {}, 'socket_address');
  if (sa === undefined) issues.add('address.socket_address', 'required');
  const address = str(sa ?? {}, 'address');
  const port = int(sa ?? {}, 'port_value');
  const filterChains = messages(msg, 'filter_chains').map((c, i) =>
    decodeChain(c, `filter_chains[${i}]`, issues, ctx),
  );
  const dfc = message(msg, 'default_filter_chain');
  const defaultFilterChain =
    dfc === undefined ? undefined : decodeChain(dfc, 'default_filter_chain', issues, ctx);
  if (filterChains.length === 0 && defaultFilterChain === undefined)
    issues.add('filter_chains', 'required (no chain would accept a connection)');
  const seen = new Set<string>();
  filterChains.forEach((c, i) => {
    if (seen.has(c.transportProtocol))
      issues.add(`filter_chains[${i}].filter_chain_match`, 'duplicate match');
    seen.add(c.transportProtocol);
  });
  if (
    msg['listener_filters'] !== undefined &&
    Array.isArray(msg['listener_filters']) &&
    msg['listener_filters'].length > 0
  )
    issues.add('listener_filters', 'not supported by Weft (TLS detection is built in)');
  return { address, port, filterChains, defaultFilterChain };
}
