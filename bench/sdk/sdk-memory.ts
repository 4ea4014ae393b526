// Child process of request-path.bench: the memory the SDK adds with 100 clusters and 1,000
// endpoints loaded (one XdsClient + the mesh runtime following 100 listeners). Run with --expose-gc.
// Prints one JSON line.
import { XdsClient, createDefaultResourceTypes, parseBootstrap } from '@weft/xds-client';
import { createMeshRuntime } from '@weft/sdk';

const [xdsPort, services] = [Number(process.argv[2]), Number(process.argv[3])];
const gc = (globalThis as { gc?: () => void }).gc;
const settle = (): NodeJS.MemoryUsage => {
  gc?.();
  gc?.();
  return process.memoryUsage();
};
const before = settle();
const resourceTypes = createDefaultResourceTypes();
const client = new XdsClient({
  bootstrap: parseBootstrap(
    {
      xds_servers: [
        {
          server_uri: `127.0.0.1:${xdsPort}`,
          channel_creds: [{ type: 'insecure' }],
          server_features: ['xds_v3'],
        },
      ],
      node: { id: 'memory-probe', locality: { region: 'us-east-1', zone: 'us-east-1a' } },
    },
    'sdk-memory',
  ),
  resourceTypes,
});
const [cluster, clusterLoadAssignment, listener, routeConfiguration] = resourceTypes;
const runtime = createMeshRuntime({
  watchSource: client,
  localLocality: { region: 'us-east-1', zone: 'us-east-1a' },
  resourceTypes: { listener, routeConfiguration, cluster, clusterLoadAssignment },
});
const t0 = performance.now();
await Promise.all(
  Array.from({ length: services }, (_, i) => runtime.whenReady(`svc-${i}:8080`, 30_000)),
);
const loadMs = performance.now() - t0;
const endpoints = Array.from(
  { length: services },
  (_, i) => runtime.endpointsOf(`svc-${i}:8080`).length,
).reduce((a, b) => a + b, 0);
const after = settle();
process.stdout.write(
  JSON.stringify({
    services,
    endpoints,
    loadMs,
    rssMiB: (after.rss - before.rss) / 2 ** 20,
    heapMiB: (after.heapUsed - before.heapUsed) / 2 ** 20,
  }) + '\n',
);
runtime.close();
await client.close();
process.exit(0);
