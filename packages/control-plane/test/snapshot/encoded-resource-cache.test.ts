// Encoding reuse: unchanged resources keep their encoded bytes and content-hash versions across
// views and generations; the cache holds only what the serving generation uses.
import assert from 'node:assert/strict';
import { CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, loadXdsProtos } from '@weft/xds-client';
import type { ClientView, XdsResourceSet } from '../../src/contracts.js';
import { EncodedResourceCache } from '../../src/snapshot/encoded-resource-cache.js';
import { SnapshotCache } from '../../src/snapshot/snapshot-cache.js';
import { createSnapshot, type Snapshot } from '../../src/snapshot/snapshot.js';
import { BASE, mesh } from '../helpers/mesh.js';

const WEFT: ClientView = { kind: 'weft', locality: { region: '', zone: '', subZone: '' } };
const GRPC: ClientView = { kind: 'grpc', locality: { region: '', zone: '', subZone: '' } };

function resource(snapshot: Snapshot, typeUrl: typeof CDS | typeof LDS, name: string) {
  const r = snapshot.types.get(typeUrl)?.resources.get(name);
  assert.ok(r, `${typeUrl} ${name}`);
  return r;
}

function versions(snapshot: Snapshot): unknown {
  return [...snapshot.types].map(([url, entry]) => [
    url,
    entry.version,
    [...entry.resources.values()].map((r) => [r.name, r.version]),
  ]);
}

describe('EncodedResourceCache', () => {
  describe('with createSnapshot', () => {
    it('reuses the encoded bytes of an unchanged resource and re-encodes a changed one', () => {
      const protos = loadXdsProtos();
      const encodedCache = new EncodedResourceCache();
      const a = createSnapshot(protos, mesh(BASE), 1, { encodedCache });
      const b = createSnapshot(
        protos,
        mesh({ ...BASE, clusters: { ca: 'RANDOM', cb: 'ROUND_ROBIN' } }),
        2,
        { encodedCache },
      );
      assert.equal(resource(b, CDS, 'cb').any, resource(a, CDS, 'cb').any); // same object
      assert.equal(resource(b, LDS, 'a').any, resource(a, LDS, 'a').any);
      assert.notEqual(resource(b, CDS, 'ca').any, resource(a, CDS, 'ca').any);
      assert.notEqual(resource(b, CDS, 'ca').version, resource(a, CDS, 'ca').version);
      assert.deepEqual(encodedCache.stats.encoded, 8 + 1);
      assert.deepEqual(encodedCache.stats.reused, 7);
    });

    it('gives the same content-hash versions and bytes as encoding without a cache', () => {
      const protos = loadXdsProtos();
      const encodedCache = new EncodedResourceCache();
      const plain = createSnapshot(protos, mesh(BASE), 1);
      createSnapshot(protos, mesh(BASE), 1, { encodedCache });
      const cached = createSnapshot(protos, mesh(BASE), 1, { encodedCache });
      assert.deepEqual(versions(cached), versions(plain));
      assert.deepEqual(
        Buffer.from(resource(cached, CDS, 'ca').any.value),
        Buffer.from(resource(plain, CDS, 'ca').any.value),
      );
    });

    it('tells apart values that plain JSON would render alike (NaN and null)', () => {
      const protos = loadXdsProtos();
      const encodedCache = new EncodedResourceCache();
      const cluster = (value: number | null): XdsResourceSet =>
        new Map([
          [
            CDS,
            new Map([
              ['c', { name: 'c', common_lb_config: { healthy_panic_threshold: { value } } }],
            ]),
          ],
        ]);
      const withNull = createSnapshot(protos, cluster(null), 1, { encodedCache });
      const withNaN = createSnapshot(protos, cluster(Number.NaN), 2, { encodedCache });
      assert.equal(encodedCache.stats.reused, 0);
      assert.notEqual(resource(withNaN, CDS, 'c').version, resource(withNull, CDS, 'c').version);
      assert.deepEqual(versions(withNaN), versions(createSnapshot(protos, cluster(Number.NaN), 3)));
    });

    it('keeps nothing for a resource that fails to encode', () => {
      const encodedCache = new EncodedResourceCache();
      const bad = new Map([[CDS, new Map([['x', { name: 'x', connect_timeout: 'nope' }]])]]);
      assert.throws(() => createSnapshot(loadXdsProtos(), bad, 1, { encodedCache }));
      assert.equal(encodedCache.stats.entries, 0);
    });
  });

  describe('in SnapshotCache', () => {
    it('encodes a resource shared by several views once', () => {
      const cache = new SnapshotCache({ protos: loadXdsProtos() });
      cache.update(() => mesh(BASE), [WEFT, GRPC]);
      assert.deepEqual(cache.encodingStats, { entries: 8, encoded: 8, reused: 8 });
      assert.equal(
        resource(cache.get(GRPC), CDS, 'ca').any,
        resource(cache.get(WEFT), CDS, 'ca').any,
      );
    });

    it('re-encodes only the changed resource on update, with unchanged versions elsewhere', () => {
      const cache = new SnapshotCache({ protos: loadXdsProtos() });
      cache.update(() => mesh(BASE), [WEFT]);
      const before = cache.get(WEFT);
      cache.update(() => mesh({ ...BASE, clusters: { ca: 'RANDOM', cb: 'ROUND_ROBIN' } }));
      const after = cache.get(WEFT);
      assert.deepEqual(cache.encodingStats, { entries: 8, encoded: 9, reused: 7 });
      assert.equal(after.types.get(LDS)?.version, before.types.get(LDS)?.version);
      assert.notEqual(after.types.get(CDS)?.version, before.types.get(CDS)?.version);
      assert.equal(resource(after, CDS, 'cb').version, resource(before, CDS, 'cb').version);
    });

    it('drops encodings the serving generation no longer uses', () => {
      const cache = new SnapshotCache({ protos: loadXdsProtos() });
      cache.update(() => mesh(BASE), [WEFT]);
      cache.update(() => mesh({ clusters: { ca: 'ROUND_ROBIN' } }));
      assert.equal(cache.encodingStats.entries, 1);
    });

    it('keeps the serving encodings when an update is rejected', () => {
      const cache = new SnapshotCache({
        protos: loadXdsProtos(),
        check: (resources) => ((resources.get(CDS)?.size ?? 0) === 0 ? ['no clusters'] : []),
      });
      cache.update(() => mesh(BASE), [WEFT]);
      const rejected = cache.update(() => mesh({ listeners: { z: 'rz' } }));
      assert.equal(rejected.ok, false);
      assert.equal(cache.encodingStats.entries, 8);
      cache.update(() => mesh(BASE));
      assert.deepEqual(cache.encodingStats, { entries: 8, encoded: 8, reused: 8 });
    });
  });
});
