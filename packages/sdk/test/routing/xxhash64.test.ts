import { strict as assert } from 'node:assert';
import { xxhash64 } from '../../src/routing/xxhash64.js';

describe('xxhash64', () => {
  // Reference values from the xxHash reference implementation (xxhash-wasm, as grpc-js-xds uses).
  const table: [string, bigint][] = [
    ['', 0xef46db3751d8e999n],
    ['a', 0xd24ec4f1a98c6e5bn],
    ['abc', 0x44bc2cf5ad770999n],
    ['10.0.0.1:8080_0', 0x23a29ae775dfd4a3n],
    ['x'.repeat(31), 0x60dd0d01083b99f0n],
    ['y'.repeat(32), 0x64da1f1d3495ce66n],
    ['z'.repeat(100), 0xd30e21c99c2a766dn],
    ['héllo wörld', 0x60041bfec530413cn],
  ];
  for (const [input, want] of table) {
    it(`hashes ${JSON.stringify(input.slice(0, 16))} (${input.length} chars) as the reference does`, () => {
      assert.equal(xxhash64(input), want);
    });
  }
  it('hashes bytes and their UTF-8 string alike', () => {
    assert.equal(xxhash64(new TextEncoder().encode('héllo')), xxhash64('héllo'));
  });
});
