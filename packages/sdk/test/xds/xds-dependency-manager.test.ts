import { strict as assert } from 'node:assert';
import { WeftError, silentLogger } from '@weft/xds-client';
import { RoutingError } from '../../src/routing/routing-error.js';
import type { XdsConfig } from '../../src/xds/xds-config.js';
import { XdsDependencyManager } from '../../src/xds/xds-dependency-manager.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import type { FakeClock } from '../helpers/fake-clock.js';
import { FakeWatchSource, flush } from '../helpers/fake-watch-source.js';
import {
  TYPES,
  cla,
  cluster,
  inlineListener,
  listener,
  route,
  routeConfig,
  vhost,
} from '../helpers/xds-builders.js';

interface Run {
  readonly src: FakeWatchSource;
  readonly fc: FakeClock;
  readonly manager: XdsDependencyManager;
  readonly configs: XdsConfig[];
  readonly errors: RoutingError[];
  readonly ambient: WeftError[];
}

function start(resourceWaitMs = 15_000): Run {
  const src = new FakeWatchSource();
  const fc = createFakeClock();
  const configs: XdsConfig[] = [];
  const errors: RoutingError[] = [];
  const ambient: WeftError[] = [];
  const manager = new XdsDependencyManager(
    {
      watchSource: src,
      listenerName: 'inventory',
      resourceTypes: {
        listener: TYPES.lds,
        routeConfiguration: TYPES.rds,
        cluster: TYPES.cds,
        clusterLoadAssignment: TYPES.eds,
      },
      clock: fc.clock,
      logger: silentLogger,
      resourceWaitMs,
    },
    {
      onConfig: (c) => configs.push(c),
      onError: (e) => errors.push(e),
      onAmbientError: (e) => ambient.push(e),
    },
  );
  return { src, fc, manager, configs, errors, ambient };
}

const rc = (name: string, ...clusters: string[]) =>
  routeConfig(name, [
    vhost(
      'vh',
      ['inventory'],
      clusters.map((c) => route({ clusters: c })),
    ),
  ]);

/** Serves LDS inventory → RDS rc → the given clusters, each with one endpoint. */
function serveAll(src: FakeWatchSource, ...clusters: string[]): void {
  src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
  src.set(TYPES.rds, 'rc', rc('rc', ...clusters));
  for (const c of clusters) {
    src.set(TYPES.cds, c, cluster(c));
    src.set(TYPES.eds, c, cla(c, [{ endpoints: ['10.0.0.1'] }]));
  }
}

