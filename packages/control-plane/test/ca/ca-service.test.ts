// weft.ca.v1.CertificateService inside startControlPlane, called by a real grpc-js client over
// loopback: a certificate for the token's identity, refusals as gRPC status codes, the admin /ca
// view (no keys) and the weft_cp_ca_* metrics.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  credentials,
  status as grpcStatus,
  type ServiceError,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import {
  ConfigError,
  createWorkloadCsr,
  loadXdsProtos,
  SECRET_TYPE_URL,
  splitCertificates,
} from '@weft/xds-client';
import { AdsProbe, decodeAll, GRPC_NODE, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import { CA_FILES, rotateCaRoot } from '../../src/ca/ca-dir.js';
import { CA_SERVICE_NAME } from '../../src/ca/ca-service.js';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type {
  CaDocument,
  CertificateRefusedEvent,
  WorkloadCertificateRecord,
} from '../../src/ca/mesh-ca.js';
import { CONTROL_PLANE_CHANNELS } from '../../src/control-plane-channels.js';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import { makeConfigDir, removeDir, serviceEntryYaml } from '../helpers/config-dir.js';
import { scrape, valueOf } from '../helpers/prometheus-text.js';
import {
  createCapturingLogger,
  createNowClock,
  makeTempDir,
  removeTempDir,
} from './ca-fixtures.js';

const MESH_CONFIG = `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  trustDomain: corp.example
  defaults:
    certificateTtl: 2h
`;

interface CreateCertificateResponse {
  cert_chain_pem: string[];
  trust_bundle_pem: string[];
}

type Unary = (
  request: object,
  callback: (err: ServiceError | null, response?: CreateCertificateResponse) => void,
) => void;

describe('CertificateService (startControlPlane)', () => {
  let configDir: string;
  let caParent: string;
  let cp: ControlPlane;
  let client: InstanceType<ServiceClientConstructor>;
  const capture = createCapturingLogger();
  const time = createNowClock();

  async function createCertificate(request: object): Promise<CreateCertificateResponse> {
    const call = client['CreateCertificate'] as Unary;
    return await new Promise((resolve, reject) => {
      call.call(client, request, (err, response) => {
        if (err !== null) reject(err);
        else resolve(response!);
      });
    });
  }

  async function refusal(request: object): Promise<ServiceError> {
    return await createCertificate(request).then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err as ServiceError,
    );
  }

  beforeEach(async () => {
    configDir = await makeConfigDir({
      'mesh.yaml': MESH_CONFIG,
      'svc.yaml': serviceEntryYaml('inventory', 8080),
    });
    caParent = await makeTempDir();
    cp = await startControlPlane({
      configDir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
      clock: time.clock,
      logger: capture.logger,
      caDir: join(caParent, 'ca'),
    });
    const Ctor = loadXdsProtos().serviceClient(CA_SERVICE_NAME);
    client = new Ctor(`127.0.0.1:${cp.xdsPort}`, credentials.createInsecure());
  });

  afterEach(async () => {
    client.close();
    await cp.close();
    await removeDir(configDir);
    await removeTempDir(caParent);
  });

  it('signs a CSR for the token’s identity in MeshConfig’s trust domain with its default TTL', async () => {
    const ca = cp.ca!;
    const { token } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
    const spiffeId = 'spiffe://corp.example/ns/shop/sa/cart';
    const response = await createCertificate({
      csr_pem: createWorkloadCsr(spiffeId).csrPem,
      token,
    });
    assert.equal(response.cert_chain_pem.length, 1);
    assert.deepEqual(response.trust_bundle_pem, ca.trustBundlePem());
    const leaf = new X509Certificate(response.cert_chain_pem[0]!);
    assert.equal(leaf.subjectAltName, `URI:${spiffeId}`);
    const lifetimeMs = leaf.validToDate.getTime() - leaf.validFromDate.getTime();
    assert.equal(lifetimeMs, 2 * 3_600_000 + 5 * 60_000, 'certificateTtl 2h plus the backdating');
    assert.ok(leaf.verify(ca.roots[0]!.publicKey));

    const withTtl = await createCertificate({
      csr_pem: createWorkloadCsr(spiffeId).csrPem,
      token,
      ttl_seconds: 120,
    });
    const short = new X509Certificate(withTtl.cert_chain_pem[0]!);
    assert.equal(short.validToDate.getTime() - short.validFromDate.getTime(), 7 * 60_000);
  });

  it('refuses another identity (PERMISSION_DENIED), a forged token (UNAUTHENTICATED) and a bad CSR (INVALID_ARGUMENT), counted by reason', async () => {
    const published: CertificateRefusedEvent[] = [];
    const onRefused = (message: unknown): void => {
      published.push(message as CertificateRefusedEvent);
    };
    subscribe(CONTROL_PLANE_CHANNELS['certificate-refused'], onRefused);
    const { token } = cp.ca!.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
    const other = await refusal({
      csr_pem: createWorkloadCsr('spiffe://corp.example/ns/shop/sa/admin').csrPem,
      token,
    });
    assert.equal(other.code, grpcStatus.PERMISSION_DENIED);
    assert.match(other.details, /^identity-mismatch: /);
    const forged = await refusal({
      csr_pem: createWorkloadCsr('spiffe://corp.example/ns/shop/sa/cart').csrPem,
      token: token.slice(0, -4) + 'AAAA',
    });
    assert.equal(forged.code, grpcStatus.UNAUTHENTICATED);
    const badCsr = await refusal({ csr_pem: 'nope', token });
    assert.equal(badCsr.code, grpcStatus.INVALID_ARGUMENT);

    unsubscribe(CONTROL_PLANE_CHANNELS['certificate-refused'], onRefused);
    assert.deepEqual(
      published.map((e) => e.reason),
      ['identity-mismatch', 'forged-token', 'invalid-csr'],
    );
    const { exposition } = await scrape(cp.adminPort);
    const refused = (reason: string): number =>
      valueOf(exposition, 'weft_cp_ca_certificates_refused_total', { reason });
    assert.equal(refused('identity-mismatch'), 1);
    assert.equal(refused('forged-token'), 1);
    assert.equal(refused('invalid-csr'), 1);
    assert.equal(refused('expired-token'), 0);
    assert.equal(valueOf(exposition, 'weft_cp_ca_certificates_issued_total'), 0);
    assert.ok(
      capture.records.some(
        (r) =>
          r.level === 'warn' && r.message === 'certificate request for another identity refused',
      ),
    );
  });

  it('serves both roots after a rotation is reloaded without a restart, and keeps the last good CA when the directory breaks', async () => {
    const ca = cp.ca!;
    const spiffeId = 'spiffe://corp.example/ns/shop/sa/cart';
    const { token } = ca.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
    const caDir = join(caParent, 'ca');
    const rotated = rotateCaRoot(caDir, 'corp.example', time.fake.now);
    cp.reloadCa();
    const response = await createCertificate({
      csr_pem: createWorkloadCsr(spiffeId).csrPem,
      token,
    });
    assert.deepEqual(
      response.trust_bundle_pem.map((p) => new X509Certificate(p).fingerprint256),
      [rotated.current.fingerprint256, rotated.previous.fingerprint256],
    );
    const leaf = new X509Certificate(response.cert_chain_pem[0]!);
    assert.ok(leaf.verify(rotated.current.publicKey), 'signed by the new root');

    await writeFile(join(caDir, CA_FILES.rootKey), 'garbage');
    assert.throws(
      () => {
        cp.reloadCa();
      },
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.some((i) => i.path === join(caDir, CA_FILES.rootKey)),
    );
    const still = await createCertificate({ csr_pem: createWorkloadCsr(spiffeId).csrPem, token });
    assert.ok(new X509Certificate(still.cert_chain_pem[0]!).verify(rotated.current.publicKey));
  });

  it('serves the trust bundle as the SDS Secret ROOTCA to Weft clients only, and both roots after a rotation', async () => {
    const ca = cp.ca!;
    const weft = new AdsProbe(cp.xdsPort);
    const grpcProbe = new AdsProbe(cp.xdsPort);
    try {
      const first = await weft.request({
        type_url: SECRET_TYPE_URL,
        resource_names: ['ROOTCA'],
        node: WEFT_NODE,
      });
      const [secret] = decodeAll(first);
      assert.equal(secret?.name, 'ROOTCA');
      assert.equal(secret.tls_certificate, undefined, 'never a private key');
      const roots = (pem: string): string[] =>
        splitCertificates(pem).map((p) => new X509Certificate(p).fingerprint256);
      const inline = (m: Message): string =>
        String(m.validation_context?.trusted_ca?.inline_string);
      assert.deepEqual(roots(inline(secret)), [ca.roots[0]!.fingerprint256]);

      // A gRPC client gets no Secret (it reads roots from the file-watcher provider).
      grpcProbe.send({ type_url: SECRET_TYPE_URL, resource_names: ['ROOTCA'], node: GRPC_NODE });
      await assert.rejects(grpcProbe.next(300));

      weft.send({
        type_url: SECRET_TYPE_URL,
        resource_names: ['ROOTCA'],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      const rotated = rotateCaRoot(join(caParent, 'ca'), 'corp.example', time.fake.now);
      cp.reloadCa();
      const [after] = decodeAll(await weft.next());
      assert.deepEqual(roots(inline(after!)), [
        rotated.current.fingerprint256,
        rotated.previous.fingerprint256,
      ]);
    } finally {
      weft.close();
      grpcProbe.close();
    }
  });

  it('shows roots, their expiry and the issued count on /ca and in metrics, never a private key', async () => {
    const { token } = cp.ca!.createJoinToken({ namespace: 'shop', serviceAccount: 'cart' });
    await createCertificate({
      csr_pem: createWorkloadCsr('spiffe://corp.example/ns/shop/sa/cart').csrPem,
      token,
    });
    const res = await fetch(`http://127.0.0.1:${cp.adminPort}/ca`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const doc = JSON.parse(text) as CaDocument;
    assert.equal(doc.issued, 1);
    assert.equal(doc.trustDomain, 'corp.example');
    assert.equal(doc.roots.length, 1);
    assert.equal(doc.roots[0]!.active, true);
    assert.ok(doc.roots[0]!.expiresInSeconds > 9 * 365 * 86_400);
    const { exposition } = await scrape(cp.adminPort);
    assert.equal(valueOf(exposition, 'weft_cp_ca_certificates_issued_total'), 1);
    const expiry = valueOf(exposition, 'weft_cp_ca_root_expiry_seconds', {
      root: doc.roots[0]!.fingerprint256,
      active: 'true',
    });
    assert.ok(Math.abs(expiry - doc.roots[0]!.expiresInSeconds) < 5);
  });

  it("keeps each workload's latest certificate: /ca lists it, /ca?workload= gives its chain, a metric its expiry", async () => {
    const spiffeId = 'spiffe://corp.example/ns/shop/sa/ledger';
    const { token } = cp.ca!.createJoinToken({ namespace: 'shop', serviceAccount: 'ledger' });
    await createCertificate({ csr_pem: createWorkloadCsr(spiffeId).csrPem, token });
    const second = await createCertificate({
      csr_pem: createWorkloadCsr(spiffeId).csrPem,
      token,
      ttl_seconds: 600,
    });
    const leaf = new X509Certificate(second.cert_chain_pem[0]!);
    const doc = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/ca`)).json()) as CaDocument;
    const listed = doc.workloads.find((w) => w.spiffeId === spiffeId);
    assert.ok(listed, 'the identity is listed');
    assert.equal(listed.issuedCount, 2);
    assert.equal(listed.serialNumber, leaf.serialNumber);
    assert.ok(listed.expiresInSeconds > 590 && listed.expiresInSeconds <= 600);

    const one = await fetch(
      `http://127.0.0.1:${cp.adminPort}/ca?workload=${encodeURIComponent(spiffeId)}`,
    );
    assert.equal(one.status, 200);
    const record = (await one.json()) as WorkloadCertificateRecord;
    assert.deepEqual(record.certChainPem, second.cert_chain_pem);

    const unknown = await fetch(
      `http://127.0.0.1:${cp.adminPort}/ca?workload=${encodeURIComponent('spiffe://corp.example/ns/x/sa/y')}`,
    );
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /ns\/x\/sa\/y/);

    const { exposition } = await scrape(cp.adminPort);
    const expiry = valueOf(exposition, 'weft_cp_ca_workload_certificate_expiry_seconds', {
      spiffe_id: spiffeId,
    });
    assert.ok(Math.abs(expiry - listed.expiresInSeconds) < 5);
  });
});
