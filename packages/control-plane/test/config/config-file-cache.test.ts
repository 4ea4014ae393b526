// ConfigFileCache: a reload re-parses only files whose bytes changed, drops removed files, and
// loads exactly what an uncached load gives.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigFileCache, loadConfigDir } from '@weft/control-plane';
import type { ConfigLoadResult } from '@weft/control-plane';
import { makeConfigDir, removeDir, serviceEntryYaml } from '../helpers/config-dir.js';

function hosts(result: ConfigLoadResult): string[] {
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
  return [...result.model.services.keys()].sort();
}

function portOf(result: ConfigLoadResult, host: string): number | undefined {
  assert.ok(result.ok);
  return result.model.services.get(host)?.ports[0]?.number;
}

describe('ConfigFileCache', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await removeDir(dir);
    dir = '';
  });

  it('parses every file once and reuses the parse of unchanged files', async () => {
    dir = await makeConfigDir({
      'a.yaml': serviceEntryYaml('a', 8080),
      'b.yaml': serviceEntryYaml('b', 8080),
      'c.yaml': serviceEntryYaml('c', 8080),
    });
    const fileCache = new ConfigFileCache();
    const first = await loadConfigDir(dir, { fileCache });
    assert.deepEqual(hosts(first), ['a', 'b', 'c']);
    assert.deepEqual(fileCache.stats, { files: 3, parsed: 3, reused: 0 });
    const second = await loadConfigDir(dir, { fileCache });
    assert.deepEqual(fileCache.stats, { files: 3, parsed: 3, reused: 3 });
    assert.deepEqual(second, first);
  });

  it('re-parses a changed file, even when its size stays the same', async () => {
    dir = await makeConfigDir({
      'a.yaml': serviceEntryYaml('a', 8080),
      'b.yaml': serviceEntryYaml('b', 8080),
    });
    const fileCache = new ConfigFileCache();
    await loadConfigDir(dir, { fileCache });
    await writeFile(join(dir, 'b.yaml'), serviceEntryYaml('b', 9090)); // same length
    const changed = await loadConfigDir(dir, { fileCache });
    assert.equal(portOf(changed, 'b'), 9090);
    assert.equal(portOf(changed, 'a'), 8080);
    assert.deepEqual(fileCache.stats, { files: 2, parsed: 3, reused: 1 });
  });

  it('drops a removed file, and parses a new one', async () => {
    dir = await makeConfigDir({
      'a.yaml': serviceEntryYaml('a', 8080),
      'b.yaml': serviceEntryYaml('b', 8080),
    });
    const fileCache = new ConfigFileCache();
    await loadConfigDir(dir, { fileCache });
    await rm(join(dir, 'b.yaml'));
    const removed = await loadConfigDir(dir, { fileCache });
    assert.deepEqual(hosts(removed), ['a']);
    assert.deepEqual(removed.files, ['a.yaml']);
    assert.deepEqual(fileCache.stats, { files: 1, parsed: 2, reused: 1 });
    await writeFile(join(dir, 'b.yaml'), serviceEntryYaml('b', 8080));
    assert.deepEqual(hosts(await loadConfigDir(dir, { fileCache })), ['a', 'b']);
    assert.deepEqual(fileCache.stats, { files: 2, parsed: 3, reused: 2 });
  });

  it('reports the issues of an unchanged broken file on every load, as an uncached load does', async () => {
    dir = await makeConfigDir({
      'a.yaml': serviceEntryYaml('a', 8080),
      'bad.yaml': 'kind: [unclosed\n',
    });
    const fileCache = new ConfigFileCache();
    const uncached = await loadConfigDir(dir);
    assert.equal(uncached.ok, false);
    assert.deepEqual(await loadConfigDir(dir, { fileCache }), uncached);
    assert.deepEqual(await loadConfigDir(dir, { fileCache }), uncached);
    assert.deepEqual(fileCache.stats, { files: 2, parsed: 2, reused: 2 });
  });

  it('forgets every file when the directory cannot be read', async () => {
    dir = await makeConfigDir({ 'a.yaml': serviceEntryYaml('a', 8080) });
    const fileCache = new ConfigFileCache();
    await loadConfigDir(dir, { fileCache });
    const missing = await loadConfigDir(join(dir, 'missing'), { fileCache });
    assert.equal(missing.ok, false);
    assert.equal(fileCache.stats.files, 0);
  });
});
