// The resilience part of the demo, from the same Istio YAML: retries and outlier detection hide a
// flaky instance, a LocalRateLimit answers 429 from the client, and the service-level breaker
// hands a failing service's calls to the caller's fallback. Issue 4.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import { Response } from 'undici';
import { registeredServiceYaml } from './mesh-yaml.js';

const YAML = `${registeredServiceYaml('payment')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payment, namespace: default }
spec:
  hosts: [payment]
  http:
    - route: [{ destination: { host: payment } }]
      timeout: 2s
      retries: { attempts: 2, perTryTimeout: 500ms, retryOn: 5xx }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payment, namespace: default }
spec:
  host: payment
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
---
${registeredServiceYaml('quote')}---
apiVersion: weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: quote, namespace: default }
spec:
  host: quote
  tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillInterval: 60s }
---
${registeredServiceYaml('ledger')}`;

interface Workload {
  readonly mesh: Mesh;
  readonly server: MeshServer;
  readonly hits: () => number;
}

/** A workload of `service` that answers `status(n)` to its n-th request. */
async function startWorkload(
  controlPlane: string,
  name: string,
  service: string,
  status: (n: number) => number,
): Promise<Workload> {
  const mesh = await createMesh({
    controlPlane,
    node: { id: name, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
  });
  await mesh.ready();
  let n = 0;
  const server = await mesh.serve(
    (_req, res) => {
      res.statusCode = status(++n);
      res.end(name);
    },
    { service, port: 0, labels: { app: service }, drainMs: 0 },
  );
  return { mesh, server, hits: () => n };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the resilience demo against a running control plane serving `configDir`. */
export async function runResilienceDemo(
  controlPlane: string,
  configDir: string,
  say: (line: string) => void,
): Promise<void> {
  await writeFile(join(configDir, 'resilience.yaml'), YAML);
  // quote and ledger register first: once payment's endpoints reach the checkout, theirs are in EDS too.
  const quote = await startWorkload(controlPlane, 'quote-1', 'quote', () => 200);
  const ledger = await startWorkload(controlPlane, 'ledger-1', 'ledger', () => 500);
  const good = await startWorkload(controlPlane, 'payment-good', 'payment', () => 200);
  const flaky = await startWorkload(controlPlane, 'payment-flaky', 'payment', () =>
    Math.random() < 0.5 ? 503 : 200,
  );
  const checkout = await createMesh({
    controlPlane,
    node: { id: 'checkout-resilience', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    admin: { port: 0 },
  });
  await checkout.ready();
  // Registrations reach EDS after the control plane's debounce: wait for both payment instances.
  for (let i = 0; i < 100 && (good.hits() === 0 || flaky.hits() === 0); i++) {
    await checkout
      .fetch('http://payment:8080/')
      .then((r) => r.text())
      .catch(() => undefined); // not in EDS yet: no healthy upstream
    await sleep(20);
  }
  const before = { good: good.hits(), flaky: flaky.hits(), retries: checkout.stats().http.retries };

  say(
    '9. resilience from the same YAML: payment-flaky answers 503 to half its requests; the route retries 5xx, outlier detection watches',
  );
  const codes = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    const res = await checkout.fetch('http://payment:8080/');
    await res.text();
    codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
  }
  const clusters = (await (await fetch(`${checkout.admin?.url ?? ''}/clusters`)).json()) as {
    clusters: {
      name: string;
      priorities: { localities: { endpoints: { key: string; ejected: boolean }[] }[] }[];
    }[];
  };
  const ejected = clusters.clusters
    .filter((c) => c.name.endsWith('|payment'))
    .flatMap((c) => c.priorities.flatMap((p) => p.localities.flatMap((l) => l.endpoints)))
    .filter((e) => e.ejected)
    .map((e) => (e.key.endsWith(`:${flaky.server.port}`) ? 'payment-flaky' : e.key));
  say(
    `   200 × mesh.fetch('http://payment:8080/') → ${JSON.stringify(Object.fromEntries(codes))}; ` +
      `${checkout.stats().http.retries - before.retries} retries; payment-flaky got ${flaky.hits() - before.flaky} requests, ` +
      `payment-good ${good.hits() - before.good}; ejected now: ${ejected.join(', ') || 'none'} (admin /clusters)`,
  );

  say('10. LocalRateLimit quote: 5 tokens per minute, enforced in the calling process');
  const quoteCodes: string[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await checkout.fetch('http://quote:8080/');
    await res.text();
    quoteCodes.push(`${res.status} (remaining ${res.headers.get('x-ratelimit-remaining') ?? '-'})`);
  }
  say(`   8 calls → ${quoteCodes.join(', ')}; quote-1 saw ${quote.hits()}`);

  say('11. service-level breaker: ledger answers 500; callers pass a fallback');
  const answers = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const res = await checkout.fetch('http://ledger:8080/', {
      fallback: () => new Response('cached balance', { status: 200 }),
    });
    const body = await res.text();
    const key = res.status === 200 ? `fallback "${body}"` : `${res.status}`;
    answers.set(key, (answers.get(key) ?? 0) + 1);
  }
  const breaker = Object.entries(checkout.stats().breakers).find(([c]) => c.endsWith('|ledger'));
  say(
    `   40 calls → ${JSON.stringify(Object.fromEntries(answers))}; ledger-1 saw ${ledger.hits()}; ` +
      `breaker ${breaker?.[1].state ?? '?'} (opens ${breaker?.[1].opens ?? 0}, rejects ${breaker?.[1].rejects ?? 0})`,
  );

  await checkout.close();
  await Promise.all([good, flaky, quote, ledger].map((w) => w.mesh.close()));
}
