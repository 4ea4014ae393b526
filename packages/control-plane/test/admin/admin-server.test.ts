// AdminServer: JSON endpoints on loopback, readiness, 404 for unknown paths.
import assert from 'node:assert/strict';
import { AdminServer } from '../../src/admin/admin-server.js';

describe('AdminServer', () => {
  let ready = false;
  let server: AdminServer;

  beforeEach(async () => {
    ready = false;
    server = new AdminServer({
      source: { ready: () => ready, config: () => ({ version: 7 }), clients: () => [] },
    });
    await server.listen();
  });

  afterEach(async () => {
    await server.close();
  });

  async function get(
    path: string,
  ): Promise<{ status: number; type: string | null; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  }

  it('answers /healthz with 200 while the process lives', async () => {
    assert.equal((await get('/healthz')).status, 200);
  });

  it('answers /ready with 503 until the first config is served, then 200', async () => {
    assert.deepEqual(await get('/ready'), {
      status: 503,
      type: 'application/json; charset=utf-8',
      body: { ready: false },
    });
    ready = true;
    assert.equal((await get('/ready')).status, 200);
  });

  it('serves /config and /clients as JSON', async () => {
    assert.deepEqual((await get('/config')).body, { version: 7 });
    assert.deepEqual((await get('/clients')).body, { clients: [] });
  });

  it('answers an unknown path with 404 JSON', async () => {
    const res = await get('/nope');
    assert.equal(res.status, 404);
    assert.equal((res.body as { error: string }).error, 'not found');
  });

  it('refuses to listen again after close()', async () => {
    await server.close();
    await assert.rejects(server.listen(), { code: 'WEFT_CLOSED' });
  });
});
