// The SDK's workload certificate agent against a real control plane process (its own CA), on a
// fake clock: the first certificate, renewal at half the remaining lifetime with a fresh key,
// retries with backoff while the old certificate still serves, refusals counted by reason.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import {
  resolveIdentityOptions,
  WeftError,
  WorkloadCertificateAgent,
  type WorkloadTlsMaterial,
} from '@weft/sdk';
import { silentLogger, type Clock, type ConfigIssue, type TimerHandle } from '@weft/xds-client';
import {
  eventually,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from '../helpers/processes.js';
import { joinToken, serverPki } from '../helpers/mesh-pki.js';

describe('WorkloadCertificateAgent (real control plane, fake clock)', function () {
  this.timeout(60_000);
  let dir: string;
  let cp: ControlPlaneProcess;
  let fake: ReturnType<typeof FakeTimers.createClock>;
  let clock: Clock;
  const agents: WorkloadCertificateAgent[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-agent-'));
    await writeFile(join(dir, 'mesh.yaml'), '');
    cp = await startControlPlaneProcess(dir);
    // The certificates' validity is real time; the agent's timers run on this clock.
    fake = FakeTimers.createClock(Date.now());
    clock = {
      now: () => fake.now,
      setTimeout: (cb, ms) => fake.setTimeout(cb, ms) as unknown as TimerHandle,
      clearTimeout: (h) => {
        fake.clearTimeout(h as never);
      },
    };
  });

  afterEach(async () => {
    for (const a of agents.splice(0)) a.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function agentFor(
    token: string,
    serviceAccount = 'checkout',
    readyTimeoutMs = 15_000,
  ): WorkloadCertificateAgent {
    const issues: ConfigIssue[] = [];
    const identity = resolveIdentityOptions({ token, ttlMs: 60_000, readyTimeoutMs }, {}, issues);
    assert.deepEqual(issues, []);
    const agent = new WorkloadCertificateAgent({
      controlPlaneAddress: `127.0.0.1:${cp.xdsPort}`,
      identity: identity!,
      namespace: 'default',
      serviceAccount,
      clock,
      logger: silentLogger,
    });
    agents.push(agent);
    agent.start();
    return agent;
  }

  it('gets a certificate for its SPIFFE ID and renews it at half its lifetime with a new key', async () => {
    const agent = agentFor(joinToken(cp.caDir, 'default', 'checkout'));
    const first = await agent.ready();
    assert.equal(first.spiffeId, 'spiffe://cluster.local/ns/default/sa/checkout');
    assert.ok(first.notAfterMs - fake.now <= 60_000 && first.notAfterMs - fake.now > 55_000);
    assert.ok(agent.secureContext() !== undefined);
    const renewInMs = agent.stats().nextRequestAtMs! - fake.now;
    assert.ok(renewInMs > 27_000 && renewInMs <= 30_000, `renews in ${renewInMs} ms`);

    const changed = new Promise<WorkloadTlsMaterial>((resolve) => {
      agent.onChange(resolve);
    });
    await fake.tickAsync(renewInMs - 1000);
    assert.equal(agent.stats().issued, 1, 'not before half its lifetime');
    await fake.tickAsync(1000);
    const second = await changed;
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.notEqual(second.privateKeyPem, first.privateKeyPem, 'a fresh key per certificate');
    assert.equal(agent.current(), second);
    const stats = agent.stats();
    assert.equal(stats.issued, 2);
    assert.equal(stats.rotations, 1);
    assert.equal(stats.failures, 0);
    assert.ok(!JSON.stringify(stats).includes('PRIVATE KEY'));
    assert.ok(!JSON.stringify(agent.dump()).includes('PRIVATE KEY'));
  });

  it('merges the SDS ROOTCA roots into its trust bundle without a new certificate', async () => {
    const agent = agentFor(joinToken(cp.caDir, 'default', 'checkout'));
    const first = await agent.ready();
    assert.equal(first.trustBundlePem.length, 1);
    const otherRoot = serverPki({ caDir: undefined, spiffeId: 'spiffe://x/ns/a/sa/b' }).caPem;
    const changes: WorkloadTlsMaterial[] = [];
    agent.onChange((m) => changes.push(m));
    agent.setRootCa([...first.trustBundlePem, otherRoot]);
    agent.setRootCa([...first.trustBundlePem, otherRoot]); // unchanged: nothing happens
    assert.equal(changes.length, 1);
    const merged = agent.current()!;
    assert.equal(merged.trustBundlePem.length, 2, 'the CA root once, plus the new one');
    assert.equal(merged.serialNumber, first.serialNumber);
    assert.notEqual(agent.secureContext(), undefined);
    const stats = agent.stats();
    assert.equal(stats.rootCaUpdates, 1);
    assert.equal(stats.rotations, 0);
    assert.equal(stats.trustBundleRoots, 2);
  });

  it('keeps serving the old certificate and retries with backoff while the CA is unreachable', async () => {
    const agent = agentFor(joinToken(cp.caDir, 'default', 'checkout'));
    const first = await agent.ready();
    await cp.stop();
    await fake.tickAsync(agent.stats().nextRequestAtMs! - fake.now);
    await eventually(() => (agent.stats().failures >= 1 ? true : undefined), 15_000, 'a failure');
    assert.equal(agent.stats().failuresByReason.unavailable, 1);
    assert.equal(agent.current(), first, 'the old certificate still serves');
    const retryInMs = agent.stats().nextRequestAtMs! - fake.now;
    assert.ok(retryInMs >= 800 && retryInMs <= 1200, `first retry after ${retryInMs} ms`);
    await fake.tickAsync(retryInMs);
    await eventually(() => (agent.stats().failures >= 2 ? true : undefined), 15_000, 'a retry');
    const second = agent.stats().nextRequestAtMs! - fake.now;
    assert.ok(second > retryInMs * 1.2, `backoff grows: ${second} ms after ${retryInMs} ms`);
    // Past the certificate's expiry, there is none to use: connections fail clearly.
    await fake.tickAsync(first.notAfterMs - fake.now);
    assert.equal(agent.current(), undefined);
    assert.equal(agent.secureContext(), undefined);
    const err = agent.unavailableError();
    assert.equal(err.code, 'WEFT_TLS_NO_CERTIFICATE');
    assert.match(err.message, /expired/);
  });

  it('counts a refused token and a certificate for another service account, and ready() rejects', async () => {
    const forged = agentFor('eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln', 'checkout', 500);
    await eventually(() => (forged.stats().failures >= 1 ? true : undefined), 15_000, 'refusal');
    assert.equal(forged.stats().failuresByReason['token-refused'], 1);
    const waiting = assert.rejects(forged.ready(), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, 'WEFT_TLS_NO_CERTIFICATE');
      assert.match(err.message, /none issued within 500ms: .*refused/);
      return true;
    });
    await fake.tickAsync(500);
    await waiting;

    const other = agentFor(joinToken(cp.caDir, 'default', 'payments'));
    await eventually(() => (other.stats().failures >= 1 ? true : undefined), 15_000, 'mismatch');
    assert.equal(other.stats().failuresByReason['workload-mismatch'], 1);
    assert.match(other.stats().lastFailure ?? '', /sa\/payments.*service account checkout/);
    assert.equal(other.current(), undefined);
  });
});
