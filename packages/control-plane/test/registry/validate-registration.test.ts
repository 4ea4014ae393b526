// validateRegistration: a table of RegisterEndpoint messages → endpoint or the offending field.
import assert from 'node:assert/strict';
import { validateRegistration } from '../../src/registry/validate-registration.js';
import { registerMessage } from './registry-fixtures.js';

describe('validateRegistration', () => {
  it('resolves defaults: namespace, service account, weight 1, HTTP for UNSPECIFIED', () => {
    const result = validateRegistration(
      registerMessage({
        namespace: '',
        service_account: '',
        weight: 0,
        protocol: 'PROTOCOL_UNSPECIFIED',
        labels: undefined,
        locality: undefined,
      }),
    );
    assert.ok(result.ok);
    assert.deepEqual(result.endpoint, {
      id: 'inv-1',
      service: 'inventory',
      namespace: 'default',
      address: '127.0.0.1',
      port: 41001,
      protocol: 'HTTP',
      servicePort: 0,
      labels: {},
      locality: { region: '', zone: '', subZone: '' },
      serviceAccount: 'default',
      weight: 1,
      nodeId: 'inventory-1',
    });
    assert.ok(Object.isFrozen(result.endpoint));
  });

  it('accepts IPv6 literals and GRPC', () => {
    const result = validateRegistration(registerMessage({ address: '::1', protocol: 'GRPC' }));
    assert.ok(result.ok);
    assert.equal(result.endpoint.protocol, 'GRPC');
  });

  const rejected: [name: string, overrides: Record<string, unknown>, field: string][] = [
    ['an empty id', { id: '' }, 'id'],
    ['a service that is not a DNS name', { service: 'Inventory_Svc' }, 'service'],
    ['a missing service', { service: undefined }, 'service'],
    ['a namespace that is not a DNS label', { namespace: 'a.b' }, 'namespace'],
    ['a host name as address', { address: 'localhost' }, 'address'],
    ['the unspecified IPv4 address', { address: '0.0.0.0' }, 'address'],
    ['the unspecified IPv6 address', { address: '::' }, 'address'],
    ['port 0 (an unbound port)', { port: 0 }, 'port'],
    ['a port above 65535', { port: 70_000 }, 'port'],
    ['a service port above 65535', { service_port: 65_536 }, 'service_port'],
    ['an unknown protocol', { protocol: 'TCP' }, 'protocol'],
    ['a bad label key', { labels: { 'bad key': 'x' } }, 'labels.bad key'],
    ['a bad label value', { labels: { version: 'v 1' } }, 'labels.version'],
    ['a locality part with a slash', { locality: { region: 'us/east' } }, 'locality.region'],
    ['a bad service account', { service_account: 'Inv Entory' }, 'service_account'],
    ['a weight above the maximum', { weight: 70_000 }, 'weight'],
    ['a non-string id', { id: 7 }, 'id'],
  ];
  for (const [name, overrides, field] of rejected) {
    it(`rejects ${name}, naming ${field}`, () => {
      const result = validateRegistration(registerMessage(overrides));
      assert.ok(!result.ok);
      assert.equal(result.issue.field, field);
      assert.ok(result.issue.message.startsWith(`${field}: `), result.issue.message);
    });
  }

  it('rejects a non-object without throwing', () => {
    const result = validateRegistration(null);
    assert.equal(result.ok, false);
  });
});
