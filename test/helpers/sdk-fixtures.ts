// Shared set-up of the SDK's cross-package tests: Istio YAML for a static service, a control
// plane process with a mesh client bound to it, a grpc-js echo server with a custom handler,
// and a unary echo call that resolves to the backend or the status code.
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  type Client,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ECHO_SERVICE, type EchoResponse } from '@weft/example-demo/echo-service';
import { createMesh, type Mesh, type MeshOptions } from '@weft/sdk';
import { startControlPlaneProcess, type ControlPlaneProcess } from './processes.js';

/**
 * A ServiceEntry for `host` whose endpoints are 127.0.0.1 on `endpointPorts`, all in us-east-1a,
 * run by `serviceAccount` (default: none given), plus a DestinationRule `tls.mode: ISTIO_MUTUAL`
 * when `mtls` is true.
 */
export function staticServiceYaml(options: {
  host: string;
  port: number;
  protocol: 'HTTP' | 'GRPC';
  endpointPorts: readonly number[];
  serviceAccount?: string;
  mtls?: boolean;
}): string {
  const portName = options.protocol === 'GRPC' ? 'grpc' : 'http';
  const sa =
    options.serviceAccount === undefined ? '' : `\n      serviceAccount: ${options.serviceAccount}`;
  const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${options.host}, namespace: default }
spec:
  hosts: [${options.host}]
  ports:
    - { number: ${options.port}, name: ${portName}, protocol: ${options.protocol} }
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
${options.endpointPorts
  .map(
    (p) => `    - address: 127.0.0.1
      ports: { ${portName}: ${p} }
      locality: us-east-1/us-east-1a${sa}`,
  )
  .join('\n')}`;
  if (options.mtls !== true) return entry;
  return `${entry}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${options.host}, namespace: default }
spec:
  host: ${options.host}
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
`;
}

/** A control plane process serving `yaml` and a checkout mesh in us-east-1a connected to it. */
export interface MeshFixture {
  readonly cp: ControlPlaneProcess;
  readonly mesh: Mesh;
  close(): Promise<void>;
}

/**
 * Writes `yaml` into a fresh directory, starts `weft control-plane` on it and a ready mesh client
 * (`meshOptions` added to createMesh's).
 */
export async function startMeshFixture(
  nodeId: string,
  yaml: string,
  meshOptions: MeshOptions = {},
): Promise<MeshFixture> {
  const dir = await mkdtemp(join(tmpdir(), `weft-${nodeId}-`));
  await writeFile(join(dir, 'mesh.yaml'), yaml);
  const cp = await startControlPlaneProcess(dir);
  const mesh = await createMesh({
    controlPlane: `127.0.0.1:${cp.xdsPort}`,
    node: { id: nodeId, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    workload: { name: 'checkout', namespace: 'default', serviceAccount: 'checkout' },
    env: {},
    ...meshOptions,
  });
  await mesh.ready();
  return {
    cp,
    mesh,
    close: async () => {
      await mesh.close();
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a grpc-js server for the echo service with `call` as its handler, on 127.0.0.1. */
export async function startEchoServer(
  call: UntypedServiceImplementation[string],
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  server.addService(ECHO_SERVICE, { Call: call });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  return { server, port };
}

/** One unary echo call: the backend that answered, or the status code it failed with. */
export function echoCallOutcome(client: Client): Promise<{ backend?: string; code?: number }> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
      client,
      { message: 'hi' },
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res?: EchoResponse) => {
        if (err) resolve({ code: err.code });
        else resolve({ backend: res!.backend });
      },
    );
  });
}

/** One echo call (5 s deadline): the backend, or the status code and details it failed with. */
export function echoCallWithDetails(
  client: Client,
): Promise<{ backend?: string; code?: number; details?: string }> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
      client,
      { message: 'hi' },
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, res?: EchoResponse) => {
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ backend: res?.backend });
      },
    );
  });
}

/** Binds `server` to an ephemeral port on 127.0.0.1 and returns the port. */
export async function listenOnLoopback(server: HttpServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * The `inventory` service (HTTP 8080, gRPC 9090) whose endpoints register themselves with the
 * label `app: inventory`, round robin with locality failover us-east-1 → us-west-2. Its
 * DestinationRule's trafficPolicy is the last block, so a suite can append more of it.
 */
export const LOCALITY_FAILOVER_YAML = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: default }
spec:
  hosts: [inventory]
  ports:
    - { number: 8080, name: http, protocol: HTTP }
    - { number: 9090, name: grpc, protocol: GRPC }
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: inventory }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: default }
spec:
  host: inventory
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover:
          - { from: us-east-1, to: us-west-2 }
`;

/** Calls `url` through `mesh` until it answers 200 (registrations reach EDS after a debounce). */
export async function waitRoutable(mesh: Mesh, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await mesh.fetch(url);
      await res.text();
      if (res.status === 200) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${url} never answered 200`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
