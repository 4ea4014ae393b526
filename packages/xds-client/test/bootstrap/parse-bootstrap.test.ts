// Tests for parseBootstrap and formatBootstrap: gRPC's format (A27), every issue collected with
// its path into one WEFT_BOOTSTRAP ConfigError, and the format → parse round trip.
import assert from 'node:assert/strict';
import { formatBootstrap } from '../../src/bootstrap/format-bootstrap.js';
import { parseBootstrap } from '../../src/bootstrap/parse-bootstrap.js';
import { ConfigError } from '../../src/errors/weft-error.js';
// grpc-js-xds's own validator: what a real gRPC client does with the files we write.
import { validateBootstrapConfig } from '@grpc/grpc-js-xds/build/src/xds-bootstrap.js';

const MINIMAL = {
  xds_servers: [{ server_uri: 'localhost:15010', channel_creds: [{ type: 'insecure' }] }],
  node: { id: 'sidecar~127.0.0.1~inventory-1.default~default.svc.cluster.local' },
};

const FULL = {
  xds_servers: [
    {
      server_uri: 'cp-0:15010',
      channel_creds: [
        { type: 'google_default' },
        { type: 'tls', config: { ca_certificate_file: '/etc/ca.pem' } },
      ],
      server_features: ['xds_v3', 'ignore_resource_deletion'],
    },
    { server_uri: 'cp-1:15010', channel_creds: [{ type: 'insecure' }] },
  ],
  node: {
    id: 'inventory-1',
    cluster: 'inventory',
    locality: { region: 'eu', zone: 'eu-a', sub_zone: 'rack1' },
    metadata: { NAMESPACE: 'default', LABELS: { app: 'inventory' } },
    user_agent_name: 'my-agent',
    user_agent_version: '9.9.9',
    client_features: ['envoy.lb.does_not_support_overprovisioning'],
  },
  certificate_providers: {
    default: {
      plugin_name: 'file_watcher',
      config: {
        certificate_file: '/c.pem',
        private_key_file: '/k.pem',
        ca_certificate_file: '/ca.pem',
        refresh_interval: '600s',
      },
    },
  },
  server_listener_resource_name_template: 'grpc/server?xds.resource.listening_address=%s',
  client_default_listener_resource_name_template: '%s',
};

/** Runs parseBootstrap expecting a ConfigError and returns its issue paths. */
function issuePaths(json: unknown): string[] {
  try {
    parseBootstrap(json, '/etc/weft/bootstrap.json');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'WEFT_BOOTSTRAP');
    assert.match(err.message, /\/etc\/weft\/bootstrap\.json/);
    return err.issues.map((i) => i.path);
  }
  return assert.fail('expected parseBootstrap to throw');
}

