// MeshDispatcher with a local_ratelimit filter on the route (fake runtime, real undici servers on
// loopback, fake clock): the refused request is a 429 response from the mesh that never reaches
// the server, allowed responses carry the x-ratelimit-* headers, undici's request() and fetch()
// and the controller-style handler API all see it, and the bucket refills on the mesh clock.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { LocalRateLimitUpdate } from '@weft/xds-client';
import { fetch, request } from 'undici';
import type { Dispatcher } from 'undici';
import { LocalRateLimiter } from '../../src/filters/local-rate-limit.js';
import { MeshDispatcher } from '../../src/http/mesh-dispatcher.js';
import type { HttpRequestEvent } from '../../src/http/http-request-event.js';
import type { EffectiveHttpFilters } from '../../src/routing/route-filters.js';
import { fakeClock } from './helpers/fake-clock.js';
import { FakeMeshRuntime } from './helpers/fake-mesh-runtime.js';
import { startServer, type TestServer } from './helpers/http-servers.js';

const LIMIT: LocalRateLimitUpdate = {
  statPrefix: 'rl',
  tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillIntervalMs: 1000 },
  filterEnabledPerMillion: 1_000_000,
  filterEnforcedPerMillion: 1_000_000,
  httpStatus: 429,
  xRateLimitHeaders: true,
  rateLimitedAsResourceExhausted: true,
};

const filters = (config: LocalRateLimitUpdate = LIMIT): EffectiveHttpFilters => [
  {
    kind: 'local_ratelimit',
    name: 'envoy.filters.http.local_ratelimit',
    config,
    scope: 'vhost:inventory',
  },
];

describe('MeshDispatcher local rate limit', function () {
  let runtime: FakeMeshRuntime;
  let dispatcher: MeshDispatcher;
  let server: TestServer;
  let fc: ReturnType<typeof fakeClock>;

  beforeEach(async function () {
    fc = fakeClock();
    runtime = new FakeMeshRuntime();
    dispatcher = new MeshDispatcher({ runtime, clock: fc.clock });
    server = await startServer('a');
    runtime.setRoute('inventory', { cluster: 'c', filters: filters(), ports: () => [server.port] });
  });

  afterEach(async function () {
    await dispatcher.destroy().catch(() => undefined);
    await server.close();
  });

  it('answers over the limit with a 429 from the mesh (RL) that never reaches the server', async function () {
    const events: HttpRequestEvent[] = [];
    const onEvent = (m: unknown): void => {
      events.push(m as HttpRequestEvent);
    };
    subscribe('weft:sdk:request', onEvent);
    try {
      for (const remaining of ['1', '0']) {
        const ok = await request('http://inventory/', { dispatcher });
        assert.equal(ok.statusCode, 200);
        assert.equal(await ok.body.text(), 'a');
        assert.equal(ok.headers['x-ratelimit-limit'], '2');
        assert.equal(ok.headers['x-ratelimit-remaining'], remaining);
        assert.equal(ok.headers['x-ratelimit-reset'], '1');
      }
      const res = await request('http://inventory/', { dispatcher });
      assert.equal(res.statusCode, 429);
      assert.equal(await res.body.text(), 'local_rate_limited');
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.equal(res.headers['x-ratelimit-remaining'], '0');
    } finally {
      unsubscribe('weft:sdk:request', onEvent);
    }
    assert.equal(server.received.length, 2);
    const last = events.at(-1);
    assert.deepEqual(
      [last?.outcome, last?.responseFlag, last?.statusCode, last?.attempts],
      ['rate-limited', 'RL', 429, 0],
    );
    assert.equal(dispatcher.stats().rateLimited, 1);
    assert.equal(dispatcher.stats().failures, 0);
  });

  it('gives fetch() a 429 Response (not a rejection) and refills on the mesh clock', async function () {
    for (let i = 0; i < 2; i++) await (await fetch('http://inventory/', { dispatcher })).text();
    const limited = await fetch('http://inventory/', { dispatcher });
    assert.equal(limited.status, 429);
    assert.equal(await limited.text(), 'local_rate_limited');
    await fc.fake.tickAsync(1000);
    const again = await fetch('http://inventory/', { dispatcher });
    assert.equal(again.status, 200);
    assert.equal(await again.text(), 'a');
    assert.equal(server.received.length, 3);
  });

  it('drives a controller-style handler through the whole local response', async function () {
    runtime.setRoute('inventory', {
      cluster: 'c',
      filters: filters({
        ...LIMIT,
        tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
      }),
      ports: () => [server.port],
    });
    await (await request('http://inventory/', { dispatcher })).body.text();
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => seen.push('start'),
        onResponseStart: (_c, status, headers) => {
          seen.push(`status ${status} limit ${String(headers['x-ratelimit-limit'])}`);
        },
        onResponseData: (_c, chunk: Buffer) => seen.push(chunk.toString()),
        onResponseEnd: () => {
          seen.push('end');
          resolve();
        },
        onResponseError: (_c, err) => {
          reject(err);
        },
      };
      dispatcher.dispatch({ origin: 'http://inventory', path: '/', method: 'GET' }, handler);
    });
    assert.deepEqual(seen, ['start', 'status 429 limit 1', 'local_rate_limited', 'end']);
  });

  it('shares buckets with another transport when given the mesh limiter', async function () {
    const limiter = new LocalRateLimiter({
      clock: fc.clock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    await dispatcher.destroy();
    dispatcher = new MeshDispatcher({ runtime, clock: fc.clock, localRateLimiter: limiter });
    const shared = filters();
    runtime.setRoute('inventory', { cluster: 'c', filters: shared, ports: () => [server.port] });
    limiter.check(shared); // another transport took a token
    assert.equal((await request('http://inventory/', { dispatcher })).statusCode, 200);
    assert.equal((await request('http://inventory/', { dispatcher })).statusCode, 429);
    assert.deepEqual([limiter.stats().allowed, limiter.stats().limited], [2, 1]);
  });
});
