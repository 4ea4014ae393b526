// Tests of inbound (server-side) Listener translation: PeerAuthentication precedence into filter
// chains, AuthorizationPolicy into RBAC filters, config errors, and that every built listener
// decodes with zero issues through @weft/xds-client's Listener resource type.
import assert from 'node:assert/strict';
import {
  buildInboundListener,
  formatConfigIssues,
  loadConfigDir,
  resolveMtlsMode,
} from '@weft/control-plane';
import type { MeshModel } from '@weft/control-plane';
import {
  LISTENER_TYPE_URL,
  ListenerResourceType,
  loadXdsProtos,
  serverListenerName,
} from '@weft/xds-client';
import { makeConfigDir, removeDir } from '../helpers/config-dir.js';

const PA = (ns: string, name: string, body: string): string => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}`;
const AP = (ns: string, name: string, body: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}`;

async function load(files: Record<string, string>) {
  const dir = await makeConfigDir(files);
  try {
    return await loadConfigDir(dir);
  } finally {
    await removeDir(dir);
  }
}

async function model(files: Record<string, string>): Promise<MeshModel> {
  const r = await load(files);
  assert.ok(r.ok, r.ok ? '' : formatConfigIssues(r.issues));
  return r.model;
}

const shop = { namespace: 'shop', labels: { app: 'inventory' } };

