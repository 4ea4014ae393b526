// WorkloadRegistry with fake time: leases expire after the TTL without messages, any message keeps
// them, a closed stream drops its registrations at once, a reconnect replaces the old lease's copy.
import assert from 'node:assert/strict';
import { WorkloadRegistry } from '../../src/registry/workload-registry.js';
import type { EndpointDeregisteredEvent } from '../../src/registry/registered-endpoint.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { endpoint } from './registry-fixtures.js';

const TTL_MS = 3000;

describe('WorkloadRegistry', () => {
  let time: FakeClock;
  let registry: WorkloadRegistry;
  let removed: EndpointDeregisteredEvent[];
  let changes: number;

  beforeEach(() => {
    time = createFakeClock();
    registry = new WorkloadRegistry({ leaseTtlMs: TTL_MS, clock: time.clock });
    removed = [];
    changes = 0;
    registry.on('deregistered', (e) => removed.push(e));
    registry.on('changed', () => (changes += 1));
  });

  afterEach(() => {
    registry.close();
  });

  it('drops every registration of a lease that sends nothing for the TTL, and says so', async () => {
    const lease = registry.openLease('ipv4:127.0.0.1:5000');
    registry.register(lease, endpoint({ id: 'a' }));
    registry.register(lease, endpoint({ id: 'b', port: 41002 }));
    const expired: number[] = [];
    registry.on('lease-expired', (id) => expired.push(id));
    await time.fake.tickAsync(TTL_MS - 1);
    assert.equal(registry.entries().length, 2);
    await time.fake.tickAsync(1);
    assert.deepEqual(registry.entries(), []);
    assert.deepEqual(
      removed.map((e) => [e.entry.endpoint.id, e.reason]),
      [
        ['a', 'expired'],
        ['b', 'expired'],
      ],
    );
    assert.deepEqual(expired, [lease]);
    assert.equal(registry.hasLease(lease), false);
    assert.equal(changes, 3, 'two registrations, then one change for the expiry');
  });

  it('keeps a lease alive while messages (heartbeats) arrive within the TTL', async () => {
    const lease = registry.openLease('peer');
    registry.register(lease, endpoint());
    for (let i = 0; i < 10; i++) {
      await time.fake.tickAsync(TTL_MS / 3);
      registry.touch(lease);
    }
    assert.equal(registry.entries().length, 1);
    // Then silence: gone one TTL after the last heartbeat.
    await time.fake.tickAsync(TTL_MS - 1);
    assert.equal(registry.entries().length, 1);
    await time.fake.tickAsync(1);
    assert.equal(registry.entries().length, 0);
  });

  it('drops a closed stream’s registrations at once, without waiting for the TTL', () => {
    const lease = registry.openLease('peer');
    registry.register(lease, endpoint());
    registry.closeLease(lease);
    assert.deepEqual(registry.entries(), []);
    assert.deepEqual(
      removed.map((e) => e.reason),
      ['stream-closed'],
    );
  });

  it('deregisters one registration by id and leaves the others', () => {
    const lease = registry.openLease('peer');
    registry.register(lease, endpoint({ id: 'a' }));
    registry.register(lease, endpoint({ id: 'b', port: 41002 }));
    assert.equal(registry.deregister(lease, 'a'), true);
    assert.equal(registry.deregister(lease, 'a'), false);
    assert.deepEqual(
      registry.entries().map((e) => e.endpoint.id),
      ['b'],
    );
    assert.deepEqual(
      removed.map((e) => e.reason),
      ['deregistered'],
    );
  });

  it('does not signal a change for a re-registration with the same content', () => {
    const lease = registry.openLease('peer');
    registry.register(lease, endpoint());
    registry.register(lease, endpoint());
    assert.equal(changes, 1);
    registry.register(lease, endpoint({ labels: { version: 'v3' } }));
    assert.equal(changes, 2);
    assert.equal(registry.entries().length, 1);
  });

  it('replaces the same service/address/port registered over an older lease (reconnect)', () => {
    const old = registry.openLease('peer-old');
    registry.register(old, endpoint());
    const fresh = registry.openLease('peer-new');
    registry.register(fresh, endpoint());
    assert.deepEqual(
      registry.entries().map((e) => e.leaseId),
      [fresh],
    );
    assert.deepEqual(
      removed.map((e) => [e.entry.leaseId, e.reason]),
      [[old, 'replaced']],
    );
  });

  it('reports leases with their expiry on the admin document', async () => {
    const lease = registry.openLease('ipv4:127.0.0.1:5000');
    await time.fake.tickAsync(500);
    registry.register(lease, endpoint());
    const doc = registry.document();
    assert.equal(doc.leaseTtlMs, TTL_MS);
    assert.equal(doc.leases, 1);
    assert.equal(doc.registrations.length, 1);
    const row = doc.registrations[0]!;
    assert.equal(row.lease.peer, 'ipv4:127.0.0.1:5000');
    assert.equal(row.lease.expiresAtMs, 500 + TTL_MS);
    assert.equal(row.placement, null);
  });

  it('rejects a lease TTL below the minimum with a ConfigError naming leaseTtlMs', () => {
    assert.throws(
      () => new WorkloadRegistry({ leaseTtlMs: 10 }),
      (err: { code: string; issues: { path: string }[] }) =>
        err.code === 'WEFT_INVALID_CONFIG' && err.issues[0]?.path === 'leaseTtlMs',
    );
  });
});
