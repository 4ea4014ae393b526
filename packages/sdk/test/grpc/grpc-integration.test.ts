// installGrpcIntegration against real grpc-js servers on 127.0.0.1, with a fake MeshRuntime:
// per-call routing, deadlines, failover, outcomes, close and multi-mesh binding.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { silentLogger, systemClock, WeftError } from '@weft/xds-client';
import {
  GRPC_CALL_DIAGNOSTICS_CHANNEL,
  GRPC_MESH_ID_OPTION,
  installGrpcIntegration,
  type GrpcCallEvent,
  type GrpcIntegration,
} from '../../src/index.js';
import {
  callEcho,
  startTestEchoServer,
  TestEchoClient,
  type TestEchoServer,
} from './echo-server.js';
import { FakeMeshRuntime, fakeEndpoint } from './fake-mesh-runtime.js';

const options = { logger: silentLogger, clock: systemClock };

describe('installGrpcIntegration', function () {
  this.timeout(20_000);
  let servers: TestEchoServer[] = [];
  let integrations: GrpcIntegration[] = [];
  let clients: InstanceType<typeof TestEchoClient>[] = [];

  const server = async (name: string): Promise<TestEchoServer> => {
    const s = await startTestEchoServer(name);
    servers.push(s);
    return s;
  };
  const install = (runtime: FakeMeshRuntime, extra: object = {}): GrpcIntegration => {
    const i = installGrpcIntegration(runtime, { ...options, ...extra });
    integrations.push(i);
    return i;
  };
  const client = (
    target: string,
    channelOptions: object = {},
  ): InstanceType<typeof TestEchoClient> => {
    const c = new TestEchoClient(target, credentials.createInsecure(), channelOptions);
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of clients) c.close();
    for (const i of integrations) i.uninstall();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    integrations = [];
    clients = [];
  });

  describe('routing', () => {
    it('sends each call to the endpoint the route decision picks, by metadata', async () => {
      const v1 = await server('v1');
      const v2 = await server('v2');
      const runtime = new FakeMeshRuntime((input) =>
        input.header('x-user-type') === 'premium' ? { cluster: 'v2' } : { cluster: 'v1' },
      );
      runtime.setCluster('v1', [fakeEndpoint('v1', v1.port)]);
      runtime.setCluster('v2', [fakeEndpoint('v2', v2.port)]);
      install(runtime);
      const c = client('xds:///echo:9090');
      const premium = new Metadata();
      premium.set('x-user-type', 'premium');
      assert.deepEqual(await callEcho(c), { backend: 'v1' });
      assert.deepEqual(await callEcho(c, { metadata: premium }), { backend: 'v2' });
      assert.deepEqual(await callEcho(c), { backend: 'v1' });
      const input = runtime.inputs[1]!;
      assert.equal(input.authority, 'echo:9090');
      assert.equal(input.path, '/weft.test.Echo/Call');
      assert.equal(input.header('content-type'), 'application/grpc');
      assert.equal(input.header('x-absent'), undefined);
      assert.deepEqual(
        runtime.outcomes.map((o) => o.outcome),
        ['success', 'success', 'success'],
      );
    });

    it('names the authority without a port as written (xds:///echo → echo)', async () => {
      const v1 = await server('v1');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', v1.port)]);
      install(runtime);
      assert.deepEqual(await callEcho(client('xds:///echo')), { backend: 'v1' });
      assert.equal(runtime.inputs[0]!.authority, 'echo');
    });

    it('fails a call without a route UNAVAILABLE with the mesh message, and counts it', async () => {
      const runtime = new FakeMeshRuntime(
        () =>
          new WeftError('WEFT_NO_ROUTE', 'listener echo: no route matches /weft.test.Echo/Call'),
      );
      const i = install(runtime);
      const result = await callEcho(client('xds:///echo'));
      assert.equal(result.code, status.UNAVAILABLE);
      assert.match(result.details ?? '', /WEFT_NO_ROUTE.*no route matches/);
      assert.equal(i.stats().callsRejected, 1);
      assert.equal(i.stats().callsInFlight, 0);
    });

    it('re-reports endpoints on runtime updates', async () => {
      const v1 = await server('v1');
      const v2 = await server('v2');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', v1.port)]);
      install(runtime);
      const c = client('xds:///echo');
      assert.deepEqual(await callEcho(c), { backend: 'v1' });
      runtime.setCluster('default', [fakeEndpoint('default', v2.port)]);
      let last = '';
      for (let n = 0; n < 50 && last !== 'v2'; n++) last = (await callEcho(c)).backend ?? '';
      assert.equal(last, 'v2');
    });

    it('fails calls with the reason when the config never becomes ready', async () => {
      const runtime = new FakeMeshRuntime(() => 'pending');
      runtime.readyError = new WeftError(
        'WEFT_RESOURCE_DOES_NOT_EXIST',
        'listener echo does not exist',
      );
      install(runtime);
      const result = await callEcho(client('xds:///echo'));
      assert.equal(result.code, status.UNAVAILABLE);
      assert.match(result.details ?? '', /listener echo does not exist/);
    });
  });

  describe('deadlines', () => {
    it('applies the route timeout when the call has no earlier deadline', async () => {
      const slow = await server('slow');
      slow.delayMs = 1000;
      const runtime = new FakeMeshRuntime(() => ({ cluster: 'default', timeoutMs: 100 }));
      runtime.setCluster('default', [fakeEndpoint('default', slow.port)]);
      install(runtime);
      const started = Date.now();
      const result = await callEcho(client('xds:///echo'), { deadlineMs: 10_000 });
      assert.equal(result.code, status.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - started < 900, 'the route timeout, not the server, ended the call');
      assert.deepEqual(runtime.outcomes, [{ key: `127.0.0.1:${slow.port}`, outcome: 'timeout' }]);
    });

    it("keeps the call's own deadline when it is earlier than the route timeout", async () => {
      const slow = await server('slow');
      slow.delayMs = 1000;
      const runtime = new FakeMeshRuntime(() => ({ cluster: 'default', timeoutMs: 5000 }));
      runtime.setCluster('default', [fakeEndpoint('default', slow.port)]);
      install(runtime);
      const started = Date.now();
      const result = await callEcho(client('xds:///echo'), { deadlineMs: 150 });
      assert.equal(result.code, status.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - started < 900);
    });
  });

  describe('load balancing and failover', () => {
    it('moves calls to the next priority when the local endpoint is down, with no failed call', async () => {
      const local = await server('local');
      const remote = await server('remote');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [
        fakeEndpoint('default', local.port, 0),
        fakeEndpoint('default', remote.port, 1),
      ]);
      install(runtime);
      const c = client('xds:///echo');
      for (let n = 0; n < 10; n++) assert.deepEqual(await callEcho(c), { backend: 'local' });
      await local.close();
      const seen: string[] = [];
      for (let n = 0; n < 30; n++) {
        const r = await callEcho(c);
        assert.equal(r.code, undefined, `call ${n} failed: ${r.details}`);
        seen.push(r.backend!);
      }
      assert.equal(seen.at(-1), 'remote');
    });

    it('reports connect-failure to leases and fails UNAVAILABLE when no endpoint is reachable', async () => {
      const gone = await server('gone');
      await gone.close();
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', gone.port)]);
      const i = install(runtime);
      const c = client('xds:///echo');
      let result = await callEcho(c, { deadlineMs: 3000 });
      // The first call may wait out the first connection attempt; a later one finds it failed.
      for (let n = 0; n < 20 && result.code === status.DEADLINE_EXCEEDED; n++) {
        result = await callEcho(c, { deadlineMs: 3000 });
      }
      assert.equal(result.code, status.UNAVAILABLE);
      assert.match(result.details ?? '', /no healthy upstream for echo in cluster default/);
      assert.ok(runtime.outcomes.some((o) => o.outcome === 'connect-failure'));
      assert.ok(i.stats().connectFailuresReported >= 1);
    });

    it('reports a server UNAVAILABLE answer as server-error and other statuses as success', async () => {
      const s = await server('s');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', s.port)]);
      const i = install(runtime);
      const c = client('xds:///echo');
      s.failWith = status.UNAVAILABLE;
      assert.equal((await callEcho(c)).code, status.UNAVAILABLE);
      s.failWith = status.NOT_FOUND;
      assert.equal((await callEcho(c)).code, status.NOT_FOUND);
      assert.deepEqual(
        runtime.outcomes.map((o) => o.outcome),
        ['server-error', 'success'],
      );
      assert.equal(i.stats().callsFailed, 2);
    });
  });

  describe('lifecycle', () => {
    it('fails later calls of its channels UNAVAILABLE "mesh closed" after uninstall', async () => {
      const s = await server('s');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', s.port)]);
      const i = install(runtime);
      const c = client('xds:///echo');
      assert.deepEqual(await callEcho(c), { backend: 's' });
      i.uninstall();
      const after = await callEcho(c);
      assert.equal(after.code, status.UNAVAILABLE);
      assert.match(after.details ?? '', /mesh weft_mesh_\d+ closed/);
      assert.equal(runtime.listenerCount(), 0, 'no runtime subscription survives uninstall');
      const fresh = await callEcho(client('xds:///echo'));
      assert.equal(fresh.code, status.UNAVAILABLE);
      assert.match(fresh.details ?? '', /no open mesh serves xds: targets/);
    });

    it('binds each channel to the mesh current at its first call, or to the one it names', async () => {
      const a = await server('a');
      const b = await server('b');
      const runtimeA = new FakeMeshRuntime();
      runtimeA.setCluster('default', [fakeEndpoint('default', a.port)]);
      const runtimeB = new FakeMeshRuntime();
      runtimeB.setCluster('default', [fakeEndpoint('default', b.port)]);
      const meshA = install(runtimeA);
      const onA = client('xds:///echo');
      assert.deepEqual(await callEcho(onA), { backend: 'a' });
      const meshB = install(runtimeB);
      assert.notEqual(meshA.meshId, meshB.meshId);
      const onB = client('xds:///echo');
      const namedA = client('xds:///echo', { [GRPC_MESH_ID_OPTION]: meshA.meshId });
      assert.deepEqual(await callEcho(onB), { backend: 'b' });
      assert.deepEqual(await callEcho(onA), { backend: 'a' });
      assert.deepEqual(await callEcho(namedA), { backend: 'a' });
      meshB.uninstall();
      // With B closed, A is the default again for new channels.
      assert.deepEqual(await callEcho(client('xds:///echo')), { backend: 'a' });
      assert.equal((await callEcho(onB)).code, status.UNAVAILABLE);
      assert.equal(meshA.stats().channels, 3);
    });

    it('rejects invalid options with every issue', () => {
      assert.throws(
        () =>
          installGrpcIntegration(new FakeMeshRuntime(), {
            ...options,
            scheme: 'X Y',
            resolutionTimeoutMs: -1,
          }),
        (err: WeftError) => {
          assert.equal(err.code, 'WEFT_INVALID_CONFIG');
          assert.match(err.message, /scheme.*resolutionTimeoutMs/);
          return true;
        },
      );
    });
  });

  describe('observability', () => {
    it('publishes one weft:sdk:grpc-call event per call and counts calls', async () => {
      const s = await server('s');
      const runtime = new FakeMeshRuntime();
      runtime.setCluster('default', [fakeEndpoint('default', s.port)]);
      const i = install(runtime);
      const events: GrpcCallEvent[] = [];
      const onEvent = (message: unknown): void => {
        events.push(message as GrpcCallEvent);
      };
      diagnosticsChannel.subscribe(GRPC_CALL_DIAGNOSTICS_CHANNEL, onEvent);
      try {
        const c = client('xds:///echo');
        await callEcho(c);
        await callEcho(c);
      } finally {
        diagnosticsChannel.unsubscribe(GRPC_CALL_DIAGNOSTICS_CHANNEL, onEvent);
      }
      assert.equal(events.length, 2);
      assert.deepEqual(
        { ...events[0]!, durationMs: 0 },
        {
          meshId: i.meshId,
          authority: 'echo',
          method: '/weft.test.Echo/Call',
          routeName: 'route',
          clusterName: 'default',
          endpoint: `127.0.0.1:${s.port}`,
          attempts: 1,
          retries: 0,
          code: status.OK,
          details: 'OK',
          weftCode: undefined,
          responseFlag: '-',
          durationMs: 0,
        },
      );
      const stats = i.stats();
      assert.equal(stats.callsStarted, 2);
      assert.equal(stats.callsSucceeded, 2);
      assert.equal(stats.channels, 1);
    });
  });
});
