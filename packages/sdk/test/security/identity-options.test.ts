// createMesh's `identity` option and WEFT_JOIN_TOKEN(_FILE): table of inputs → resolved options
// or the issue paths; and an UpstreamTlsContext the SDK cannot serve is an explicit error.
import assert from 'node:assert/strict';
import { ConfigError, type ConfigIssue, type UpstreamTlsUpdate } from '@weft/xds-client';
import { resolveMeshOptions } from '../../src/mesh-options.js';
import { resolveIdentityOptions } from '../../src/security/identity-options.js';
import { upstreamTlsPolicy } from '../../src/security/upstream-tls.js';

describe('resolveIdentityOptions', function () {
  const ok: { name: string; input: unknown; env: Record<string, string>; want: unknown }[] = [
    { name: 'nothing: no identity', input: undefined, env: {}, want: undefined },
    {
      name: 'false: no identity despite the env',
      input: false,
      env: { WEFT_JOIN_TOKEN: 't' },
      want: undefined,
    },
    {
      name: 'an inline token with the defaults',
      input: { token: ' t1 ' },
      env: {},
      want: { token: { kind: 'inline', value: 't1' }, ttlMs: 0, readyTimeoutMs: 15_000 },
    },
    {
      name: 'a token file and a TTL',
      input: { tokenFile: '/run/token', ttlMs: 120_000 },
      env: {},
      want: { token: { kind: 'file', path: '/run/token' }, ttlMs: 120_000, readyTimeoutMs: 15_000 },
    },
    {
      name: 'WEFT_JOIN_TOKEN',
      input: undefined,
      env: { WEFT_JOIN_TOKEN: 'env-token' },
      want: { token: { kind: 'inline', value: 'env-token' }, ttlMs: 0, readyTimeoutMs: 15_000 },
    },
    {
      name: 'WEFT_JOIN_TOKEN_FILE',
      input: undefined,
      env: { WEFT_JOIN_TOKEN_FILE: '/t' },
      want: { token: { kind: 'file', path: '/t' }, ttlMs: 0, readyTimeoutMs: 15_000 },
    },
    {
      name: 'the option over the env',
      input: { token: 'opt' },
      env: { WEFT_JOIN_TOKEN: 'env' },
      want: { token: { kind: 'inline', value: 'opt' }, ttlMs: 0, readyTimeoutMs: 15_000 },
    },
  ];
  for (const row of ok) {
    it(`resolves ${row.name}`, () => {
      const issues: ConfigIssue[] = [];
      assert.deepEqual(resolveIdentityOptions(row.input, row.env, issues), row.want);
      assert.deepEqual(issues, []);
    });
  }

  const bad: { name: string; input: unknown; paths: string[] }[] = [
    { name: 'a string', input: 'token', paths: ['identity'] },
    { name: 'an unknown field', input: { token: 't', ttl: 5 }, paths: ['identity.ttl'] },
    {
      name: 'token and tokenFile',
      input: { token: 't', tokenFile: '/f' },
      paths: ['identity.tokenFile'],
    },
    { name: 'no token at all', input: {}, paths: ['identity.token'] },
    {
      name: 'a TTL below the CA minimum',
      input: { token: 't', ttlMs: 59_999 },
      paths: ['identity.ttlMs'],
    },
    {
      name: 'a token that is a number',
      input: { token: 5 },
      paths: ['identity.token', 'identity.token'],
    },
  ];
  for (const row of bad) {
    it(`reports ${row.name}`, () => {
      const issues: ConfigIssue[] = [];
      resolveIdentityOptions(row.input, {}, issues);
      assert.deepEqual(
        issues.map((i) => i.path),
        row.paths,
      );
    });
  }

  it('is part of createMesh options: a bad identity is one ConfigError with the others', async () => {
    await assert.rejects(
      resolveMeshOptions({ controlPlane: '127.0.0.1:1', env: {}, identity: { ttlMs: 1 } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.some((i) => i.path === 'identity.ttlMs') &&
        err.issues.some((i) => i.path === 'identity.token'),
    );
    const r = await resolveMeshOptions({
      controlPlane: '127.0.0.1:1',
      env: { WEFT_JOIN_TOKEN: 'x' },
    });
    assert.equal(r.identity?.token.kind, 'inline');
  });
});

describe('controlPlaneTls option', function () {
  const base = { controlPlane: '127.0.0.1:15010' };
  const cases: {
    name: string;
    options: Record<string, unknown>;
    env: Record<string, string>;
    want?: unknown;
    issues?: string[];
  }[] = [
    { name: 'absent: none', options: {}, env: {}, want: undefined },
    {
      name: 'an address and a CA file',
      options: {
        identity: { token: 't' },
        controlPlaneTls: { address: '127.0.0.1:15012', caFile: '/r.pem' },
      },
      env: {},
      want: { address: '127.0.0.1:15012', caFile: '/r.pem' },
    },
    {
      name: 'the env (trust on first use without WEFT_XDS_TLS_CA_FILE)',
      options: {},
      env: { WEFT_JOIN_TOKEN: 't', WEFT_XDS_TLS_ADDRESS: 'cp:15012' },
      want: { address: 'cp:15012', caFile: undefined },
    },
    {
      name: 'false despite the env',
      options: { controlPlaneTls: false },
      env: { WEFT_JOIN_TOKEN: 't', WEFT_XDS_TLS_ADDRESS: 'cp:15012' },
      want: undefined,
    },
    {
      name: 'without identity',
      options: { controlPlaneTls: { address: '127.0.0.1:15012' } },
      env: {},
      issues: ['controlPlaneTls'],
    },
    {
      name: 'the env without identity',
      options: {},
      env: { WEFT_XDS_TLS_ADDRESS: 'cp:15012' },
      issues: ['env.WEFT_XDS_TLS_ADDRESS'],
    },
    {
      name: 'no address, an unknown key',
      options: { identity: { token: 't' }, controlPlaneTls: { caFile: '/r.pem', port: 1 } },
      env: {},
      issues: ['controlPlaneTls.port', 'controlPlaneTls.address'],
    },
    {
      name: 'a bad address',
      options: { identity: { token: 't' }, controlPlaneTls: { address: 'cp' } },
      env: {},
      issues: ['controlPlaneTls.address'],
    },
  ];
  for (const c of cases)
    it(`${c.issues === undefined ? 'resolves' : 'reports'} ${c.name}`, async () => {
      const run = resolveMeshOptions({ ...base, ...c.options, env: c.env });
      if (c.issues === undefined) {
        const r = await run;
        assert.deepEqual(r.controlPlaneTls, c.want);
        return;
      }
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          c.issues,
        );
        return true;
      });
    });
});