describe('parseBootstrap', () => {
  it('resolves a minimal file with Weft defaults and a present, empty locality', () => {
    const b = parseBootstrap(MINIMAL, 'test');
    assert.deepEqual(b, {
      xdsServers: [
        {
          serverUri: 'localhost:15010',
          channelCredentials: 'insecure',
          serverFeatures: [],
          channelCredentialsConfig: {},
        },
      ],
      node: {
        id: MINIMAL.node.id,
        cluster: '',
        locality: { region: '', zone: '', subZone: '' },
        metadata: {},
        userAgentName: 'weft-xds-client',
        userAgentVersion: '0.1.0',
        clientFeatures: [],
      },
      certificateProviders: {},
      serverListenerResourceNameTemplate: undefined,
      clientDefaultListenerResourceNameTemplate: undefined,
      authorities: {},
    });
    assert.ok(
      Object.isFrozen(b) && Object.isFrozen(b.node.locality) && Object.isFrozen(b.xdsServers[0]),
    );
  });

  it('resolves a full file: first supported channel_creds, node fields, providers, templates', () => {
    const b = parseBootstrap(FULL, 'test');
    assert.deepEqual(b.xdsServers[0], {
      serverUri: 'cp-0:15010',
      channelCredentials: 'tls',
      serverFeatures: ['xds_v3', 'ignore_resource_deletion'],
      channelCredentialsConfig: { ca_certificate_file: '/etc/ca.pem' },
    });
    assert.equal(b.xdsServers[1]?.serverUri, 'cp-1:15010');
    assert.deepEqual(b.node.locality, { region: 'eu', zone: 'eu-a', subZone: 'rack1' });
    assert.deepEqual(b.node.metadata, FULL.node.metadata);
    assert.equal(b.node.userAgentName, 'my-agent');
    assert.equal(b.node.userAgentVersion, '9.9.9');
    assert.deepEqual(b.node.clientFeatures, ['envoy.lb.does_not_support_overprovisioning']);
    assert.deepEqual(b.certificateProviders, FULL.certificate_providers);
    assert.equal(b.serverListenerResourceNameTemplate, FULL.server_listener_resource_name_template);
    assert.equal(b.clientDefaultListenerResourceNameTemplate, '%s');
  });

  it('does not alias the input: later edits to it do not change the result', () => {
    const input = structuredClone(FULL);
    const b = parseBootstrap(input, 'test');
    input.node.metadata.NAMESPACE = 'changed';
    assert.equal(b.node.metadata['NAMESPACE'], 'default');
  });

  const bad: { name: string; json: unknown; paths: string[] }[] = [
    { name: 'a non-object', json: [], paths: [''] },
    { name: 'a missing xds_servers', json: { node: MINIMAL.node }, paths: ['xds_servers'] },
    { name: 'an empty xds_servers', json: { ...MINIMAL, xds_servers: [] }, paths: ['xds_servers'] },
    {
      name: 'a numeric server_uri',
      json: {
        ...MINIMAL,
        xds_servers: [{ server_uri: 15010, channel_creds: [{ type: 'insecure' }] }],
      },
      paths: ['xds_servers[0].server_uri'],
    },
    {
      name: 'an empty server_uri',
      json: {
        ...MINIMAL,
        xds_servers: [{ server_uri: '', channel_creds: [{ type: 'insecure' }] }],
      },
      paths: ['xds_servers[0].server_uri'],
    },
    {
      name: 'missing channel_creds',
      json: { ...MINIMAL, xds_servers: [{ server_uri: 'x:1' }] },
      paths: ['xds_servers[0].channel_creds'],
    },
    {
      name: 'only unsupported channel_creds',
      json: {
        ...MINIMAL,
        xds_servers: [{ server_uri: 'x:1', channel_creds: [{ type: 'google_default' }] }],
      },
      paths: ['xds_servers[0].channel_creds'],
    },
    {
      name: 'an unknown channel_creds type',
      json: {
        ...MINIMAL,
        xds_servers: [
          { server_uri: 'x:1', channel_creds: [{ type: 'magic' }, { type: 'insecure' }] },
        ],
      },
      paths: ['xds_servers[0].channel_creds[0].type'],
    },
    {
      name: 'a non-string server feature',
      json: {
        ...MINIMAL,
        xds_servers: [{ ...MINIMAL.xds_servers[0], server_features: ['xds_v3', 3] }],
      },
      paths: ['xds_servers[0].server_features[1]'],
    },
    {
      name: 'a missing node',
      json: { xds_servers: MINIMAL.xds_servers },
      paths: ['node', 'node.id'],
    },
    { name: 'a missing node.id', json: { ...MINIMAL, node: { cluster: 'c' } }, paths: ['node.id'] },
    { name: 'a numeric node.id', json: { ...MINIMAL, node: { id: 7 } }, paths: ['node.id'] },
    {
      name: 'a locality that is a string',
      json: { ...MINIMAL, node: { id: 'a', locality: 'eu' } },
      paths: ['node.locality'],
    },
    {
      name: 'a numeric zone',
      json: { ...MINIMAL, node: { id: 'a', locality: { zone: 1 } } },
      paths: ['node.locality.zone'],
    },
    {
      name: 'a typo in node',
      json: { ...MINIMAL, node: { id: 'a', clustr: 'x' } },
      paths: ['node.clustr'],
    },
    {
      name: 'an unknown top-level field',
      json: { ...MINIMAL, xds_server: [] },
      paths: ['xds_server'],
    },
    {
      name: 'a numeric listener template',
      json: { ...MINIMAL, server_listener_resource_name_template: 1 },
      paths: ['server_listener_resource_name_template'],
    },
    {
      name: 'an unknown certificate provider plugin',
      json: { ...MINIMAL, certificate_providers: { p: { plugin_name: 'vault', config: {} } } },
      paths: ['certificate_providers["p"].plugin_name'],
    },
    {
      name: 'a file_watcher with a key but no certificate',
      json: {
        ...MINIMAL,
        certificate_providers: {
          p: { plugin_name: 'file_watcher', config: { private_key_file: '/k' } },
        },
      },
      paths: ['certificate_providers["p"].config'],
    },
  ];
  for (const { name, json, paths } of bad) {
    it(`rejects ${name}, naming the path`, () => {
      const got = issuePaths(json);
      for (const p of paths) assert.ok(got.includes(p), `missing ${p} in ${JSON.stringify(got)}`);
    });
  }

  it('collects every issue of a file into one error', () => {
    const got = issuePaths({
      xds_servers: [{ server_uri: 1, channel_creds: 'insecure' }, 'nope'],
      node: { id: 2, locality: { region: false } },
      extra: true,
    });
    assert.deepEqual(got.sort(), [
      'extra',
      'node.id',
      'node.locality.region',
      'xds_servers[0].channel_creds',
      'xds_servers[0].server_uri',
      'xds_servers[1]',
    ]);
  });

  it('explains a type error as "expected X, got Y"', () => {
    try {
      parseBootstrap(
        { ...MINIMAL, xds_servers: [{ server_uri: 5, channel_creds: [{ type: 'insecure' }] }] },
        'f',
      );
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues, [
        { path: 'xds_servers[0].server_uri', message: 'expected string, got number' },
      ]);
    }
  });
});

describe('formatBootstrap', () => {
  it('always writes node.id and node.locality, as grpc-js requires', () => {
    const json = formatBootstrap(parseBootstrap(MINIMAL, 'test')) as {
      node: Record<string, unknown>;
    };
    assert.equal(json.node['id'], MINIMAL.node.id);
    assert.deepEqual(json.node['locality'], {});
    assert.equal('user_agent_name' in json.node, false);
  });

  it('writes files that grpc-js-xds itself accepts', () => {
    const full = { ...FULL, xds_servers: [MINIMAL.xds_servers[0]] };
    for (const input of [MINIMAL, full]) {
      const json = JSON.parse(JSON.stringify(formatBootstrap(parseBootstrap(input, 'test'))));
      const grpc = validateBootstrapConfig(json);
      assert.equal(grpc.node.id, input.node.id);
      assert.equal(grpc.xdsServers[0]?.server_uri, 'localhost:15010');
    }
  });

  const inputs = { minimal: MINIMAL, full: FULL };
  for (const [name, input] of Object.entries(inputs)) {
    it(`round-trips the ${name} bootstrap: parse(format(parse(x))) equals parse(x)`, () => {
      const once = parseBootstrap(input, 'test');
      const twice = parseBootstrap(JSON.parse(JSON.stringify(formatBootstrap(once))), 'test');
      assert.deepEqual(twice, once);
    });
  }
});
