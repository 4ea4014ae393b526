// The security part of the demo, from Istio's YAML: workloads get SPIFFE certificates from the
// control plane's CA with a join token, `vault` accepts mTLS only (PeerAuthentication STRICT) and
// lets only the checkout service account read balances (AuthorizationPolicy); a mesh client with
// another identity gets 403 and a plaintext client is turned away. Issue 5.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import { request } from 'undici';
import { registeredServiceYaml } from './mesh-yaml.js';

const NAMESPACE = 'default';

const yaml = (trustDomain: string): string => `${registeredServiceYaml('vault')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: vault, namespace: ${NAMESPACE} }
spec:
  host: vault
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: vault-strict, namespace: ${NAMESPACE} }
spec:
  selector: { matchLabels: { app: vault } }
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: vault-readers, namespace: ${NAMESPACE} }
spec:
  selector: { matchLabels: { app: vault } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["${trustDomain}/ns/${NAMESPACE}/sa/checkout"] } }]
      to: [{ operation: { methods: [GET], paths: ["/balance/*"] } }]
`;

/** A join token for one service account, from `weft cert token` (the operator's step). */
type TokenFor = (serviceAccount: string) => Promise<string>;

async function meshAs(
  controlPlane: string,
  name: string,
  serviceAccount: string,
  token: string,
  labels: Record<string, string> = {},
): Promise<Mesh> {
  const mesh = await createMesh({
    controlPlane,
    node: { id: name, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    workload: { name, namespace: NAMESPACE, serviceAccount, labels },
    identity: { token },
  });
  await mesh.ready();
  return mesh;
}

/** Runs the security demo against a running control plane (with a CA) serving `configDir`. */
export async function runSecurityDemo(
  controlPlane: string,
  admin: string,
  configDir: string,
  tokenFor: TokenFor,
  inspect: (workload: string) => Promise<string>,
  say: (line: string) => void,
): Promise<void> {
  const { trustDomain } = (await (await fetch(`${admin}/ca`)).json()) as { trustDomain: string };
  await writeFile(join(configDir, 'security.yaml'), yaml(trustDomain));
  say(
    '12. security from Istio YAML: vault is STRICT mTLS, only sa/checkout may GET /balance/*; DestinationRule ISTIO_MUTUAL',
  );
  const vault = await meshAs(controlPlane, 'vault-1', 'vault', await tokenFor('vault'), {
    app: 'vault',
  });
  const served: MeshServer = await vault.serve(
    (req, res) => {
      res.end(`balance for ${req.url ?? '/'}`);
    },
    { service: 'vault', port: 0, labels: { app: 'vault' }, drainMs: 0 },
  );
  const checkout = await meshAs(controlPlane, 'checkout-2', 'checkout', await tokenFor('checkout'));
  const intruder = await meshAs(controlPlane, 'intruder-1', 'intruder', await tokenFor('intruder'));
  const id = (await checkout.certificates!.ready()).spiffeId;
  say(`   certificates issued over the xDS port with join tokens; checkout holds ${id}`);

  // The endpoints reach the callers through EDS; wait until a call is answered by the mesh.
  const status = async (mesh: Mesh, method: string, path: string): Promise<string> => {
    try {
      const res = await mesh.fetch(`http://vault:8080${path}`, { method });
      const body = await res.text();
      return `${res.status}${res.status === 200 ? ` "${body}"` : ''}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return `error ${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}`;
    }
  };
  let first = '';
  for (let i = 0; i < 100; i++) {
    first = await status(checkout, 'GET', '/balance/42');
    if (first.startsWith('200')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`   checkout GET  /balance/42 over mTLS → ${first}`);
  say(`   checkout POST /balance/42          → ${await status(checkout, 'POST', '/balance/42')}`);
  say(`   intruder GET  /balance/42          → ${await status(intruder, 'GET', '/balance/42')}`);
  let plaintext: string;
  try {
    const res = await request(`http://127.0.0.1:${served.port}/balance/42`);
    plaintext = `answered ${res.statusCode} (unexpected)`;
    await res.body.dump();
  } catch (err) {
    plaintext = `refused (${(err as { code?: string }).code ?? (err as Error).message})`;
  }
  say(`   a plaintext client straight to vault → ${plaintext}`);
  const inbound = vault.stats().inboundSecurity;
  const decisions = inbound.rbac
    .map((d) => `${d.policy === '' ? '(no ALLOW rule matched)' : d.policy} ${d.result} ${d.count}`)
    .join(', ');
  say(
    `   vault (mesh.stats().inboundSecurity): connections mtls ${inbound.connections.mtls}, plaintext ${inbound.connections.plaintext}; refused handshakes ${JSON.stringify(inbound.handshakeFailures)}; RBAC ${decisions}`,
  );
  say('   weft cert inspect --workload default/vault:');
  for (const line of (await inspect(`${NAMESPACE}/vault`)).trimEnd().split('\n'))
    say(`     ${line}`);

  await served.close();
  await Promise.all([vault.close(), checkout.close(), intruder.close()]);
}