describe('upstreamTlsPolicy', function () {
  const base: UpstreamTlsUpdate = {
    sni: '',
    certificateSecretNames: ['default'],
    certificateProviderInstance: undefined,
    validationSecretName: 'ROOTCA',
    validationProviderInstance: undefined,
    matchSubjectAltNames: [{ kind: 'exact', value: 'spiffe://td/ns/a/sa/b', ignoreCase: false }],
    alpnProtocols: [],
  };

  it('compiles Istio’s ISTIO_MUTUAL shape into SAN predicates', () => {
    const p = upstreamTlsPolicy('c', base);
    assert.ok(!(p instanceof Error));
    assert.equal(p.sanMatchers.length, 1);
    assert.equal(p.sanMatchers[0]!('spiffe://td/ns/a/sa/b'), true);
    assert.equal(p.sanMatchers[0]!('spiffe://td/ns/a/sa/c'), false);
  });

  for (const [name, tls] of [
    ['another certificate secret', { ...base, certificateSecretNames: ['mine'] }],
    ['no certificate (one-way TLS)', { ...base, certificateSecretNames: [] }],
    ['another validation secret', { ...base, validationSecretName: 'other-roots' }],
    [
      'a gRPC certificate provider',
      { ...base, certificateProviderInstance: { instanceName: 'x', certificateName: '' } },
    ],
  ] as const) {
    it(`refuses ${name} with WEFT_UNSUPPORTED naming the cluster (never plaintext)`, () => {
      const p = upstreamTlsPolicy('outbound|80||x', tls);
      assert.ok(p instanceof Error);
      assert.equal(p.code, 'WEFT_UNSUPPORTED');
      assert.match(p.message, /cluster outbound\|80\|\|x: transport_socket/);
    });
  }
});
