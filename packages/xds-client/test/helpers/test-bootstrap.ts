// Builds ResolvedBootstrap objects for tests.
import type { ResolvedBootstrap } from '../../src/bootstrap/resolved-bootstrap.js';

export interface TestServer {
  readonly uri: string;
  readonly features?: readonly string[];
}

export function testBootstrap(servers: readonly (string | TestServer)[]): ResolvedBootstrap {
  return {
    xdsServers: servers.map((s) => {
      const server = typeof s === 'string' ? { uri: s } : s;
      return {
        serverUri: server.uri,
        channelCredentials: 'insecure' as const,
        serverFeatures: server.features ?? ['xds_v3'],
      };
    }),
    node: {
      id: 'test-node',
      cluster: 'test-cluster',
      locality: { region: 'eu-west', zone: 'eu-west-1a', subZone: 'rack-7' },
      metadata: { WORKLOAD_NAME: 'checkout', LABELS: { app: 'checkout' }, REPLICAS: 3 },
      userAgentName: 'weft-test',
      userAgentVersion: '0.0.0',
      clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
    },
    certificateProviders: {},
  };
}