describe('XdsDependencyManager', () => {
  it('emits one snapshot, only once the listener, routes, clusters and endpoints are all in', async () => {
    const r = start();
    r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
    await flush();
    assert.deepEqual(r.src.watched('rds'), ['rc']);
    r.src.set(TYPES.rds, 'rc', rc('rc', 'a', 'b'));
    assert.deepEqual(r.src.watched('cds'), ['a', 'b']);
    r.src.set(TYPES.cds, 'a', cluster('a'));
    r.src.set(TYPES.cds, 'b', cluster('b', { kind: 'round_robin' }, 'b-eds'));
    assert.deepEqual(r.src.watched('eds'), ['a', 'b-eds']);
    r.src.set(TYPES.eds, 'a', cla('a', [{ endpoints: ['10.0.0.1'] }]));
    assert.equal(r.configs.length, 0);
    r.src.set(TYPES.eds, 'b-eds', cla('b-eds', [{ endpoints: ['10.0.0.2'] }]));
    assert.equal(r.configs.length, 1);
    const c = r.configs[0]!;
    assert.equal(c.listenerName, 'inventory');
    assert.equal(c.routeConfig.name, 'rc');
    assert.deepEqual([...c.clusters.keys()], ['a', 'b']);
    assert.equal(c.clusters.get('b')?.endpoints?.localities[0]?.endpoints[0]?.address, '10.0.0.2');
    assert.ok(Object.isFrozen(c));
  });

  it('picks up cached resources delivered asynchronously to new watches', async () => {
    const r = start();
    serveAll(r.src, 'a'); // all in the source before anyone watches them
    await flush();
    assert.equal(r.configs.length, 1);
  });

  it('follows an inline route configuration without an RDS watch', async () => {
    const r = start();
    r.src.set(TYPES.lds, 'inventory', inlineListener('inventory', rc('inline', 'a')));
    r.src.set(TYPES.cds, 'a', cluster('a'));
    r.src.set(TYPES.eds, 'a', cla('a', [{ endpoints: ['10.0.0.1'] }]));
    await flush();
    assert.deepEqual(r.src.watched('rds'), []);
    assert.equal(r.configs.at(-1)?.routeConfig.name, 'inline');
  });

  it('never emits a half-applied update when a route moves to a new cluster', async () => {
    const r = start();
    serveAll(r.src, 'old');
    await flush();
    assert.equal(r.configs.length, 1);
    r.src.set(TYPES.rds, 'rc', rc('rc', 'new'));
    r.src.set(TYPES.cds, 'new', cluster('new'));
    assert.equal(r.configs.length, 1, 'emitted before the new cluster had endpoints');
    r.src.set(TYPES.eds, 'new', cla('new', [{ endpoints: ['10.0.0.9'] }]));
    assert.equal(r.configs.length, 2);
    assert.deepEqual([...r.configs[1]!.clusters.keys()], ['new']);
  });

  it('cancels the watches of clusters and endpoints no longer referenced', async () => {
    const r = start();
    serveAll(r.src, 'old', 'kept');
    await flush();
    r.src.set(TYPES.rds, 'rc', rc('rc', 'kept', 'new'));
    assert.deepEqual(r.src.watched('cds'), ['kept', 'new']);
    assert.deepEqual(r.src.watched('eds'), ['kept']);
  });

  it('keeps the old clusters watched while a new RDS name is unanswered', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc2'));
    assert.deepEqual(r.src.watched('rds'), ['rc2']);
    assert.deepEqual(r.src.watched('cds'), ['a']);
    assert.equal(r.configs.length, 1);
    r.src.set(TYPES.rds, 'rc2', rc('rc2', 'a'));
    assert.equal(r.configs.at(-1)?.routeConfig.name, 'rc2');
  });

  it('waits for the new EDS resource when a cluster changes its service name', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    r.src.set(TYPES.cds, 'a', cluster('a', { kind: 'round_robin' }, 'a-v2'));
    assert.equal(r.configs.length, 1);
    assert.deepEqual(r.src.watched('eds'), ['a-v2']);
    r.src.set(TYPES.eds, 'a-v2', cla('a-v2', [{ endpoints: ['10.0.0.7'] }]));
    assert.equal(r.configs.length, 2);
  });

  it('completes a snapshot with a cluster whose CDS or EDS resource is missing', async () => {
    const r = start();
    r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
    r.src.set(TYPES.rds, 'rc', rc('rc', 'gone', 'noeps'));
    const gone = new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'cds gone: does not exist');
    r.src.fail(TYPES.cds, 'gone', gone);
    r.src.set(TYPES.cds, 'noeps', cluster('noeps'));
    r.src.fail(TYPES.eds, 'noeps', new WeftError('WEFT_INVALID_RESOURCE', 'eds noeps: invalid'));
    await flush();
    const c = r.configs.at(-1)!;
    assert.equal(c.clusters.get('gone')?.error, gone);
    assert.equal(c.clusters.get('gone')?.cluster, undefined);
    assert.equal(c.clusters.get('noeps')?.error?.code, 'WEFT_INVALID_RESOURCE');
    assert.ok(c.clusters.get('noeps')?.cluster);
  });

  it('treats a resource unanswered for resourceWaitMs as missing', async () => {
    const r = start(2000);
    r.src.set(TYPES.lds, 'inventory', listener('inventory', 'rc'));
    r.src.set(TYPES.rds, 'rc', rc('rc', 'silent'));
    await flush();
    assert.deepEqual(r.manager.missing(), ['cds silent']);
    await r.fc.fake.tickAsync(2000);
    assert.equal(
      r.configs.at(-1)?.clusters.get('silent')?.error?.code,
      'WEFT_RESOURCE_DOES_NOT_EXIST',
    );
    r.src.set(TYPES.cds, 'silent', cluster('silent'));
    r.src.set(TYPES.eds, 'silent', cla('silent', [{ endpoints: ['10.0.0.1'] }]));
    assert.equal(r.configs.at(-1)?.clusters.get('silent')?.error, undefined);
  });

  it('reports a missing listener as WEFT_NO_ROUTE at the listener layer', async () => {
    const r = start();
    const cause = new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'lds inventory: does not exist');
    r.src.fail(TYPES.lds, 'inventory', cause);
    await flush();
    const err = r.errors[0];
    assert.ok(err instanceof RoutingError);
    assert.equal(err.code, 'WEFT_NO_ROUTE');
    assert.equal(err.layer, 'listener');
    assert.equal(err.cause, cause);
  });

  it('reports a missing route configuration at the route-config layer and drops cluster watches', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    r.src.fail(
      TYPES.rds,
      'rc',
      new WeftError('WEFT_RESOURCE_DOES_NOT_EXIST', 'rds rc: does not exist'),
    );
    assert.equal(r.errors[0]!.layer, 'route-config');
    assert.equal(r.errors[0]!.code, 'WEFT_NO_ROUTE');
    assert.deepEqual(r.src.watched('cds'), []);
  });

  it('keeps the last snapshot on an ambient error', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    r.src.ambient(new WeftError('WEFT_XDS_STREAM', 'stream reset'));
    assert.equal(r.configs.length, 1);
    assert.equal(r.errors.length, 0);
    assert.ok(r.ambient.length > 0);
  });

  it('does not re-emit when nothing changed', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    const same = r.configs[0]!.clusters.get('a')!.cluster!;
    r.src.set(TYPES.cds, 'a', same);
    assert.equal(r.configs.length, 1);
  });

  it('cancels every watch on close and hears nothing after', async () => {
    const r = start();
    serveAll(r.src, 'a');
    await flush();
    r.manager.close();
    for (const t of ['lds', 'rds', 'cds', 'eds']) assert.deepEqual(r.src.watched(t), []);
    assert.equal(r.fc.fake.countTimers(), 0);
  });
});
