// AdsServer, state-of-the-world: XDS-NOTES rules 1-11 and 15 over real loopback gRPC streams.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '@weft/xds-client';
import { AdsServer } from '../../src/server/ads-server.js';
import type { NackEvent } from '../../src/server/client-status.js';
import { AdsProbe, GRPC_NODE, namesOf, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import { BASE, mesh } from '../helpers/mesh.js';

describe('AdsServer', () => {
  describe('StreamAggregatedResources (SotW)', () => {
    let server: AdsServer;
    let probe: AdsProbe;

    beforeEach(async () => {
      server = new AdsServer();
      assert.equal(server.setResources(mesh(BASE)).ok, true);
      await server.listen();
      probe = new AdsProbe(server.port);
    });

    afterEach(async () => {
      probe.close();
      await server.close();
    });

    /** Sends an initial request and ACKs the response; returns it. */
    async function subscribe(typeUrl: string, names: string[], node?: object): Promise<Message> {
      const res = await probe.request({ type_url: typeUrl, resource_names: names, node });
      probe.send({
        type_url: typeUrl,
        resource_names: names,
        version_info: res.version_info,
        response_nonce: res.nonce,
      });
      return res;
    }

    it('remembers the node from the first request when later requests omit it', async () => {
      server.setResources((view) =>
        view.kind === 'grpc'
          ? mesh({ ...BASE, clusters: { onlyForGrpc: 'ROUND_ROBIN' } })
          : mesh(BASE),
      );
      await subscribe(LDS, [], GRPC_NODE);
      const cds = await probe.request({ type_url: CDS, resource_names: [] });
      assert.deepEqual(namesOf(cds), ['onlyForGrpc']);
      const [client] = server.clients();
      assert.equal(client?.nodeId, 'node-grpc-1');
      assert.equal(client.kind, 'grpc');
      assert.equal(client.protocol, 'sotw');
    });

    it('sends LDS and CDS as the full set the client asked for (wildcard = all)', async () => {
      const lds = await probe.request({ type_url: LDS, resource_names: [], node: WEFT_NODE });
      assert.deepEqual(namesOf(lds).sort(), ['a', 'b']);
      const cds = await probe.request({ type_url: CDS, resource_names: ['cb'] });
      assert.deepEqual(namesOf(cds), ['cb']);
    });

    it('sends RDS and EDS only for the requested names', async () => {
      const rds = await probe.request({ type_url: RDS, resource_names: ['rb'], node: WEFT_NODE });
      assert.deepEqual(namesOf(rds), ['rb']);
      const eds = await probe.request({ type_url: EDS, resource_names: ['ca'] });
      assert.deepEqual(namesOf(eds), ['ca']);
    });

    it('does not answer a request with a stale nonce', async () => {
      const routes = { ra: 'ca', rb: 'cb', rc: 'ca' };
      server.setResources(mesh({ ...BASE, routes }));
      const first = await subscribe(RDS, ['ra'], WEFT_NODE);
      server.setResources(mesh({ ...BASE, routes: { ...routes, ra: 'cb' } }));
      const pushed = await probe.next();
      assert.notEqual(pushed.nonce, first.nonce);
      // Stale: answers `first`, superseded by `pushed`. Were it served, a response naming rb would come first.
      probe.send({
        type_url: RDS,
        resource_names: ['ra', 'rb'],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      const valid = await probe.request({
        type_url: RDS,
        resource_names: ['ra', 'rc'],
        version_info: pushed.version_info,
        response_nonce: pushed.nonce,
      });
      assert.deepEqual(namesOf(valid), ['ra', 'rc']);
      assert.equal(probe.received.length, 0);
    });

    it('serves the newest request of a type, which supersedes the earlier subscription', async () => {
      const first = await probe.request({ type_url: RDS, resource_names: ['ra'], node: WEFT_NODE });
      const second = await probe.request({
        type_url: RDS,
        resource_names: ['rb'],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      assert.deepEqual(namesOf(second), ['rb']);
      probe.send({
        type_url: RDS,
        resource_names: ['rb'],
        version_info: second.version_info,
        response_nonce: second.nonce,
      });
      server.setResources(mesh({ ...BASE, routes: { ra: 'cb', rb: 'cb' } })); // ra only: not subscribed any more
      server.setResources(mesh({ ...BASE, routes: { ra: 'cb', rb: 'ca' } })); // rb changes
      const pushed = await probe.next();
      assert.deepEqual(namesOf(pushed), ['rb']);
      assert.equal(probe.received.length, 0);
    });

    it('does not re-send a type whose resources did not change', async () => {
      await subscribe(CDS, [], WEFT_NODE);
      await subscribe(LDS, []);
      await subscribe(EDS, ['ca', 'cb']);
      server.setResources(mesh({ ...BASE, endpoints: { ca: 9001, cb: 8002 } }));
      const pushed = await probe.next();
      assert.equal(pushed.type_url, EDS);
      assert.deepEqual(namesOf(pushed), ['ca', 'cb']);
      // A round trip on another type: nothing was queued before its answer.
      const rds = await probe.request({ type_url: RDS, resource_names: ['ra'] });
      assert.equal(rds.type_url, RDS);
      assert.equal(probe.received.length, 0);
    });

    it('sends a newly requested name even though it has not changed', async () => {
      const first = await subscribe(RDS, ['ra'], WEFT_NODE);
      const second = await probe.request({
        type_url: RDS,
        resource_names: ['ra', 'rb'],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      assert.deepEqual(namesOf(second), ['ra', 'rb']);
    });

    it('remembers a requested name that does not exist and pushes it when it appears', async () => {
      probe.send({ type_url: RDS, resource_names: ['later'], node: WEFT_NODE });
      const cds = await probe.request({ type_url: CDS, resource_names: [] });
      assert.equal(cds.type_url, CDS); // no RDS answer came first
      server.setResources(mesh({ ...BASE, routes: { ...BASE.routes, later: 'ca' } }));
      const pushed = await probe.next();
      assert.equal(pushed.type_url, RDS);
      assert.deepEqual(namesOf(pushed), ['later']);
    });

    it('pushes a change in make-before-break order: CDS, EDS, LDS, RDS', async () => {
      await subscribe(RDS, ['ra'], WEFT_NODE);
      await subscribe(LDS, []);
      await subscribe(EDS, ['ca']);
      await subscribe(CDS, []);
      server.setResources(
        mesh({
          listeners: { a: 'ra', b: 'rb', c: 'ra' },
          routes: { ra: 'cc', rb: 'cb' },
          clusters: { ca: 'ROUND_ROBIN', cb: 'ROUND_ROBIN', cc: 'RANDOM' },
          endpoints: { ca: 9001, cb: 8002, cc: 8003 },
        }),
      );
      const order = [];
      for (let i = 0; i < 4; i++) order.push((await probe.next()).type_url);
      assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
    });

    it('records a NACK per client and type and shows it in clients()', async () => {
      const res = await probe.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
      const nack = once(server, 'nack') as Promise<[NackEvent]>;
      probe.send({
        type_url: CDS,
        resource_names: [],
        version_info: '',
        response_nonce: res.nonce,
        error_detail: { code: 3, message: 'cluster ca: unsupported lb_policy' },
      });
      const [event] = await nack;
      assert.equal(event.nodeId, 'node-weft-1');
      assert.equal(event.typeUrl, CDS);
      assert.equal(event.message, 'cluster ca: unsupported lb_policy');
      const cds = server.clients()[0]?.types.cds;
      assert.equal(cds?.lastNack?.message, 'cluster ca: unsupported lb_policy');
      assert.equal(cds.ackedVersion, '');
      assert.equal(cds.sentVersion, res.version_info);
    });

    it('records an ACK with the acknowledged version', async () => {
      const ack = once(server, 'ack');
      const res = await subscribe(LDS, [], WEFT_NODE);
      await ack;
      assert.equal(server.clients()[0]?.types.lds?.ackedVersion, res.version_info);
    });

    it('emits connect and disconnect with the node id', async () => {
      const connected = once(server, 'connect');
      probe.send({ type_url: LDS, resource_names: [], node: WEFT_NODE });
      const [status] = await connected;
      assert.equal(status.nodeId, 'node-weft-1');
      const disconnected = once(server, 'disconnect');
      probe.close();
      const [gone] = await disconnected;
      assert.equal(gone.nodeId, 'node-weft-1');
      assert.deepEqual(server.clients(), []);
    });
  });
});
