// The SDK part of the demo: workloads join the mesh with createMesh + mesh.serve (self-registered
// into EDS), a checkout in us-east-1 calls `http://stock:8080` with mesh.fetch; its calls stay
// local, and when the local stock stops they move to us-west-2 without a failed call.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMesh, type Mesh, type MeshServer } from '@weft/sdk';
import { registeredServiceYaml } from './mesh-yaml.js';

const STOCK_YAML = registeredServiceYaml('stock');

interface Workload {
  readonly mesh: Mesh;
  readonly server: MeshServer;
}

async function startStock(controlPlane: string, name: string, region: string): Promise<Workload> {
  const mesh = await createMesh({
    controlPlane,
    node: { id: name, locality: { region, zone: `${region}a` } },
  });
  await mesh.ready();
  const server = await mesh.serve((_req, res) => res.end(name), {
    service: 'stock',
    port: 0,
    labels: { app: 'stock' },
    drainMs: 300,
  });
  return { mesh, server };
}

/** Runs the SDK demo against a running control plane serving `configDir`. */
export async function runSdkDemo(
  controlPlane: string,
  configDir: string,
  say: (line: string) => void,
): Promise<void> {
  await writeFile(join(configDir, 'stock.yaml'), STOCK_YAML);
  const east = await startStock(controlPlane, 'stock-east', 'us-east-1');
  const west = await startStock(controlPlane, 'stock-west', 'us-west-2');
  say(
    `8. Weft SDK: stock-east (us-east-1, :${east.server.port}) and stock-west (us-west-2, :${west.server.port}) joined with mesh.serve()`,
  );
  const checkout = await createMesh({
    controlPlane,
    node: { id: 'checkout-sdk', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
  });
  await checkout.ready();

  let counts = new Map<string, number>();
  let failures = 0;
  const call = async (): Promise<void> => {
    try {
      const who = await (await checkout.fetch('http://stock:8080/')).text();
      counts.set(who, (counts.get(who) ?? 0) + 1);
    } catch {
      failures++;
    }
  };
  const show = (): string => JSON.stringify(Object.fromEntries(counts));
  // Registrations reach EDS after the control plane's 100 ms debounce.
  for (let i = 0; i < 100 && !counts.has('stock-east'); i++) {
    await call();
    if (!counts.has('stock-east')) await new Promise((r) => setTimeout(r, 50));
  }
  counts = new Map();
  failures = 0;
  for (let i = 0; i < 200; i++) await call();
  say(`   200 × checkout mesh.fetch('http://stock:8080/') from us-east-1 → ${show()} (all local)`);

  counts = new Map();
  let running = true;
  const load = (async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- flipped by the outer scope
    while (running) await call();
  })();
  await new Promise((r) => setTimeout(r, 200));
  await east.server.close(); // leaves EDS, drains 300 ms, closes
  await east.mesh.close();
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await load;
  say(`   stock-east stopped under load → ${show()}, failed calls: ${failures}`);

  await checkout.close();
  await west.mesh.close();
}
