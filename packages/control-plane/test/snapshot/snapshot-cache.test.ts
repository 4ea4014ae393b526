// Snapshot encoding (content-hash versions) and SnapshotCache (lazy per view, all-or-nothing updates).
import assert from 'node:assert/strict';
import { CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, loadXdsProtos } from '@weft/xds-client';
import type { ClientView } from '../../src/contracts.js';
import { SnapshotCache } from '../../src/snapshot/snapshot-cache.js';
import { createSnapshot } from '../../src/snapshot/snapshot.js';
import { BASE, mesh } from '../helpers/mesh.js';

const WEFT: ClientView = { kind: 'weft', locality: { region: '', zone: '', subZone: '' } };
const GRPC: ClientView = { kind: 'grpc', locality: { region: 'r', zone: 'z', subZone: '' } };

describe('createSnapshot', () => {
  it('gives equal content equal versions, and changes only the changed type and resource', () => {
    const protos = loadXdsProtos();
    const a = createSnapshot(protos, mesh(BASE), 1);
    const b = createSnapshot(protos, mesh(BASE), 2);
    assert.equal(a.types.get(CDS)?.version, b.types.get(CDS)?.version);
    const c = createSnapshot(
      protos,
      mesh({ ...BASE, clusters: { ca: 'RANDOM', cb: 'ROUND_ROBIN' } }),
      3,
    );
    assert.notEqual(a.types.get(CDS)?.version, c.types.get(CDS)?.version);
    assert.equal(a.types.get(LDS)?.version, c.types.get(LDS)?.version);
    assert.equal(
      a.types.get(CDS)?.resources.get('cb')?.version,
      c.types.get(CDS)?.resources.get('cb')?.version,
    );
    assert.notEqual(
      a.types.get(CDS)?.resources.get('ca')?.version,
      c.types.get(CDS)?.resources.get('ca')?.version,
    );
  });

  it('throws when a resource does not fit its message type', () => {
    const bad = new Map([[CDS, new Map([['x', { name: 'x', connect_timeout: 'not-a-duration' }]])]]);
    assert.throws(() => createSnapshot(loadXdsProtos(), bad, 1));
  });
});

describe('SnapshotCache', () => {
  it('builds a snapshot per view lazily from the build function', () => {
    const cache = new SnapshotCache({ protos: loadXdsProtos() });
    const seen: string[] = [];
    cache.update((view) => {
      seen.push(view.kind);
      return view.kind === 'grpc' ? mesh({ clusters: { g: 'ROUND_ROBIN' } }) : mesh(BASE);
    });
    assert.deepEqual(seen, []);
    assert.deepEqual([...(cache.get(GRPC).types.get(CDS)?.resources.keys() ?? [])], ['g']);
    assert.deepEqual([...(cache.get(WEFT).types.get(CDS)?.resources.keys() ?? [])], ['ca', 'cb']);
    cache.get(GRPC);
    assert.deepEqual(seen, ['grpc', 'weft']);
  });

  it('rejects the whole update when the check reports a problem for any view, keeping the last good one', () => {
    const cache = new SnapshotCache({
      protos: loadXdsProtos(),
      check: (resources) => ((resources.get(CDS)?.size ?? 0) === 0 ? ['no clusters'] : []),
    });
    assert.deepEqual(
      cache.update(() => mesh(BASE), [WEFT, GRPC]),
      { ok: true, generation: 1 },
    );
    let changes = 0;
    cache.on('change', () => changes++);
    const result = cache.update((view) => (view.kind === 'grpc' ? mesh({}) : mesh(BASE)));
    assert.deepEqual(result, { ok: false, problems: ['grpc: no clusters'] });
    assert.equal(cache.generation, 1);
    assert.equal(changes, 0);
    assert.deepEqual([...(cache.get(GRPC).types.get(CDS)?.resources.keys() ?? [])], ['ca', 'cb']);
  });

  it('rejects an update whose build function throws', () => {
    const cache = new SnapshotCache({ protos: loadXdsProtos() });
    const result = cache.update(() => {
      throw new Error('translator bug');
    }, [WEFT]);
    assert.equal(result.ok, false);
    assert.equal(cache.hasConfig, false);
  });
});
