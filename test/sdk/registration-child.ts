// A workload process for test/sdk/registration.test.ts: serves HTTP on 127.0.0.1, registers it with
// the SDK registrar, then obeys JSON commands on stdin ("close": deregister; "exit": close and exit)
// and reports each step as a JSON line on stdout.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { createRegistrar } from '@weft/sdk';

const [controlPlaneAddress = '', version = 'v2', id = 'child'] = process.argv.slice(2);
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(event) + '\n');
};

const server = createServer((_req, res) => res.end(`${id} ${version}`));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as AddressInfo).port;

const registrar = createRegistrar({
  controlPlaneAddress,
  node: {
    id,
    namespace: 'shop',
    serviceAccount: 'inventory',
    locality: { region: 'us-east-1', zone: 'us-east-1a' },
  },
  backoff: { initialMs: 100, maxMs: 500 },
});
const registration = await registrar.register({
  service: 'inventory',
  port,
  servicePort: 8080,
  labels: { app: 'inventory', version },
});
say({ event: 'registered', port, leaseTtlMs: registration.leaseTtlMs, pid: process.pid });

for await (const line of createInterface({ input: process.stdin })) {
  const { op } = JSON.parse(line) as { op: string };
  if (op === 'close') {
    const started = Date.now();
    await registration.close();
    say({ event: 'closed', ms: Date.now() - started });
  } else if (op === 'exit') {
    await registrar.close();
    server.close();
    say({ event: 'exited' });
    process.exit(0);
  }
}
