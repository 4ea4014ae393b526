// End to end: a VirtualService with `fault` (abort, delay) and `mirror` + `mirrorPercentage`
// served by a real `weft control-plane` process; mesh.fetch against backends on loopback, one of
// the mirror backends hanging and one down. Issue 4, fault injection and mirroring.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Mesh } from '@weft/sdk';
import { request } from 'undici';
import {
  staticServiceYaml,
  startMeshFixture,
  type MeshFixture,
  listenOnLoopback,
} from '../helpers/sdk-fixtures.js';

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  http:
    - match: [{ uri: { prefix: /abort-all } }]
      route: [{ destination: { host: inventory } }]
      fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    - match: [{ uri: { prefix: /abort-half } }]
      route: [{ destination: { host: inventory } }]
      fault: { abort: { httpStatus: 503, percentage: { value: 50 } } }
    - match: [{ uri: { prefix: /delay-timeout } }]
      route: [{ destination: { host: inventory } }]
      timeout: 100ms
      fault: { delay: { fixedDelay: 5s, percentage: { value: 100 } } }
    - match: [{ uri: { prefix: /delay } }]
      route: [{ destination: { host: inventory } }]
      fault: { delay: { fixedDelay: 200ms, percentage: { value: 100 } } }
    - match: [{ uri: { prefix: /mirror-all } }]
      route: [{ destination: { host: inventory } }]
      mirror: { host: shadow-ok }
    - match: [{ uri: { prefix: /mirror-half } }]
      route: [{ destination: { host: inventory } }]
      mirror: { host: shadow-ok }
      mirrorPercentage: { value: 50 }
    - match: [{ uri: { prefix: /mirror-hang } }]
      route: [{ destination: { host: inventory } }]
      timeout: 30s
      mirror: { host: shadow-hang }
    - match: [{ uri: { prefix: /mirror-down } }]
      route: [{ destination: { host: inventory } }]
      mirror: { host: shadow-down }
    - route: [{ destination: { host: inventory } }]`;

/** The hanging mirror backend admits 3 requests in flight (circuit breaker max_requests). */
const SHADOW_HANG_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: shadow-hang, namespace: default }
spec:
  host: shadow-hang
  trafficPolicy:
    connectionPool: { http: { http2MaxRequests: 3 } }`;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  server: Server;
  port: number;
}> {
  const server = createServer(handler);
  return { server, port: await listenOnLoopback(server) };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('sdk http fault injection and mirroring: mesh.fetch against a weft control-plane process', function () {
  this.timeout(90_000);
  let fixture: MeshFixture;
  let mesh: Mesh;
  const servers: Server[] = [];
  let primaryReceived = 0;
  const shadowRequests: { host: string | undefined; path: string; body: string }[] = [];
  const hanging: ServerResponse[] = [];
  let hangReceived = 0;

  before(async () => {
    const primary = await listen((req, res) => {
      primaryReceived++;
      req.resume();
      req.on('end', () => res.end('inventory'));
    });
    const shadow = await listen((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        shadowRequests.push({ host: req.headers.host, path: req.url ?? '', body });
        res.end('shadow says something else');
      });
    });
    const hang = await listen((req, res) => {
      hangReceived++;
      req.resume();
      hanging.push(res); // never answers
    });
    const down = await listen(() => undefined);
    down.server.close();
    await once(down.server, 'close');
    servers.push(primary.server, shadow.server, hang.server);
    const service = (host: string, port: number): string =>
      staticServiceYaml({ host, port: 8080, protocol: 'HTTP', endpointPorts: [port] });
    fixture = await startMeshFixture(
      'checkout-fault-mirror',
      [
        service('inventory', primary.port),
        service('shadow-ok', shadow.port),
        service('shadow-hang', hang.port),
        service('shadow-down', down.port),
        VIRTUAL_SERVICE,
        SHADOW_HANG_RULE,
      ].join('\n---\n'),
    );
    mesh = fixture.mesh;
    assert.equal((await mesh.fetch('http://inventory:8080/warm')).status, 200);
  });

  after(async () => {
    for (const res of hanging) res.destroy();
    await fixture.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  describe('fault injection', () => {
    it('aborts every request with 503 "fault filter abort" at 100 %, and the backend sees none', async () => {
      const before = primaryReceived;
      const abortedBefore = mesh.stats().http.faultsAborted;
      for (let i = 0; i < 20; i++) {
        const res = await mesh.fetch(`http://inventory:8080/abort-all/${i}`);
        assert.equal(res.status, 503);
        assert.equal(await res.text(), 'fault filter abort');
      }
      assert.equal(primaryReceived - before, 0);
      assert.equal(mesh.stats().http.faultsAborted - abortedBefore, 20);
    });

    it('aborts about half the requests at 50 % (400 requests, 40 %..60 %)', async () => {
      const before = primaryReceived;
      let aborted = 0;
      for (let i = 0; i < 400; i++) {
        const res = await mesh.fetch(`http://inventory:8080/abort-half/${i}`);
        await res.arrayBuffer();
        if (res.status === 503) aborted++;
        else assert.equal(res.status, 200);
      }
      assert.ok(aborted >= 160 && aborted <= 240, `aborted ${aborted} of 400`);
      assert.equal(primaryReceived - before, 400 - aborted);
    });

    it('delays the request by the fixed delay before sending it (≥ 200 ms), then answers', async () => {
      const delayedBefore = mesh.stats().http.faultsDelayed;
      const started = performance.now();
      const res = await mesh.fetch('http://inventory:8080/delay/1');
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'inventory');
      assert.ok(performance.now() - started >= 195, 'answered before the 200 ms fault delay');
      assert.equal(mesh.stats().http.faultsDelayed - delayedBefore, 1);
    });

    it('bounds a fault delay by the route timeout (504 WEFT_TIMEOUT, backend never reached)', async () => {
      const before = primaryReceived;
      await assert.rejects(mesh.fetch('http://inventory:8080/delay-timeout/1'), (err: Error) => {
        const cause = (err as { cause?: { code?: string; responseFlag?: string } }).cause;
        assert.equal(cause?.code, 'WEFT_TIMEOUT');
        return true;
      });
      assert.equal(primaryReceived - before, 0);
    });

    it('leaves routes without a fault alone', async () => {
      const res = await mesh.fetch('http://inventory:8080/plain');
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'inventory');
    });
  });

  describe('mirroring', () => {
    it('sends a copy with Host suffixed -shadow (body included) and returns the primary response', async () => {
      shadowRequests.length = 0;
      // undici's request() hands the dispatcher the string itself (fetch() always streams bodies).
      const res = await request('http://inventory:8080/mirror-all/7', {
        dispatcher: mesh.dispatcher,
        method: 'POST',
        body: 'order=7',
      });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'inventory');
      await until(() => shadowRequests.length === 1, 'the mirror copy');
      assert.deepEqual(shadowRequests[0], {
        host: 'inventory-shadow:8080',
        path: '/mirror-all/7',
        body: 'order=7',
      });
    });

    it('does not mirror a streamed body (fetch streams every body; counted), and still sends the primary', async () => {
      shadowRequests.length = 0;
      const skippedBefore = mesh.stats().http.mirrorsSkippedStreamedBody;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('streamed'));
          controller.close();
        },
      });
      const res = await mesh.fetch('http://inventory:8080/mirror-all/stream', {
        method: 'POST',
        body,
        duplex: 'half',
      });
      assert.equal(res.status, 200);
      await res.text();
      assert.equal(mesh.stats().http.mirrorsSkippedStreamedBody - skippedBefore, 1);
      assert.equal(shadowRequests.length, 0);
    });

    it('mirrors about half the requests at mirrorPercentage 50 (400 requests, 30 %..70 %)', async () => {
      shadowRequests.length = 0;
      const mirroredBefore = mesh.stats().http.mirrored;
      for (let i = 0; i < 400; i++) {
        const res = await mesh.fetch(`http://inventory:8080/mirror-half/${i}`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      const mirrored = mesh.stats().http.mirrored - mirroredBefore;
      await until(() => shadowRequests.length === mirrored, 'every mirror copy');
      assert.ok(mirrored >= 120 && mirrored <= 280, `mirrored ${mirrored} of 400`);
    });

    it('answers the primary while the mirror backend hangs; copies beyond its max_requests are dropped', async () => {
      const before = hangReceived;
      const overflowedBefore = mesh.stats().http.mirrorsOverflowed;
      for (let i = 0; i < 5; i++) {
        const res = await mesh.fetch(`http://inventory:8080/mirror-hang/${i}`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'inventory');
      }
      await until(() => hangReceived - before === 3, 'the copies at the hanging backend');
      assert.equal(mesh.stats().http.mirrorsOverflowed - overflowedBefore, 2);
      assert.equal(hanging.filter((r) => !r.writableEnded).length, 3);
    });

    it('answers the primary when the mirror backend is down, counting the failed copy', async () => {
      const failuresBefore = mesh.stats().http.mirrorFailures;
      const res = await mesh.fetch('http://inventory:8080/mirror-down/1');
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'inventory');
      await until(() => mesh.stats().http.mirrorFailures > failuresBefore, 'the failed copy');
    });
  });
});
