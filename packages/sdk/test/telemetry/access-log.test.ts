// AccessLog's chunked UTF-8 output against JSON.stringify, byte for byte, for thousands of random
// entries (unicode, quotes, backslashes, control characters, lone surrogates, empty strings, odd
// numbers), across chunks, with a line longer than a chunk, and on the flush timer; the
// per-second ISO time cache against Date.prototype.toISOString.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@weft/xds-client';
import {
  AccessLog,
  ACCESS_LOG_CHUNK_BYTES,
  ACCESS_LOG_FLUSH_MS,
} from '../../src/telemetry/access-log.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import { IsoTimeFormatter } from '../../src/telemetry/iso-time-formatter.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SILENT = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Characters chosen to hit every escape and encoding case. */
const ALPHABET = [
  'a',
  'Z',
  '0',
  '/',
  '-',
  '|',
  ':',
  ' ',
  '~',
  '"',
  '\\',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0080',
  'é',
  'ß',
  '€',
  '中',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '😀',
  '\ud83d',
  '\ude00',
  '\ud800',
  '\udfff',
  '</script>',
  '\u00ff',
];

function randomEntries(count: number, seed: number): AccessLogEntry[] {
  const random = seededRandom(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const text = (): string => {
    switch (int(6)) {
      case 0:
        return '-';
      case 1:
        return '';
      case 2:
        return `/api/items/${int(1e6)}?q=${int(100)}`;
      default: {
        let s = '';
        const length = int(24);
        for (let i = 0; i < length; i++) s += ALPHABET[int(ALPHABET.length)]!;
        return s;
      }
    }
  };
  const numbers = [
    0,
    -0,
    1,
    200,
    503,
    65535,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53 + 2,
    1e21,
    1.5e300,
    5e-324,
    -1,
    -0.5,
    1e-7,
    0.1 + 0.2,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ];
  const number = (): number =>
    int(3) === 0 ? numbers[int(numbers.length)]! : (random() - 0.3) * 10 ** int(12);
  return Array.from({ length: count }, () => ({
    start_time: text(),
    reporter: random() < 0.5 ? 'source' : 'destination',
    method: text(),
    path: text(),
    protocol: text(),
    authority: text(),
    response_code: number(),
    grpc_status: text(),
    response_flags: text(),
    bytes_received: number(),
    bytes_sent: number(),
    duration: number(),
    upstream_host: text(),
    upstream_cluster: text(),
    route_name: text(),
    x_request_id: text(),
    trace_id: text(),
    downstream_peer_uri_san: text(),
    upstream_peer_uri_san: text(),
  }));
}

describe('ISO time formatter', function () {
  it('writes what Date.prototype.toISOString writes, in and out of the cached second', () => {
    const formatter = new IsoTimeFormatter();
    const random = seededRandom(9);
    let t = 1764350000000;
    const times: number[] = [0, -0, 0.4, 999.9, 1000, -0.5, -1, -1000.5, -8.64e15, 8.64e15];
    times.push(253402300799999, 253402300800000, 253402300799999.9, 1e12 + 0.999);
    for (let i = 0; i < 20000; i++) {
      t += random() < 0.9 ? random() * 3 : random() * 5000 - 1000;
      times.push(t, t - random() * 2000);
    }
    for (const ms of times) assert.equal(formatter.format(ms), new Date(ms).toISOString(), `${ms}`);
  });

  it('throws as toISOString does for an invalid time', () => {
    const formatter = new IsoTimeFormatter();
    for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1]) {
      assert.throws(() => formatter.format(ms), RangeError);
    }
  });
});

describe('access log file', function () {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-access-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes JSON.stringify(entry) per line, byte for byte, for thousands of random entries', async () => {
    const path = join(dir, 'a.log');
    const log = new AccessLog({ path }, SILENT, systemClock);
    const entries = randomEntries(5000, 10);
    for (const entry of entries) log.write(entry);
    await log.close();
    const expected = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    assert.ok(Buffer.byteLength(expected) > 4 * ACCESS_LOG_CHUNK_BYTES, 'several chunks');
    const actual = await readFile(path);
    const lines = actual.toString('utf8').split('\n');
    for (let i = 0; i < entries.length; i++)
      assert.equal(lines[i], JSON.stringify(entries[i]), `line ${i}`);
    assert.ok(actual.equals(Buffer.from(expected)));
    assert.deepEqual(log.stats(), { written: entries.length, dropped: 0, errors: 0 });
  });

  it('keeps the order around a line longer than a chunk, and one of another shape', async () => {
    const path = join(dir, 'a.log');
    const log = new AccessLog({ path }, SILENT, systemClock);
    const entries: AccessLogEntry[] = randomEntries(600, 11);
    const [first] = entries;
    entries.splice(300, 0, { ...first!, path: `/${'é😀\n'.repeat(ACCESS_LOG_CHUNK_BYTES / 2)}` });
    entries.splice(450, 0, { method: 'GET', path: '/x' } as unknown as AccessLogEntry);
    for (const entry of entries) log.write(entry);
    await log.close();
    const expected = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    assert.ok((await readFile(path)).equals(Buffer.from(expected)));
    assert.deepEqual(log.stats(), { written: entries.length, dropped: 0, errors: 0 });
  });

  it('writes a partly filled chunk when the flush interval ends', async () => {
    const path = join(dir, 'a.log');
    const { fake, clock } = createFakeClock();
    const log = new AccessLog({ path }, SILENT, clock);
    const [entry] = randomEntries(1, 12);
    log.write(entry!);
    fake.tick(ACCESS_LOG_FLUSH_MS - 1);
    assert.equal(log.stats().written, 0);
    fake.tick(1);
    assert.equal(log.stats().written, 1);
    await log.close();
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(entry)}\n`);
    assert.equal(log.stats().written, 1);
  });
});
