// Tests of RbacEngine: Envoy's RBAC filter semantics over decoded policy trees (DENY stops at a
// match, ALLOW denies when nothing matches, LOG only records; principals from the peer's SPIFFE
// id; headers, paths, ports, and/or/not), from a table.
import assert from 'node:assert/strict';
import type { HttpFilterUpdate, RbacPermissionUpdate, RbacPrincipalUpdate } from '@weft/xds-client';
import {
  describeRbacPolicy,
  RbacEngine,
  type RbacRequest,
} from '../../src/security/rbac-engine.js';

const exact = (value: string) => ({ kind: 'exact' as const, value, ignoreCase: false });
const prefix = (value: string) => ({ kind: 'prefix' as const, value, ignoreCase: false });
const path = (p: string): RbacPermissionUpdate => ({ kind: 'urlPath', path: prefix(p) });
const method = (m: string): RbacPermissionUpdate => ({
  kind: 'header',
  header: { name: ':method', invertMatch: false, match: exact(m) },
});
const who = (id: string): RbacPrincipalUpdate => ({
  kind: 'authenticated',
  principalName: exact(id),
});
const ANY_P: RbacPermissionUpdate = { kind: 'any' };
const ANY_ID: RbacPrincipalUpdate = { kind: 'any' };

function filter(
  action: 'ALLOW' | 'DENY' | 'LOG',
  policies: Record<string, [RbacPermissionUpdate, RbacPrincipalUpdate]>,
): HttpFilterUpdate {
  return {
    name: `rbac-${action}`,
    typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
    isOptional: false,
    config: {
      kind: 'rbac',
      rbac: {
        rules: {
          action,
          policies: Object.entries(policies).map(([name, [perm, id]]) => ({
            name,
            permissions: [perm],
            principals: [id],
          })),
        },
      },
    },
  };
}

function req(
  overrides: Partial<RbacRequest> & { headers?: Record<string, string> } = {},
): RbacRequest {
  const headers = { ':method': overrides.method ?? 'GET', ...(overrides.headers ?? {}) };
  return {
    method: overrides.method ?? 'GET',
    path: overrides.path ?? '/',
    header: (n) => (headers as Record<string, string>)[n],
    destinationPort: overrides.destinationPort ?? 8080,
    principal: overrides.principal,
  };
}

const WEB = 'spiffe://cluster.local/ns/front/sa/web';
const DENY_ADMIN = filter('DENY', { 'deny-admin': [path('/admin'), ANY_ID] });
const ALLOW_WEB_GET = filter('ALLOW', {
  'web-get': [
    {
      kind: 'and',
      rules: [method('GET'), { kind: 'not', rule: { kind: 'destinationPort', port: 9 } }],
    },
    who(WEB),
  ],
});
const AUDIT_ALL = filter('LOG', { audit: [ANY_P, ANY_ID] });

const CASES: {
  name: string;
  filters: HttpFilterUpdate[];
  request: RbacRequest;
  allowed: boolean;
  policy: string;
  audited?: string[];
}[] = [
  { name: 'no RBAC filter allows', filters: [], request: req(), allowed: true, policy: '' },
  {
    name: 'ALLOW matches principal and method',
    filters: [ALLOW_WEB_GET],
    request: req({ principal: WEB }),
    allowed: true,
    policy: 'web-get',
  },
  {
    name: 'ALLOW without a match denies',
    filters: [ALLOW_WEB_GET],
    request: req({ principal: WEB, method: 'POST' }),
    allowed: false,
    policy: '',
  },
  {
    name: 'ALLOW needs an authenticated peer',
    filters: [ALLOW_WEB_GET],
    request: req(),
    allowed: false,
    policy: '',
  },
  {
    name: 'not destination_port',
    filters: [ALLOW_WEB_GET],
    request: req({ principal: WEB, destinationPort: 9 }),
    allowed: false,
    policy: '',
  },
  {
    name: 'DENY before ALLOW',
    filters: [DENY_ADMIN, ALLOW_WEB_GET],
    request: req({ principal: WEB, path: '/admin/x' }),
    allowed: false,
    policy: 'deny-admin',
  },
  {
    name: 'DENY without a match passes on',
    filters: [DENY_ADMIN, ALLOW_WEB_GET],
    request: req({ principal: WEB, path: '/items' }),
    allowed: true,
    policy: 'web-get',
  },
  {
    name: 'LOG never denies and records',
    filters: [AUDIT_ALL],
    request: req(),
    allowed: true,
    policy: '',
    audited: ['audit'],
  },
  {
    name: 'an ALLOW filter with no policies denies all',
    filters: [filter('ALLOW', {})],
    request: req({ principal: WEB }),
    allowed: false,
    policy: '',
  },
  {
    name: 'a filter without rules enforces nothing',
    filters: [{ ...DENY_ADMIN, config: { kind: 'rbac', rbac: { rules: undefined } } }],
    request: req({ path: '/admin' }),
    allowed: true,
    policy: '',
  },
];

describe('RbacEngine', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const d = new RbacEngine(c.filters).evaluate(c.request);
      assert.equal(d.allowed, c.allowed);
      assert.equal(d.policy, c.policy);
      assert.deepEqual(d.audited, c.audited ?? []);
    });
  }

  it('names istiod-style policies as namespace/name rule', () => {
    assert.equal(
      describeRbacPolicy('ns[shop]-policy[deny-admin]-rule[2]'),
      'shop/deny-admin rule 2',
    );
    assert.equal(describeRbacPolicy('custom'), 'custom');
  });
});
