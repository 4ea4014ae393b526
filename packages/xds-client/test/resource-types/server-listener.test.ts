// Tests for server-side (inbound) Listener decoding (gRFC A36) and the RBAC filter decoder
// (gRFC A41): the supported shape decodes; every unsupported matcher or field is an issue at its
// path (the Listener is NACKed), never skipped.
import assert from 'node:assert/strict';
import {
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTER_FILTER_TYPE_URL,
} from '../../src/protos/type-urls.js';
import { RBAC_FILTER_TYPE_URL } from '../../src/resource-types/http-filters.js';
import { ListenerResourceType } from '../../src/resource-types/listener-resource-type.js';
import { DOWNSTREAM_TLS_CONTEXT_TYPE_URL } from '../../src/resource-types/server-listener.js';
import {
  parseServerListenerName,
  serverListenerName,
} from '../../src/resource-types/server-listener-name.js';
import { ctx, encode, expectIssueAt, expectOk, withField } from './fixtures.js';

const lds = new ListenerResourceType();
const sds = (name: string) => ({ name, sds_config: { ads: {} } });

function rbacFilter(policy: Record<string, unknown>) {
  return {
    name: 'envoy.filters.http.rbac.allow',
    typed_config: {
      '@type': RBAC_FILTER_TYPE_URL,
      rules: { action: 'ALLOW', policies: { p: policy } },
    },
  };
}

function listener(policy: Record<string, unknown>): Record<string, unknown> {
  return {
    name: serverListenerName('127.0.0.1', 8080),
    address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
    filter_chains: [
      {
        name: 'mtls',
        filter_chain_match: { transport_protocol: 'tls' },
        transport_socket: {
          name: 'tls',
          typed_config: {
            '@type': DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
            require_client_certificate: { value: true },
            common_tls_context: {
              tls_certificate_sds_secret_configs: [sds('default')],
              combined_validation_context: {
                default_validation_context: {},
                validation_context_sds_secret_config: sds('ROOTCA'),
              },
            },
          },
        },
        filters: [
          {
            name: 'hcm',
            typed_config: {
              '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
              route_config: {
                virtual_hosts: [
                  {
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }],
                  },
                ],
              },
              http_filters: [
                rbacFilter(policy),
                { name: 'router', typed_config: { '@type': ROUTER_FILTER_TYPE_URL } },
              ],
            },
          },
        ],
      },
    ],
  };
}

const GOOD_POLICY = {
  permissions: [
    {
      and_rules: {
        rules: [
          { header: { name: ':method', string_match: { exact: 'GET' } } },
          { url_path: { path: { prefix: '/items' } } },
          { not_rule: { destination_port: 9000 } },
        ],
      },
    },
  ],
  principals: [
    {
      or_ids: {
        ids: [
          { authenticated: { principal_name: { exact: 'spiffe://td/ns/a/sa/b' } } },
          { any: true },
        ],
      },
    },
  ],
};

const RBAC_AT =
  'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.rules.policies["p"]';

describe('server listeners (gRFC A36)', () => {
  it('names and parses grpc/server?xds.resource.listening_address=IP:PORT', () => {
    assert.equal(
      serverListenerName('::1', 80),
      'grpc/server?xds.resource.listening_address=[::1]:80',
    );
    assert.deepEqual(parseServerListenerName(serverListenerName('::1', 80)), {
      address: '::1',
      port: 80,
    });
    assert.deepEqual(parseServerListenerName(serverListenerName('10.0.0.1', 8080)), {
      address: '10.0.0.1',
      port: 8080,
    });
    assert.equal(parseServerListenerName('inventory:8080'), undefined);
    assert.equal(
      parseServerListenerName('grpc/server?xds.resource.listening_address=x:1'),
      undefined,
    );
  });

  it('decodes chains, DownstreamTlsContext secrets and the RBAC tree', () => {
    const value = expectOk(lds.decode(encode(LISTENER_TYPE_URL, listener(GOOD_POLICY)), ctx));
    const server = value.server;
    assert.ok(server !== undefined);
    assert.equal(server.port, 8080);
    const chain = server.filterChains[0];
    assert.ok(chain !== undefined);
    assert.equal(chain.transportProtocol, 'tls');
    assert.deepEqual(chain.tls, {
      requireClientCertificate: true,
      certificateSecretName: 'default',
      validationSecretName: 'ROOTCA',
    });
    const rbac = chain.httpFilters[0]?.config;
    assert.ok(rbac?.kind === 'rbac');
    assert.equal(rbac.rbac.rules?.action, 'ALLOW');
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- narrowed by the assert above
    const policy = rbac.rbac.rules?.policies.at(0);
    assert.ok(policy !== undefined);
    assert.equal(policy.name, 'p');
    assert.deepEqual(policy.permissions[0], {
      kind: 'and',
      rules: [
        {
          kind: 'header',
          header: {
            name: ':method',
            invertMatch: false,
            match: { kind: 'exact', value: 'GET', ignoreCase: false },
          },
        },
        { kind: 'urlPath', path: { kind: 'prefix', value: '/items', ignoreCase: false } },
        { kind: 'not', rule: { kind: 'destinationPort', port: 9000 } },
      ],
    });
  });

  const INVALID: { name: string; policy: Record<string, unknown>; path: string }[] = [
    {
      name: 'a source_ip principal',
      policy: {
        ...GOOD_POLICY,
        principals: [{ direct_remote_ip: { address_prefix: '10.0.0.0' } }],
      },
      path: `${RBAC_AT}.principals[0]`,
    },
    {
      name: 'a requested_server_name permission',
      policy: { ...GOOD_POLICY, permissions: [{ requested_server_name: { exact: 'x' } }] },
      path: `${RBAC_AT}.permissions[0]`,
    },
    {
      name: 'a CEL condition',
      policy: { ...GOOD_POLICY, condition: { id: '1' } },
      path: `${RBAC_AT}.condition`,
    },
    {
      name: 'an empty principals list',
      policy: { permissions: GOOD_POLICY.permissions, principals: [] },
      path: `${RBAC_AT}.principals`,
    },
  ];
  for (const c of INVALID) {
    it(`NACKs ${c.name}, naming the field`, () => {
      expectIssueAt(lds.decode(encode(LISTENER_TYPE_URL, listener(c.policy)), ctx), c.path);
    });
  }

  it('NACKs a forwarding route and an unsupported filter_chain_match field', () => {
    const base = listener(GOOD_POLICY);
    const routePath =
      'filter_chains.0.filters.0.typed_config.route_config.virtual_hosts.0.routes.0';
    const forwarding = withField(base, routePath, {
      match: { prefix: '/' },
      route: { cluster: 'c' },
    });
    expectIssueAt(
      lds.decode(encode(LISTENER_TYPE_URL, forwarding), ctx),
      'filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]',
    );
    const byPort = withField(base, 'filter_chains.0.filter_chain_match.destination_port', {
      value: 80,
    });
    expectIssueAt(
      lds.decode(encode(LISTENER_TYPE_URL, byPort), ctx),
      'filter_chains[0].filter_chain_match.destination_port',
    );
  });
});
