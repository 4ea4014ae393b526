// The mTLS xDS port inside startControlPlane: its own certificate in MeshConfig's trust domain,
// re-issued from the new root after a rotation (clients trusting only the new root connect), the
// options that turn it off or refuse it without a CA.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { ConfigError, createCsr, loadXdsProtos } from '@weft/xds-client';
import { rotateCaRoot } from '../../src/ca/ca-dir.js';
import { CA_SERVICE_NAME } from '../../src/ca/ca-service.js';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import { makeConfigDir, removeDir } from '../helpers/config-dir.js';
import { createNowClock, makeTempDir, removeTempDir } from './ca-fixtures.js';

const MESH_CONFIG = `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  trustDomain: corp.example
`;

/** A client certificate for shop/cart from the control plane's CA (operator path). */
function workloadCertificate(cp: ControlPlane): { keyPem: string; certPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const result = cp.ca!.signForIdentity({
    csrPem: createCsr({ privateKey, publicKey, uris: [] }),
    namespace: 'shop',
    serviceAccount: 'cart',
  });
  assert.ok(result.ok);
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: result.certChainPem.join(''),
  };
}

/** A token-less renewal over the mTLS port, trusting only `rootPem` for the server. */
async function renew(
  cp: ControlPlane,
  rootPem: string,
  client: { keyPem: string; certPem: string },
): Promise<{ ok: boolean; details?: string }> {
  const Ctor = loadXdsProtos().serviceClient(CA_SERVICE_NAME);
  const creds = credentials.createSsl(
    Buffer.from(rootPem),
    Buffer.from(client.keyPem),
    Buffer.from(client.certPem),
    { checkServerIdentity: () => undefined },
  );
  const c = new Ctor(`127.0.0.1:${cp.xdsTlsPort}`, creds, {
    'grpc.ssl_target_name_override': 'weft-control-plane',
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csrPem = createCsr({ privateKey, publicKey, uris: [] });
  try {
    return await new Promise((resolve) => {
      (
        c['CreateCertificate'] as (req: object, cb: (err: ServiceError | null) => void) => void
      ).call(c, { csr_pem: csrPem, token: '', ttl_seconds: 0 }, (err) => {
        resolve(err === null ? { ok: true } : { ok: false, details: err.details });
      });
    });
  } finally {
    c.close();
  }
}

describe('mTLS xDS port (startControlPlane)', () => {
  let configDir: string;
  let caParent: string;
  let cp: ControlPlane | undefined;

  beforeEach(async () => {
    configDir = await makeConfigDir({ 'mesh.yaml': MESH_CONFIG });
    caParent = await makeTempDir();
  });

  afterEach(async () => {
    await cp?.close();
    cp = undefined;
    await removeDir(configDir);
    await removeTempDir(caParent);
  });

  it("serves a certificate in MeshConfig's trust domain and re-issues it from a rotated root", async () => {
    const caDir = join(caParent, 'ca');
    cp = await startControlPlane({ configDir, xdsPort: 0, adminPort: 0, watch: false, caDir });
    assert.ok(cp.xdsTlsPort !== null && cp.xdsTlsPort > 0);
    assert.notEqual(cp.xdsTlsPort, cp.xdsPort);
    const first = cp.servingCertificate!;
    assert.equal(first.spiffeId, 'spiffe://corp.example/ns/weft-system/sa/weft-control-plane');
    const doc = cp.configDocument();
    assert.equal(doc.xdsTlsPort, cp.xdsTlsPort);
    assert.equal(doc.servingCertificate?.serialNumber, first.serialNumber);
    assert.equal(cp.ca!.document().issued, 0, 'not counted as a workload certificate');

    const oldRoot = cp.ca!.trustBundlePem()[0]!;
    assert.deepEqual(await renew(cp, oldRoot, workloadCertificate(cp)), { ok: true });

    const rotated = rotateCaRoot(caDir, 'corp.example', Date.now());
    cp.reloadCa();
    const second = cp.servingCertificate!;
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(second.renewals, 1);
    // Signed by the new root: a client that trusts only the new root connects, with a
    // certificate from the new root too (the bundle for client certificates followed).
    const outcome = await renew(cp, rotated.current.toString(), workloadCertificate(cp));
    assert.deepEqual(outcome, { ok: true });
  });

  it('renews its certificate at half-life (fake clock)', async () => {
    const time = createNowClock();
    cp = await startControlPlane({
      configDir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
      clock: time.clock,
      caDir: join(caParent, 'ca'),
    });
    const first = cp.servingCertificate!;
    const lifetimeMs = Date.parse(first.notAfter) - time.fake.now;
    time.fake.tick(Math.floor(lifetimeMs / 2) - 1000);
    assert.equal(cp.servingCertificate!.serialNumber, first.serialNumber, 'not before half-life');
    time.fake.tick(2000);
    const second = cp.servingCertificate!;
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(second.renewals, 1);
    assert.ok(Date.parse(second.notAfter) > Date.parse(first.notAfter));
  });

  it('is off with xdsTlsPort: false, and refused without a CA', async () => {
    cp = await startControlPlane({
      configDir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
      caDir: join(caParent, 'ca'),
      xdsTlsPort: false,
    });
    assert.equal(cp.xdsTlsPort, null);
    assert.equal(cp.servingCertificate, undefined);
    await assert.rejects(
      startControlPlane({ configDir, xdsPort: 0, adminPort: 0, watch: false, xdsTlsPort: 0 }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'xdsTlsPort'),
    );
  });
});
