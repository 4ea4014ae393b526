// The mesh's gRPC channel credentials against real grpc-js servers on 127.0.0.1 with a fake
// MeshRuntime: a cluster with an UpstreamTlsContext never gets a plaintext call, whatever the
// channel's credentials or the other clusters sharing its address.
import assert from 'node:assert/strict';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { silentLogger, systemClock } from '@weft/xds-client';
import { installGrpcIntegration, type GrpcIntegration } from '../../src/index.js';
import { TlsHandshakes } from '../../src/security/tls-handshakes.js';
import {
  callEcho,
  startTestEchoServer,
  TestEchoClient,
  type TestEchoServer,
} from './echo-server.js';
import { FakeMeshRuntime, fakeEndpoint } from './fake-mesh-runtime.js';

describe('mesh gRPC channel credentials (grpcCredentials)', function () {
  this.timeout(20_000);
  let servers: TestEchoServer[] = [];
  let integrations: GrpcIntegration[] = [];
  let clients: InstanceType<typeof TestEchoClient>[] = [];

  afterEach(async () => {
    for (const c of clients) c.close();
    for (const i of integrations) i.uninstall();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    integrations = [];
    clients = [];
  });

  /**
   * Clusters `plain` and `secure` (mTLS) on plaintext servers (one each, or one shared);
   * metadata x-cluster picks one.
   */
  async function setUp(
    shared: boolean,
  ): Promise<{ runtime: FakeMeshRuntime; integration: GrpcIntegration }> {
    const s = await startTestEchoServer('plain-server');
    const t = shared ? s : await startTestEchoServer('secure-server');
    servers.push(s);
    if (!shared) servers.push(t);
    const runtime = new FakeMeshRuntime((input) => ({
      cluster: input.header('x-cluster') ?? 'plain',
    }));
    runtime.setClusterTls('secure');
    runtime.setCluster('plain', [fakeEndpoint('plain', s.port)]);
    runtime.setCluster('secure', [fakeEndpoint('secure', t.port)]);
    const integration = installGrpcIntegration(runtime, {
      logger: silentLogger,
      clock: systemClock,
      // No identity: an mTLS connection would fail WEFT_TLS_NO_CERTIFICATE, never go plaintext.
      security: { certificates: undefined, handshakes: new TlsHandshakes() },
    });
    integrations.push(integration);
    return { runtime, integration };
  }

  const to = (cluster: string): { metadata: Metadata } => {
    const metadata = new Metadata();
    metadata.set('x-cluster', cluster);
    return { metadata };
  };

  it('refuses calls to an mTLS cluster on a channel with other credentials, counted', async () => {
    const { integration } = await setUp(false);
    const c = new TestEchoClient('xds:///echo:9090', credentials.createInsecure());
    clients.push(c);
    assert.deepEqual(await callEcho(c, to('plain')), { backend: 'plain-server' });
    const refused = await callEcho(c, to('secure'));
    assert.equal(refused.code, status.UNAVAILABLE);
    assert.match(
      refused.details ?? '',
      /WEFT_UNSUPPORTED: cluster secure requires mTLS .*mesh\.grpcCredentials\(\)/,
    );
    assert.equal(integration.stats().callsRefusedNoMeshCredentials, 1);
    assert.equal(servers[0]!.calls, 1);
    assert.equal(servers[1]!.calls, 0, 'the mTLS cluster got nothing in plaintext');
  });

  it('keeps an address shared by an mTLS and a plaintext cluster to one of them, refusing the other', async () => {
    const { integration } = await setUp(true);
    const c = new TestEchoClient(
      'xds:///echo:9090',
      integration.channelCredentials(credentials.createInsecure()),
    );
    clients.push(c);
    // The address's one subchannel is `secure`'s (the later cluster): mTLS, which fails here
    // (no identity), and `plain`'s calls are refused rather than sent over it.
    const plain = await callEcho(c, to('plain'));
    assert.equal(plain.code, status.UNAVAILABLE);
    assert.match(
      plain.details ?? '',
      /WEFT_UNSUPPORTED: an endpoint of cluster plain needs plaintext, but this channel's connection to that address is for cluster secure with mTLS/,
    );
    assert.equal(integration.stats().picksRefusedTlsMismatch, 1);
    const secure = await callEcho(c, to('secure'));
    assert.equal(secure.code, status.UNAVAILABLE);
    assert.match(secure.details ?? '', /WEFT_TLS_NO_CERTIFICATE/);
    assert.equal(servers[0]!.calls, 0, 'nothing reached the plaintext server');
  });

  it('refuses the shared address to the mTLS cluster on a channel with other credentials', async () => {
    const { integration } = await setUp(true);
    const c = new TestEchoClient('xds:///echo:9090', credentials.createInsecure());
    clients.push(c);
    const plain = await callEcho(c, to('plain'));
    assert.match(
      plain.details ?? '',
      /WEFT_UNSUPPORTED: an endpoint of cluster plain needs plaintext/,
    );
    const secure = await callEcho(c, to('secure'));
    assert.match(secure.details ?? '', /WEFT_UNSUPPORTED: cluster secure requires mTLS/);
    assert.equal(integration.stats().callsRefusedNoMeshCredentials, 1);
    assert.equal(servers[0]!.calls, 0);
  });
});
