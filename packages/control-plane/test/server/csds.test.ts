// CSDS on the ADS port: a real grpc-js client asks FetchClientStatus / StreamClientStatus about
// clients on real ADS streams.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  credentials,
  status as grpcStatus,
  type ClientDuplexStream,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  CLUSTER_TYPE_URL as CDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
  loadXdsProtos,
} from '@weft/xds-client';
import { AdsServer } from '../../src/server/ads-server.js';
import { CSDS_SERVICE_NAME } from '../../src/server/csds-service.js';
import { AdsProbe, GRPC_NODE, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import { BASE, mesh } from '../helpers/mesh.js';

type CsdsClient = InstanceType<ServiceClientConstructor> & {
  FetchClientStatus(
    request: Message,
    callback: (err: ServiceError | null, res?: Message) => void,
  ): void;
  StreamClientStatus(): ClientDuplexStream<Message, Message>;
};

describe('CSDS (ClientStatusDiscoveryService)', () => {
  let server: AdsServer;
  let weft: AdsProbe;
  let grpcProbe: AdsProbe;
  let csds: CsdsClient;

  function fetchStatus(request: Message): Promise<Message> {
    return new Promise((resolve, reject) => {
      csds.FetchClientStatus(request, (err, res) => {
        if (err !== null) reject(err);
        else resolve(res!);
      });
    });
  }

  /** Subscribes and ACKs (SotW) so the client holds the response. */
  async function subscribeAndAck(
    probe: AdsProbe,
    typeUrl: string,
    names: string[],
    node?: object,
  ): Promise<Message> {
    const res = await probe.request({ type_url: typeUrl, resource_names: names, node });
    const acked = once(server, 'ack');
    probe.send({
      type_url: typeUrl,
      resource_names: names,
      version_info: res.version_info,
      response_nonce: res.nonce,
    });
    await acked;
    return res;
  }

  beforeEach(async () => {
    server = new AdsServer();
    assert.equal(server.setResources(mesh(BASE)).ok, true);
    await server.listen();
    weft = new AdsProbe(server.port);
    grpcProbe = new AdsProbe(server.port);
    const Ctor = loadXdsProtos().serviceClient(CSDS_SERVICE_NAME);
    csds = new Ctor(`127.0.0.1:${server.port}`, credentials.createInsecure()) as CsdsClient;
    await subscribeAndAck(weft, CDS, [], WEFT_NODE);
    await subscribeAndAck(weft, RDS, ['ra']);
    await subscribeAndAck(grpcProbe, CDS, [], GRPC_NODE);
  });

  afterEach(async () => {
    csds.close();
    weft.close();
    grpcProbe.close();
    await server.close();
  });

  it('answers FetchClientStatus with one ClientConfig per client, each resource ACKED and SYNCED', async () => {
    const res = await fetchStatus({});
    const configs = res.config as Message[];
    assert.deepEqual(configs.map((c) => c.node.id).sort(), ['node-grpc-1', 'node-weft-1']);
    const mine = configs.find((c) => c.node.id === 'node-weft-1')!;
    assert.equal(mine.node.user_agent_name, 'weft-xds-client');
    const generic = mine.generic_xds_configs as Message[];
    assert.deepEqual(
      generic.map((g) => `${g.type_url} ${g.name} ${g.client_status} ${g.config_status}`),
      [`${CDS} ca ACKED SYNCED`, `${CDS} cb ACKED SYNCED`, `${RDS} ra ACKED SYNCED`],
    );
    const ca = generic[0]!;
    assert.notEqual(ca.version_info, '');
    assert.ok(Number(ca.last_updated.seconds) > 0);
    const decoded = loadXdsProtos().decodeAny(ca.xds_config);
    assert.equal(decoded.name, 'ca');
    assert.equal(decoded.lb_policy, 'ROUND_ROBIN');
  });

  it('selects clients by node_id exact, prefix and safe_regex (OR), and omits contents on request', async () => {
    const ids = async (request: Message): Promise<string[]> =>
      (((await fetchStatus(request)).config ?? []) as Message[])
        .map((c) => String(c.node.id))
        .sort();
    assert.deepEqual(await ids({ node_matchers: [{ node_id: { exact: 'node-weft-1' } }] }), [
      'node-weft-1',
    ]);
    assert.deepEqual(await ids({ node_matchers: [{ node_id: { prefix: 'node-' } }] }), [
      'node-grpc-1',
      'node-weft-1',
    ]);
    assert.deepEqual(
      await ids({ node_matchers: [{ node_id: { safe_regex: { regex: 'node-g.*' } } }] }),
      ['node-grpc-1'],
    );
    assert.deepEqual(
      await ids({
        node_matchers: [{ node_id: { exact: 'nobody' } }, { node_id: { suffix: 'weft-1' } }],
      }),
      ['node-weft-1'],
    );
    assert.deepEqual(await ids({ node_matchers: [{ node_id: { exact: 'nobody' } }] }), []);
    const bare = await fetchStatus({
      node_matchers: [{ node_id: { exact: 'node-weft-1' } }],
      exclude_resource_contents: true,
    });
    const generic = (bare.config as Message[])[0]!.generic_xds_configs as Message[];
    assert.ok(generic.length > 0);
    assert.ok(generic.every((g) => g.xds_config === null || g.xds_config === undefined));
  });

  it('rejects node_metadatas matchers with INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(
      fetchStatus({
        node_matchers: [{ node_metadatas: [{ filter: 'x', path: [{ key: 'k' }] }] }],
      }),
      (err: ServiceError) =>
        err.code === grpcStatus.INVALID_ARGUMENT &&
        /node_matchers\[0\]\.node_metadatas/.test(err.details),
    );
  });

  it('reports a NACKed resource with error_state on StreamClientStatus, one response per request', async () => {
    server.setResources(mesh({ ...BASE, clusters: { ca: 'LEAST_REQUEST', cb: 'ROUND_ROBIN' } }));
    // Both clients get the push; only the gRPC one NACKs.
    const pushedGrpc = await grpcProbe.next();
    const nacked = once(server, 'nack');
    grpcProbe.send({
      type_url: CDS,
      resource_names: [],
      version_info: '',
      response_nonce: pushedGrpc.nonce,
      error_detail: { code: 3, message: 'resource index 0 (ca): LEAST_REQUEST unsupported' },
    });
    await nacked;
    const stream = csds.StreamClientStatus();
    stream.write({ node_matchers: [{ node_id: { exact: 'node-grpc-1' } }] });
    const [res] = (await once(stream, 'data')) as [Message];
    const generic = (res.config as Message[])[0]!.generic_xds_configs as Message[];
    const ca = generic.find((g) => g.name === 'ca')!;
    assert.equal(ca.client_status, 'NACKED');
    assert.equal(ca.config_status, 'ERROR');
    assert.equal(ca.error_state.details, 'resource index 0 (ca): LEAST_REQUEST unsupported');
    assert.equal(ca.error_state.version_info, pushedGrpc.version_info);
    assert.equal(
      loadXdsProtos().decodeAny(ca.error_state.failed_configuration).lb_policy,
      'LEAST_REQUEST',
    );
    assert.equal(loadXdsProtos().decodeAny(ca.xds_config).lb_policy, 'ROUND_ROBIN');
    stream.write({ node_matchers: [{ node_id: { exact: 'node-weft-1' } }] });
    const [second] = (await once(stream, 'data')) as [Message];
    assert.equal((second.config as Message[])[0]!.node.id, 'node-weft-1');
    stream.end();
    await once(stream, 'end');
  });
});
