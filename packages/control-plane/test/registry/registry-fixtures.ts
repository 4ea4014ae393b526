// Registrations and a config with a ServiceEntry, a WorkloadEntry and DestinationRule subsets,
// shared by the registry tests.
import type { RegisteredEndpoint } from '../../src/registry/registered-endpoint.js';
import { validateRegistration } from '../../src/registry/validate-registration.js';

/** A valid RegisterEndpoint wire message for `inventory` (override any field). */
export function registerMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'inv-1',
    service: 'inventory',
    namespace: 'shop',
    address: '127.0.0.1',
    port: 41001,
    protocol: 'HTTP',
    labels: { version: 'v2' },
    locality: { region: 'us-east-1', zone: 'us-east-1a', sub_zone: '' },
    service_account: 'inventory',
    weight: 0,
    service_port: 0,
    node_id: 'inventory-1',
    ...overrides,
  };
}

/** A validated endpoint (throws if `overrides` make it invalid). */
export function endpoint(overrides: Record<string, unknown> = {}): RegisteredEndpoint {
  const result = validateRegistration(registerMessage(overrides));
  if (!result.ok) throw new Error(result.issue.message);
  return result.endpoint;
}

/** inventory (shop, HTTP 8080 + GRPC 9090) selecting WorkloadEntries app=inventory; subsets v1/v2. */
export const INVENTORY_YAML = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory, namespace: shop }
spec:
  hosts: [inventory]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: 8080, name: http, protocol: HTTP }
    - { number: 9090, name: grpc, protocol: GRPC }
  workloadSelector: { labels: { app: inventory } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: inventory-static, namespace: shop }
spec:
  address: 127.0.0.2
  labels: { app: inventory, version: v1 }
  locality: us-east-1/us-east-1a
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory, namespace: shop }
spec:
  host: inventory
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;
