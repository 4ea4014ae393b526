// AdsServer, incremental (Delta) ADS: XDS-NOTES rules 12-14 over real loopback gRPC streams.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '@weft/xds-client';
import { AdsServer } from '../../src/server/ads-server.js';
import type { NackEvent } from '../../src/server/client-status.js';
import { AdsProbe, deltaNamesOf, WEFT_NODE } from '../helpers/ads-probe.js';
import { BASE, mesh } from '../helpers/mesh.js';

describe('AdsServer', () => {
  describe('DeltaAggregatedResources (incremental)', () => {
    let server: AdsServer;
    let probe: AdsProbe;

    beforeEach(async () => {
      server = new AdsServer();
      server.setResources(mesh(BASE));
      await server.listen();
      probe = new AdsProbe(server.port, 'delta');
    });

    afterEach(async () => {
      probe.close();
      await server.close();
    });

    it('sends every resource of a wildcard subscription with per-resource versions and a nonce', async () => {
      const res = await probe.request({ type_url: CDS, node: WEFT_NODE });
      assert.deepEqual(deltaNamesOf(res).sort(), ['ca', 'cb']);
      assert.ok(res.resources.every((r: { version: string }) => r.version.length > 0));
      assert.notEqual(res.nonce, '');
      assert.equal(server.clients()[0]?.protocol, 'delta');
    });

    it('does not resend resources whose initial_resource_versions match', async () => {
      const first = await probe.request({ type_url: CDS, node: WEFT_NODE });
      const versions = Object.fromEntries(
        first.resources.map((r: { name: string; version: string }) => [r.name, r.version]),
      );
      probe.close();
      probe = new AdsProbe(server.port, 'delta');
      const res = await probe.request({
        type_url: CDS,
        node: WEFT_NODE,
        initial_resource_versions: { ca: versions.ca, cb: 'stale-version' },
      });
      assert.deepEqual(deltaNamesOf(res), ['cb']);
      assert.deepEqual(res.removed_resources ?? [], []);
    });

    it('answers every subscribed name even when the server thinks the client has it', async () => {
      const first = await probe.request({
        type_url: RDS,
        resource_names_subscribe: ['ra'],
        node: WEFT_NODE,
      });
      assert.deepEqual(deltaNamesOf(first), ['ra']);
      const again = await probe.request({
        type_url: RDS,
        resource_names_subscribe: ['ra'],
        response_nonce: first.nonce,
      });
      assert.deepEqual(deltaNamesOf(again), ['ra']);
      assert.notEqual(again.nonce, first.nonce);
    });

    it('lists a deleted resource in removed_resources', async () => {
      const first = await probe.request({ type_url: LDS, node: WEFT_NODE });
      probe.send({ type_url: LDS, response_nonce: first.nonce });
      server.setResources(mesh({ ...BASE, listeners: { a: 'ra' } }));
      const pushed = await probe.next();
      assert.deepEqual(pushed.resources ?? [], []);
      assert.deepEqual(pushed.removed_resources ?? [], ['b']);
      assert.notEqual(pushed.nonce, '');
    });

    it('answers a subscribed name that does not exist in removed_resources, then pushes it when it appears', async () => {
      const res = await probe.request({
        type_url: RDS,
        resource_names_subscribe: ['later'],
        node: WEFT_NODE,
      });
      assert.deepEqual(res.resources ?? [], []);
      assert.deepEqual(res.removed_resources ?? [], ['later']);
      probe.send({ type_url: RDS, response_nonce: res.nonce });
      server.setResources(mesh({ ...BASE, routes: { ...BASE.routes, later: 'ca' } }));
      const pushed = await probe.next();
      assert.deepEqual(deltaNamesOf(pushed), ['later']);
    });

    it('ignores an unsubscribe of a name it never knew', async () => {
      const first = await probe.request({
        type_url: RDS,
        resource_names_subscribe: ['ra'],
        node: WEFT_NODE,
      });
      probe.send({
        type_url: RDS,
        resource_names_unsubscribe: ['never-heard-of'],
        response_nonce: first.nonce,
      });
      // The stream still works and the unknown unsubscribe produced no response of its own.
      const next = await probe.request({ type_url: RDS, resource_names_subscribe: ['rb'] });
      assert.deepEqual(deltaNamesOf(next), ['rb']);
      assert.deepEqual(next.removed_resources ?? [], []);
      assert.equal(probe.received.length, 0);
    });

    it('stops pushing a resource after it is unsubscribed', async () => {
      const first = await probe.request({
        type_url: RDS,
        resource_names_subscribe: ['ra', 'rb'],
        node: WEFT_NODE,
      });
      probe.send({
        type_url: RDS,
        resource_names_unsubscribe: ['ra'],
        response_nonce: first.nonce,
      });
      const cds = await probe.request({ type_url: CDS }); // round trip: the unsubscribe was processed
      assert.equal(cds.type_url, CDS);
      server.setResources(mesh({ ...BASE, routes: { ra: 'cb', rb: 'ca' } }));
      const pushed = await probe.next();
      assert.equal(pushed.type_url, RDS);
      assert.deepEqual(deltaNamesOf(pushed), ['rb']);
    });

    it('records a NACK with the rejected version and keeps the stream serving', async () => {
      const res = await probe.request({ type_url: CDS, node: WEFT_NODE });
      const nack = once(server, 'nack') as Promise<[NackEvent]>;
      probe.send({
        type_url: CDS,
        response_nonce: res.nonce,
        error_detail: { code: 3, message: 'bad cluster' },
      });
      const [event] = await nack;
      assert.equal(event.version, res.system_version_info);
      assert.equal(server.clients()[0]?.types.cds?.lastNack?.message, 'bad cluster');
    });
  });
});
