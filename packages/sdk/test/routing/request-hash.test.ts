import { strict as assert } from 'node:assert';
import type { HashPolicyUpdate } from '@weft/xds-client';
import { computeRequestHash } from '../../src/routing/request-hash.js';
import { RequestView } from '../../src/routing/request-view.js';
import { xxhash64 } from '../../src/routing/xxhash64.js';
import { sequenceRandom } from '../helpers/seeded-random.js';
import { headersOf } from '../helpers/xds-builders.js';

const ctx = { channelId: 77n, random: sequenceRandom(0.5) };
const rotl1 = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & 0xffffffffffffffffn;

function hashOf(
  policies: HashPolicyUpdate[],
  headers: Record<string, string>,
  path = '/',
  sourceIp?: string,
): bigint {
  return computeRequestHash(
    policies,
    new RequestView({ authority: 'a', path, header: headersOf(headers), sourceIp }),
    ctx,
  );
}

describe('computeRequestHash', () => {
  const user: HashPolicyUpdate = { kind: 'header', headerName: 'x-user', terminal: false };
  const session: HashPolicyUpdate = { kind: 'header', headerName: 'x-session', terminal: false };

  it('hashes a header value with XXH64', () => {
    assert.equal(hashOf([user], { 'x-user': 'alice' }), xxhash64('alice'));
  });

  it('combines hashes as Envoy does: rotate the previous left by one, XOR the next', () => {
    assert.equal(
      hashOf([user, session], { 'x-user': 'alice', 'x-session': 's1' }),
      rotl1(xxhash64('alice')) ^ xxhash64('s1'),
    );
  });

  it('stops at a terminal policy that produced a hash', () => {
    const terminal: HashPolicyUpdate = { ...user, terminal: true };
    assert.equal(
      hashOf([terminal, session], { 'x-user': 'alice', 'x-session': 's1' }),
      xxhash64('alice'),
    );
  });

  it('goes past a terminal policy that produced nothing', () => {
    const terminal: HashPolicyUpdate = { ...user, terminal: true };
    assert.equal(hashOf([terminal, session], { 'x-session': 's1' }), xxhash64('s1'));
  });

  it('never hashes a -bin header', () => {
    const bin: HashPolicyUpdate = { kind: 'header', headerName: 'x-id-bin', terminal: false };
    assert.equal(hashOf([bin, session], { 'x-id-bin': 'AAE=', 'x-session': 's1' }), xxhash64('s1'));
  });

  it('hashes source_ip and query parameters when present', () => {
    assert.equal(
      hashOf([{ kind: 'source_ip', terminal: false }], {}, '/', '10.1.2.3'),
      xxhash64('10.1.2.3'),
    );
    assert.equal(
      hashOf([{ kind: 'query_parameter', name: 'u', terminal: false }], {}, '/?u=bob'),
      xxhash64('bob'),
    );
  });

  it('uses the channel id for filter_state io.grpc.channel_id', () => {
    assert.equal(
      hashOf([{ kind: 'filter_state', key: 'io.grpc.channel_id', terminal: false }], {}),
      77n,
    );
  });

  it('falls back to a random hash when no policy yields one', () => {
    const h = hashOf([user], {});
    assert.equal(h, (0x80000000n << 32n) | 0x80000000n);
  });
});
