import { strict as assert } from 'node:assert';
import { hasHeader, indexHeaders, withHostHeader } from '../../src/http/request-headers.js';

describe('request headers', () => {
  it('hasHeader finds a name case-insensitively in every shape undici accepts, with a value only', () => {
    const shapes: Parameters<typeof hasHeader>[0][] = [
      { 'X-Request-Id': 'a', host: 'h' },
      ['host', 'h', 'X-REQUEST-ID', 'a'],
      new Map([['x-request-id', 'a']]),
    ];
    for (const headers of shapes) assert.equal(hasHeader(headers, 'x-request-id'), true);
    assert.equal(hasHeader({ 'x-request-id': undefined } as never, 'x-request-id'), false);
    assert.equal(hasHeader(['x-request-idx', 'a'], 'x-request-id'), false);
    assert.equal(hasHeader(undefined, 'x-request-id'), false);
    assert.equal(hasHeader(null, 'x-request-id'), false);
  });

  it('agrees with indexHeaders', () => {
    const headers = ['Accept', 'a', 'x-user', 'u1', 'X-User', 'u2'];
    const index = indexHeaders(headers);
    for (const name of ['accept', 'x-user', 'missing'])
      assert.equal(hasHeader(headers, name), index.has(name), name);
  });

  it('withHostHeader copies (never mutates) the caller headers and keeps a Host the caller set', () => {
    const record = { accept: 'a' };
    const copied = withHostHeader(record, 'inventory', { host: 'inventory' });
    assert.notEqual(copied, record);
    assert.deepEqual(record, { accept: 'a' });
    const own = ['Host', 'mine'];
    assert.equal(withHostHeader(own, 'inventory', { host: 'inventory' }), own);
  });
});
