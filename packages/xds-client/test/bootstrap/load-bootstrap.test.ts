// Tests for loadBootstrap: where the bootstrap comes from (option, WEFT_BOOTSTRAP,
// GRPC_XDS_BOOTSTRAP, GRPC_XDS_BOOTSTRAP_CONFIG), overrides, and errors that name the source.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBootstrap } from '../../src/bootstrap/load-bootstrap.js';
import { ConfigError } from '../../src/errors/weft-error.js';

function bootstrapFor(id: string): string {
  return JSON.stringify({
    xds_servers: [{ server_uri: 'localhost:15010', channel_creds: [{ type: 'insecure' }] }],
    node: { id },
  });
}

/** Awaits a rejection and returns it as a ConfigError with code WEFT_BOOTSTRAP. */
async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'WEFT_BOOTSTRAP');
    return err;
  }
  return assert.fail('expected a rejection');
}

describe('loadBootstrap', () => {
  let dir: string;
  const files: Record<string, string> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-bootstrap-'));
    for (const name of ['option', 'weft', 'grpc']) {
      files[name] = join(dir, `${name}.json`);
      await writeFile(files[name], bootstrapFor(name));
    }
    files['bad-json'] = join(dir, 'bad.json');
    await writeFile(files['bad-json'], '{ "xds_servers": [');
    files['bad-content'] = join(dir, 'bad-content.json');
    await writeFile(files['bad-content'], JSON.stringify({ node: { id: 1 } }));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const precedence: { name: string; path?: string; env: Record<string, string>; id: string }[] = [
    {
      name: 'the path option over every variable',
      path: 'option',
      env: {
        WEFT_BOOTSTRAP: 'weft',
        GRPC_XDS_BOOTSTRAP: 'grpc',
        GRPC_XDS_BOOTSTRAP_CONFIG: bootstrapFor('inline'),
      },
      id: 'option',
    },
    {
      name: 'WEFT_BOOTSTRAP over GRPC_XDS_BOOTSTRAP',
      env: { WEFT_BOOTSTRAP: 'weft', GRPC_XDS_BOOTSTRAP: 'grpc' },
      id: 'weft',
    },
    {
      name: 'GRPC_XDS_BOOTSTRAP over GRPC_XDS_BOOTSTRAP_CONFIG',
      env: { GRPC_XDS_BOOTSTRAP: 'grpc', GRPC_XDS_BOOTSTRAP_CONFIG: bootstrapFor('inline') },
      id: 'grpc',
    },
    {
      name: 'GRPC_XDS_BOOTSTRAP_CONFIG when no file is named',
      env: { GRPC_XDS_BOOTSTRAP_CONFIG: bootstrapFor('inline') },
      id: 'inline',
    },
    {
      name: 'GRPC_XDS_BOOTSTRAP when WEFT_BOOTSTRAP is empty',
      env: { WEFT_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP: 'grpc' },
      id: 'grpc',
    },
  ];
  for (const { name, path, env, id } of precedence) {
    it(`reads ${name}`, async () => {
      const resolvedEnv = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
          k,
          k === 'GRPC_XDS_BOOTSTRAP_CONFIG' || v === '' ? v : files[v]!,
        ]),
      );
      const b = await loadBootstrap({
        ...(path === undefined ? {} : { path: files[path]! }),
        env: resolvedEnv,
      });
      assert.equal(b.node.id, id);
    });
  }

  it('fails with a hint when nothing is configured', async () => {
    const err = await rejection(loadBootstrap({ env: {} }));
    assert.equal(err.issues[0]?.path, '(env)');
  });

  it('names the file when it does not exist', async () => {
    const missing = join(dir, 'missing.json');
    const err = await rejection(loadBootstrap({ env: { GRPC_XDS_BOOTSTRAP: missing } }));
    assert.ok(err.message.includes(missing));
    assert.equal(err.issues[0]?.path, '(file)');
  });

  it('names the file when its JSON is invalid', async () => {
    const err = await rejection(loadBootstrap({ path: files['bad-json']! }));
    assert.ok(err.message.includes(files['bad-json']!));
    assert.equal(err.issues[0]?.path, '(json)');
  });

  it('names the variable when GRPC_XDS_BOOTSTRAP_CONFIG is invalid JSON', async () => {
    const err = await rejection(loadBootstrap({ env: { GRPC_XDS_BOOTSTRAP_CONFIG: '{' } }));
    assert.ok(err.message.includes('GRPC_XDS_BOOTSTRAP_CONFIG'));
  });

  it('names the file and lists all content issues', async () => {
    const err = await rejection(loadBootstrap({ path: files['bad-content']! }));
    assert.ok(err.message.includes(files['bad-content']!));
    assert.deepEqual(err.issues.map((i) => i.path).sort(), ['node.id', 'xds_servers']);
  });

  it('applies overrides after validation, merging the locality', async () => {
    const b = await loadBootstrap({
      path: files['option']!,
      overrides: {
        node: { id: 'override', locality: { zone: 'eu-b' } },
        xdsServers: [
          { serverUri: 'other:1', channelCredentials: 'insecure', serverFeatures: ['weft_delta'] },
        ],
      },
    });
    assert.equal(b.node.id, 'override');
    assert.deepEqual(b.node.locality, { region: '', zone: 'eu-b', subZone: '' });
    assert.equal(b.xdsServers[0]?.serverUri, 'other:1');
    assert.equal(b.node.userAgentName, 'weft-xds-client');
    assert.ok(Object.isFrozen(b.node));
  });
});