describe('inbound listener translation', () => {
  const protos = loadXdsProtos();
  const lds = new ListenerResourceType();

  function decode(listener: Record<string, unknown>) {
    const any = protos.encodeAny(LISTENER_TYPE_URL, listener);
    const result = lds.decode(any, { protos });
    assert.ok('value' in result, JSON.stringify(result));
    assert.ok(result.value.server !== undefined);
    return result.value.server;
  }

  it('follows Istio precedence: workload > namespace > mesh, port-level wins; default PERMISSIVE', async () => {
    const m = await model({
      'mesh.yaml': PA('weft-system', 'mesh', '  mtls: { mode: STRICT }\n'),
      'ns.yaml': PA('shop', 'ns', '  mtls: { mode: DISABLE }\n'),
      'wl.yaml': PA(
        'shop',
        'wl',
        "  selector: { matchLabels: { app: inventory } }\n  mtls: { mode: UNSET }\n  portLevelMtls:\n    '9000': { mode: PERMISSIVE }\n",
      ),
    });
    assert.equal(resolveMtlsMode(m, shop, 8080).mode, 'DISABLE');
    assert.equal(resolveMtlsMode(m, shop, 9000).mode, 'PERMISSIVE');
    assert.equal(resolveMtlsMode(m, { namespace: 'other', labels: {} }, 8080).mode, 'STRICT');
    const none = await model({});
    assert.deepEqual(resolveMtlsMode(none, shop, 1), { mode: 'PERMISSIVE', source: '' });
  });

  it('STRICT is one tls chain, PERMISSIVE tls + plaintext, DISABLE plaintext; all decode', async () => {
    for (const [mode, expected] of [
      ['STRICT', ['tls']],
      ['PERMISSIVE', ['tls', 'raw_buffer']],
      ['DISABLE', ['']],
    ] as const) {
      const m = await model({ 'ns.yaml': PA('shop', 'ns', `  mtls: { mode: ${mode} }\n`) });
      const name = serverListenerName('127.0.0.1', 8080);
      const server = decode(
        buildInboundListener({ name, address: '127.0.0.1', port: 8080, workload: shop, model: m }),
      );
      assert.deepEqual(
        server.filterChains.map((c) => c.transportProtocol),
        expected,
        mode,
      );
      const tls = server.filterChains.find((c) => c.tls !== undefined)?.tls;
      if (mode !== 'DISABLE')
        assert.deepEqual(tls, {
          requireClientCertificate: true,
          certificateSecretName: 'default',
          validationSecretName: 'ROOTCA',
        });
      assert.equal(server.port, 8080);
    }
  });

  it('encodes AuthorizationPolicies as DENY, ALLOW, AUDIT RBAC filters before the router', async () => {
    const m = await model({
      'deny.yaml': AP(
        'shop',
        'deny-admin',
        "  action: DENY\n  rules:\n    - to: [{ operation: { paths: ['/admin*'] } }]\n",
      ),
      'allow.yaml': AP(
        'shop',
        'allow-front',
        "  selector: { matchLabels: { app: inventory } }\n  rules:\n    - from: [{ source: { namespaces: [front] } }]\n      to: [{ operation: { methods: [GET], ports: ['8080'] } }]\n      when: [{ key: 'request.headers[x-user]', values: ['a*'] }]\n",
      ),
      'audit.yaml': AP('weft-system', 'audit-all', '  action: AUDIT\n  rules: [{}]\n'),
      'other.yaml': AP('elsewhere', 'not-mine', '  {}\n'),
    });
    const server = decode(
      buildInboundListener({
        name: serverListenerName('127.0.0.1', 8080),
        address: '127.0.0.1',
        port: 8080,
        workload: shop,
        model: m,
      }),
    );
    const filters = server.filterChains[0]!.httpFilters;
    assert.deepEqual(
      filters.map((f) =>
        f.config?.kind === 'rbac' ? f.config.rbac.rules?.action : f.config?.kind,
      ),
      ['DENY', 'ALLOW', 'LOG', 'router'],
    );
    const allow = filters[1]!.config;
    assert.ok(allow?.kind === 'rbac');
    assert.deepEqual(
      allow.rbac.rules?.policies.map((p) => p.name),
      ['ns[shop]-policy[allow-front]-rule[0]'],
    );
  });

  it('an ALLOW policy with no rules yields an ALLOW filter with no policies (deny all)', async () => {
    const m = await model({ 'a.yaml': AP('shop', 'allow-nothing', '  {}\n') });
    const server = decode(
      buildInboundListener({ name: 'x', address: '127.0.0.1', port: 1, workload: shop, model: m }),
    );
    const f = server.filterChains[0]!.httpFilters[0]!.config;
    assert.ok(f?.kind === 'rbac');
    assert.deepEqual(f.rbac.rules, { action: 'ALLOW', policies: [] });
  });

  it('rejects unsupported fields and CUSTOM naming file, resource and field', async () => {
    const r = await load({
      'a.yaml': AP('shop', 'custom', '  action: CUSTOM\n'),
      'b.yaml': AP('shop', 'ip', '  rules:\n    - from: [{ source: { ipBlocks: [1.2.3.4] } }]\n'),
      'c.yaml': AP(
        'shop',
        'key',
        "  rules:\n    - when: [{ key: 'request.auth.claims[iss]', values: [x] }]\n",
      ),
      'd.yaml': PA('shop', 'ports-no-selector', "  portLevelMtls:\n    '80': { mode: STRICT }\n"),
      'e.yaml': PA('shop', 'bad-mode', '  mtls: { mode: SOMETIMES }\n'),
    });
    assert.ok(!r.ok);
    const text = formatConfigIssues(r.issues);
    assert.match(
      text,
      /a\.yaml:\d+: AuthorizationPolicy\/shop\/custom: spec\.action: action CUSTOM/,
    );
    assert.match(
      text,
      /b\.yaml:\d+: AuthorizationPolicy\/shop\/ip: spec\.rules\[0\]\.from\[0\]\.source\.ipBlocks: not supported/,
    );
    assert.match(
      text,
      /c\.yaml:\d+: AuthorizationPolicy\/shop\/key: spec\.rules\[0\]\.when\[0\]\.key: unsupported key/,
    );
    assert.match(
      text,
      /d\.yaml:\d+: PeerAuthentication\/shop\/ports-no-selector: spec\.portLevelMtls: portLevelMtls needs a selector/,
    );
    assert.match(text, /e\.yaml:\d+: PeerAuthentication\/shop\/bad-mode: spec\.mtls\.mode/);
  });

  it('shapes the listener for gRPC servers: one chain without a match, certificate providers', async () => {
    const m = await model({ 'ns.yaml': PA('shop', 'ns', '  mtls: { mode: STRICT }\n') });
    const name = serverListenerName('127.0.0.1', 8080);
    const l = buildInboundListener({
      name,
      address: '127.0.0.1',
      port: 8080,
      workload: shop,
      model: m,
      kind: 'grpc',
    });
    const chains = l['filter_chains'] as Record<string, unknown>[];
    assert.equal(chains.length, 1);
    assert.equal(chains[0]?.['filter_chain_match'], undefined);
    const text = JSON.stringify(l);
    assert.match(
      text,
      /"tls_certificate_provider_instance":\{"instance_name":"default","certificate_name":"default"\}/,
    );
    assert.match(
      text,
      /"ca_certificate_provider_instance":\{"instance_name":"default","certificate_name":"ROOTCA"\}/,
    );
    assert.doesNotMatch(text, /sds_config/);
    protos.encodeAny(LISTENER_TYPE_URL, l); // fits the proto
    const permissive = await model({});
    const p = buildInboundListener({
      name,
      address: '127.0.0.1',
      port: 8080,
      workload: shop,
      model: permissive,
      kind: 'grpc',
    });
    const pc = p['filter_chains'] as Record<string, unknown>[];
    assert.equal(pc.length, 1);
    assert.equal(pc[0]?.['transport_socket'], undefined, 'gRPC PERMISSIVE is served as plaintext');
  });
});
