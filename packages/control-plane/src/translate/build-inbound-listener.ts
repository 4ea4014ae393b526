// Builds the server-side Listener a workload's inbound server watches (gRFC A36 shape, so gRPC's
// xDS servers can read it too): the address, one filter chain per accepted transport (STRICT: TLS
// only; PERMISSIVE: TLS and plaintext; DISABLE: plaintext), each with an HCM carrying an inline
// route config (non_forwarding_action) and the RBAC filters before the router.
// Spec: gRFC A36, A41; Istio's inbound listener (SDS secrets `default` and `ROOTCA`).
import {
  DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '@weft/xds-client';
import type { MeshModel } from '../config/mesh-model.js';
import type { ClientKind } from '../contracts.js';
import { buildRbacFilters } from './build-rbac.js';
import {
  authorizationPoliciesFor,
  resolveMtlsMode,
  type InboundWorkload,
} from './inbound-policies.js';

type Proto = Record<string, unknown>;

/** SDS names of the workload certificate and the trust bundle (Istio's). */
export const WORKLOAD_CERTIFICATE_SECRET = 'default';
export const TRUST_BUNDLE_SECRET = 'ROOTCA';

/** Options of {@link buildInboundListener}. */
export interface InboundListenerInput {
  readonly name: string;
  /** IP literal the server is bound to. */
  readonly address: string;
  readonly port: number;
  readonly workload: InboundWorkload;
  readonly model: MeshModel;
  /**
   * The requesting client's kind. gRPC's xDS servers read certificates from certificate
   * provider instances (gRFC A29: `default`, certificate names `default` / `ROOTCA`, Istio's
   * proxyless bootstrap) and NACK SDS; Weft and Envoy get SDS. Default `weft`.
   */
  readonly kind?: ClientKind;
  /** gRPC: the certificate-provider instance the node names (ClientView); default `default`. */
  readonly certificateProvider?: string;
}

const sds = (name: string): Proto => ({
  name,
  sds_config: { ads: {}, resource_api_version: 'V3' },
});

function hcm(statPrefix: string, port: number, rbac: readonly Proto[]): Proto {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
      stat_prefix: statPrefix,
      route_config: {
        name: `inbound|${port}`,
        virtual_hosts: [
          {
            name: `inbound|http|${port}`,
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }],
          },
        ],
      },
      http_filters: [
        ...rbac,
        { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_FILTER_TYPE_URL } },
      ],
    },
  };
}

/** The Listener as a plain proto object. */
export function buildInboundListener(input: InboundListenerInput): Record<string, unknown> {
  const { port, model, workload } = input;
  const instance = input.certificateProvider ?? 'default';
  const mtls = resolveMtlsMode(model, workload, port);
  const rbac = buildRbacFilters(authorizationPoliciesFor(model, workload));
  const tlsChain: Proto = {
    name: `inbound|${port}|mtls`,
    filter_chain_match: { transport_protocol: 'tls' },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
        require_client_certificate: { value: true },
        common_tls_context:
          input.kind === 'grpc'
            ? {
                tls_certificate_provider_instance: {
                  instance_name: instance,
                  certificate_name: WORKLOAD_CERTIFICATE_SECRET,
                },
                combined_validation_context: {
                  default_validation_context: {
                    ca_certificate_provider_instance: {
                      instance_name: instance,
                      certificate_name: TRUST_BUNDLE_SECRET,
                    },
                  },
                },
              }
            : {
                tls_certificate_sds_secret_configs: [sds(WORKLOAD_CERTIFICATE_SECRET)],
                combined_validation_context: {
                  default_validation_context: {},
                  validation_context_sds_secret_config: sds(TRUST_BUNDLE_SECRET),
                },
                alpn_protocols: ['h2', 'http/1.1'],
              },
      },
    },
    filters: [hcm(`inbound_${port}_mtls`, port, rbac)],
  };
  const plainChain: Proto = {
    name: `inbound|${port}|plaintext`,
    filter_chain_match: mtls.mode === 'PERMISSIVE' ? { transport_protocol: 'raw_buffer' } : {},
    filters: [hcm(`inbound_${port}_plaintext`, port, rbac)],
  };
  let chains: Proto[];
  if (input.kind === 'grpc') {
    // gRPC servers match chains on addresses only (a `tls` transport_protocol chain never
    // matches) and terminate TLS from the chain's transport_socket: one chain, no match.
    // PERMISSIVE cannot be detected per connection there; it is served as plaintext.
    const { filter_chain_match: _tls, ...tlsOnly } = tlsChain;
    const { filter_chain_match: _plain, ...plainOnly } = plainChain;
    chains = mtls.mode === 'STRICT' ? [tlsOnly] : [plainOnly];
  } else {
    chains =
      mtls.mode === 'STRICT'
        ? [tlsChain]
        : mtls.mode === 'PERMISSIVE'
          ? [tlsChain, plainChain]
          : [plainChain];
  }
  return {
    name: input.name,
    address: { socket_address: { address: input.address, port_value: port } },
    filter_chains: chains,
    traffic_direction: 'INBOUND',
  };
}
