// What each client holds, from the server's ACK/NACK bookkeeping (CSDS, /config_dump): SotW and
// Delta over real loopback gRPC streams.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '@weft/xds-client';
import { AdsServer } from '../../src/server/ads-server.js';
import type { ResourceConfigEntry } from '../../src/server/client-resources.js';
import { identifyClient } from '../../src/server/client-identity.js';
import { AdsProbe, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import { BASE, mesh } from '../helpers/mesh.js';

/** The entries of one type of the only connected client. */
function entriesOf(server: AdsServer, typeUrl: string): ResourceConfigEntry[] {
  const [client] = server.clientConfigs();
  assert.ok(client !== undefined, 'a connected client');
  return [...(client.types.find((t) => t.typeUrl === typeUrl)?.resources ?? [])];
}

function summary(entries: readonly ResourceConfigEntry[]): string[] {
  return entries.map((e) => `${e.name} ${e.clientStatus} ${e.configStatus}`);
}

/** The snapshot's encoded Any of a resource, as served to WEFT_NODE's view. */
function servedAny(server: AdsServer, typeUrl: string, name: string): unknown {
  const view = identifyClient(WEFT_NODE).view;
  return server.cache
    .get(view)
    .types.get(typeUrl as typeof CDS)
    ?.resources.get(name)?.any;
}

describe('AdsServer client resource tracking', () => {
  let server: AdsServer;
  let probe: AdsProbe;

  afterEach(async () => {
    probe.close();
    await server.close();
  });

  describe('SotW', () => {
    beforeEach(async () => {
      server = new AdsServer();
      assert.equal(server.setResources(mesh(BASE)).ok, true);
      await server.listen();
      probe = new AdsProbe(server.port);
    });

    async function ack(typeUrl: string, res: Message, names: string[] = []): Promise<void> {
      const acked = once(server, 'ack');
      probe.send({
        type_url: typeUrl,
        resource_names: names,
        version_info: res.version_info,
        response_nonce: res.nonce,
      });
      await acked;
    }

    it('reports a sent response as STALE until the ACK, then the ACKed set with its Any', async () => {
      const res = await probe.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
      assert.deepEqual(summary(entriesOf(server, CDS)), [
        'ca REQUESTED STALE',
        'cb REQUESTED STALE',
      ]);
      await ack(CDS, res);
      const entries = entriesOf(server, CDS);
      assert.deepEqual(summary(entries), ['ca ACKED SYNCED', 'cb ACKED SYNCED']);
      assert.equal(entries[0]!.version, res.version_info);
      // The snapshot's own encoded Any, not a copy.
      assert.equal(entries[0]!.any, servedAny(server, CDS, 'ca'));
      assert.equal(typeof entries[0]!.updatedAtMs, 'number');
    });

    it('keeps the held set on a NACK and marks the changed resource NACKED with the error', async () => {
      const first = await probe.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
      await ack(CDS, first);
      const heldAny = entriesOf(server, CDS)[0]!.any;
      server.setResources(mesh({ ...BASE, clusters: { ca: 'LEAST_REQUEST', cb: 'ROUND_ROBIN' } }));
      const pushed = await probe.next();
      const nacked = once(server, 'nack');
      probe.send({
        type_url: CDS,
        resource_names: [],
        version_info: first.version_info,
        response_nonce: pushed.nonce,
        error_detail: { code: 3, message: 'resource index 0 (ca): lb_policy: not for me' },
      });
      await nacked;
      const [ca, cb] = entriesOf(server, CDS);
      assert.equal(ca!.clientStatus, 'NACKED');
      assert.equal(ca!.configStatus, 'ERROR');
      assert.equal(ca!.version, first.version_info);
      assert.equal(ca!.any, heldAny);
      assert.equal(ca!.error?.message, 'resource index 0 (ca): lb_policy: not for me');
      assert.equal(ca!.error.version, pushed.version_info);
      assert.equal(ca!.error.any, servedAny(server, CDS, 'ca'));
      assert.deepEqual(summary([cb!]), ['cb ACKED SYNCED']);
      assert.equal(cb!.version, first.version_info);

      // The next accepted update clears the error.
      server.setResources(mesh(BASE));
      const fixed = await probe.next();
      await ack(CDS, fixed);
      assert.deepEqual(summary(entriesOf(server, CDS)), ['ca ACKED SYNCED', 'cb ACKED SYNCED']);
    });

    it('drops a resource the ACKed full set no longer carries', async () => {
      const first = await probe.request({ type_url: CDS, resource_names: [], node: WEFT_NODE });
      await ack(CDS, first);
      server.setResources(mesh({ ...BASE, clusters: { ca: 'ROUND_ROBIN' } }));
      const pushed = await probe.next();
      await ack(CDS, pushed);
      assert.deepEqual(summary(entriesOf(server, CDS)), ['ca ACKED SYNCED']);
    });

    it('forgets RDS names the client unsubscribed, and reports unknown names DOES_NOT_EXIST', async () => {
      const first = await probe.request({
        type_url: RDS,
        resource_names: ['ra', 'rb', 'nope'],
        node: WEFT_NODE,
      });
      await ack(RDS, first, ['ra', 'rb', 'nope']);
      assert.deepEqual(summary(entriesOf(server, RDS)), [
        'nope DOES_NOT_EXIST NOT_SENT',
        'ra ACKED SYNCED',
        'rb ACKED SYNCED',
      ]);
      const acked = once(server, 'ack');
      probe.send({
        type_url: RDS,
        resource_names: ['ra'],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      await acked;
      assert.deepEqual(summary(entriesOf(server, RDS)), ['ra ACKED SYNCED']);
    });
  });

  describe('Delta', () => {
    beforeEach(async () => {
      server = new AdsServer();
      assert.equal(server.setResources(mesh(BASE)).ok, true);
      await server.listen();
      probe = new AdsProbe(server.port, 'delta');
    });

    async function ack(typeUrl: string, res: Message): Promise<void> {
      const acked = once(server, 'ack');
      probe.send({ type_url: typeUrl, response_nonce: res.nonce });
      await acked;
    }

    it('applies ACKed upserts with per-resource versions', async () => {
      const res = await probe.request({
        type_url: EDS,
        resource_names_subscribe: ['ca', 'cb'],
        node: WEFT_NODE,
      });
      assert.deepEqual(summary(entriesOf(server, EDS)), [
        'ca REQUESTED STALE',
        'cb REQUESTED STALE',
      ]);
      await ack(EDS, res);
      const [ca] = entriesOf(server, EDS);
      assert.deepEqual(summary(entriesOf(server, EDS)), ['ca ACKED SYNCED', 'cb ACKED SYNCED']);
      const sent = (res.resources as Message[]).find((r) => r.name === 'ca');
      assert.equal(ca!.version, sent?.version);
      assert.equal(ca!.any, servedAny(server, EDS, 'ca'));
    });

    it('keeps what the client holds on a NACK and marks the rejected upserts NACKED', async () => {
      const first = await probe.request({
        type_url: EDS,
        resource_names_subscribe: ['ca', 'cb'],
        node: WEFT_NODE,
      });
      await ack(EDS, first);
      const heldVersion = entriesOf(server, EDS)[0]!.version;
      server.setResources(mesh({ ...BASE, endpoints: { ca: 9001, cb: 8002 } }));
      const pushed = await probe.next();
      const nacked = once(server, 'nack');
      probe.send({
        type_url: EDS,
        response_nonce: pushed.nonce,
        error_detail: { code: 3, message: 'bad endpoints' },
      });
      await nacked;
      const [ca, cb] = entriesOf(server, EDS);
      assert.deepEqual(summary([ca!, cb!]), ['ca NACKED ERROR', 'cb ACKED SYNCED']);
      assert.equal(ca!.version, heldVersion);
      assert.equal(ca!.error?.message, 'bad endpoints');
      assert.notEqual(ca!.error.version, heldVersion);
    });

    it('deletes what removed_resources removed once ACKed, and applies an ACK that a newer push made stale', async () => {
      const first = await probe.request({ type_url: CDS, node: WEFT_NODE }); // wildcard
      await ack(CDS, first);
      // Two pushes before any answer: ca changes, then cb goes away.
      server.setResources(mesh({ ...BASE, clusters: { ca: 'RING_HASH', cb: 'ROUND_ROBIN' } }));
      const p1 = await probe.next();
      server.setResources(mesh({ ...BASE, clusters: { ca: 'RING_HASH' } }));
      const p2 = await probe.next();
      assert.deepEqual(p2.removed_resources, ['cb']);
      probe.send({ type_url: CDS, response_nonce: p1.nonce }); // stale for the server's status
      await ack(CDS, p2);
      const entries = entriesOf(server, CDS);
      assert.deepEqual(summary(entries), ['ca ACKED SYNCED']);
      assert.equal(entries[0]!.any, servedAny(server, CDS, 'ca'));
    });
  });
});
