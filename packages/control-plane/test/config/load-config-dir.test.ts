// Tests of the YAML config loader: every issue located (file, line, resource, field), unknown and
// unsupported fields rejected by name, the full example loading into a frozen model.
import assert from 'node:assert/strict';
import { formatConfigIssues, loadConfigDir } from '@weft/control-plane';
import type { LocatedIssue } from '@weft/control-plane';
import { MESH_EXAMPLE, writeConfigDir } from '../fixtures/mesh-example.js';

/** A ServiceEntry `inventory` (8080, 9090) with endpoints labelled v1 and v2, for cross-reference cases. */
const INVENTORY_SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory }
spec:
  hosts: [inventory]
  resolution: STATIC
  ports: [{ number: 8080, name: http }, { number: 9090, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.1, labels: { version: v1 } }, { address: 127.0.0.2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: inventory }
spec:
  host: inventory
  subsets: [{ name: v1, labels: { version: v1 } }]
`;

interface Case {
  readonly name: string;
  /** The file under test, `a.yaml`; `0-base.yaml` (INVENTORY_SE, read first) is always present. */
  readonly yaml: string;
  readonly expected: Partial<LocatedIssue>;
}

const VS_HEAD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: [inventory]
`; // 5 lines

const DR_HEAD = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: dr, namespace: shop }
spec:
  host: inventory
`; // 5 lines

const CASES: readonly Case[] = [
  {
    name: 'reports a YAML syntax error with its line',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: x\n bad: indent\n`,
    expected: { file: 'a.yaml', line: 5, field: '' },
  },
  {
    name: 'rejects an unknown kind',
    yaml: `apiVersion: example.com/v1\nkind: Gizmo\nmetadata: { name: g }\nspec: {}\n`,
    expected: { line: 2, resource: 'Gizmo/default/g', field: 'kind' },
  },
  {
    name: 'rejects an unknown apiVersion of a known kind',
    yaml: `apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: { name: v }\nspec: {}\n`,
    expected: { line: 2, resource: 'VirtualService/default/v', field: 'kind' },
  },
  {
    name: 'rejects RequestAuthentication as not supported yet, naming the kind',
    yaml: `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: p, namespace: shop }\nspec: {}\n`,
    expected: { line: 2, resource: 'RequestAuthentication/shop/p', field: 'kind' },
  },
  {
    name: 'rejects an AuthorizationPolicy with action CUSTOM (external authorization)',
    yaml: `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: p }\nspec:\n  action: CUSTOM\n`,
    expected: { line: 5, resource: 'AuthorizationPolicy/default/p', field: 'spec.action' },
  },
  {
    name: 'requires metadata.name',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  namespace: shop\nspec: {}\n`,
    expected: { line: 3, field: 'metadata.name' },
  },
  {
    name: 'rejects an unknown field by name',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n      frobnicate: 1\n`,
    expected: { line: 8, resource: 'VirtualService/default/vs', field: 'spec.http[0].frobnicate' },
  },
  {
    name: 'rejects an unknown top-level field',
    yaml: `${VS_HEAD}status: {}\n`,
    expected: { line: 6, resource: 'VirtualService/default/vs', field: 'status' },
  },
  {
    name: 'rejects Istio tcp routes by name as unsupported',
    yaml: `${VS_HEAD}  tcp:\n    - route: [{ destination: { host: inventory } }]\n`,
    expected: { line: 6, resource: 'VirtualService/default/vs', field: 'spec.tcp' },
  },
  {
    name: 'rejects rewrite by name as unsupported',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n      rewrite: { uri: /v2 }\n`,
    expected: { line: 8, field: 'spec.http[0].rewrite' },
  },
  {
    name: 'rejects a match on method by name as unsupported',
    yaml: `${VS_HEAD}  http:\n    - match:\n        - method: { exact: GET }\n      route: [{ destination: { host: inventory } }]\n`,
    expected: { line: 8, field: 'spec.http[0].match[0].method' },
  },
  {
    name: 'rejects gateways other than mesh',
    yaml: `${VS_HEAD}  gateways: [my-gateway]\n  http:\n    - route: [{ destination: { host: inventory } }]\n`,
    expected: { line: 6, field: 'spec.gateways' },
  },
  {
    name: 'requires weights to sum to 100 with several destinations',
    yaml: `${VS_HEAD}  http:\n    - route:\n        - { destination: { host: inventory, subset: v1 }, weight: 70 }\n        - { destination: { host: inventory }, weight: 20 }\n`,
    expected: { line: 7, resource: 'VirtualService/default/vs', field: 'spec.http[0].route' },
  },
  {
    name: 'rejects a destination host no ServiceEntry declares',
    yaml: `${VS_HEAD}  http:\n    - route:\n        - destination:\n            host: payment\n`,
    expected: { line: 9, field: 'spec.http[0].route[0].destination.host' },
  },
  {
    name: 'rejects a subset no DestinationRule defines',
    yaml: `${VS_HEAD}  http:\n    - route:\n        - destination:\n            host: inventory\n            subset: v3\n`,
    expected: { line: 10, field: 'spec.http[0].route[0].destination.subset' },
  },
  {
    name: 'rejects a destination port the host does not have',
    yaml: `${VS_HEAD}  http:\n    - route:\n        - destination:\n            host: inventory\n            port: { number: 1234 }\n`,
    expected: { line: 10, field: 'spec.http[0].route[0].destination.port.number' },
  },
  {
    name: 'rejects a VirtualService host no ServiceEntry declares',
    yaml: `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: vs }\nspec:\n  hosts: [inventory, nowhere]\n`,
    expected: { line: 5, field: 'spec.hosts[1]' },
  },
  {
    name: 'rejects a route after a catch-all as unreachable',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n    - match: [{ uri: { prefix: /a } }]\n      route: [{ destination: { host: inventory } }]\n`,
    expected: { line: 8, field: 'spec.http[1]' },
  },
  {
    name: 'rejects a malformed duration',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n      timeout: 2 seconds\n`,
    expected: { line: 8, field: 'spec.http[0].timeout' },
  },
  {
    name: 'rejects an unknown retry condition',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n      retries: { attempts: 2, retryOn: "5xx,sometimes" }\n`,
    expected: { line: 8, field: 'spec.http[0].retries.retryOn' },
  },
  {
    name: 'rejects a fault abort with both httpStatus and grpcStatus',
    yaml: `${VS_HEAD}  http:\n    - route: [{ destination: { host: inventory } }]\n      fault:\n        abort: { httpStatus: 503, grpcStatus: UNAVAILABLE }\n`,
    expected: { line: 9, field: 'spec.http[0].fault.abort' },
  },
  {
    name: 'rejects PASSTHROUGH load balancing',
    yaml: `${DR_HEAD}  trafficPolicy:\n    loadBalancer:\n      simple: PASSTHROUGH\n`,
    expected: {
      line: 8,
      resource: 'DestinationRule/shop/dr',
      field: 'spec.trafficPolicy.loadBalancer.simple',
    },
  },
  {
    name: 'rejects consistentHash httpCookie by name as unsupported',
    yaml: `${DR_HEAD}  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: { name: c, ttl: 0s }\n`,
    expected: { line: 9, field: 'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie' },
  },
  {
    name: 'rejects portLevelSettings by name as unsupported',
    yaml: `${DR_HEAD}  trafficPolicy:\n    portLevelSettings: []\n`,
    expected: { line: 7, field: 'spec.trafficPolicy.portLevelSettings' },
  },
  {
    name: 'rejects failoverPriority by name as unsupported',
    yaml: `${DR_HEAD}  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [topology.kubernetes.io/region]\n`,
    expected: {
      line: 9,
      field: 'spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority',
    },
  },
  {
    name: 'rejects distribute weights that do not sum to 100',
    yaml: `${DR_HEAD}  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n          - from: us-east-1/*\n            to: { "us-east-1/*": 60, "us-west-2/*": 20 }\n`,
    expected: {
      line: 11,
      field: 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to',
    },
  },
  {
    name: 'rejects tls SIMPLE as unsupported',
    yaml: `${DR_HEAD}  trafficPolicy:\n    tls: { mode: SIMPLE }\n`,
    expected: { line: 7, field: 'spec.trafficPolicy.tls.mode' },
  },
  {
    name: 'rejects a DestinationRule for an unknown host',
    yaml: `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: dr }\nspec:\n  host: payment\n`,
    expected: { line: 5, resource: 'DestinationRule/default/dr', field: 'spec.host' },
  },
  {
    name: 'rejects a second DestinationRule for the same host',
    yaml: `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: dr2 }\nspec:\n  host: inventory\n`,
    expected: { line: 5, resource: 'DestinationRule/default/dr2', field: 'spec.host' },
  },
  {
    name: 'rejects resolution DNS as unsupported',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [payment]\n  ports: [{ number: 80, name: http }]\n  resolution: DNS\n`,
    expected: { line: 7, resource: 'ServiceEntry/default/s', field: 'spec.resolution' },
  },
  {
    name: 'requires resolution (Istio default NONE is unsupported)',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [payment]\n  ports: [{ number: 80, name: http }]\n`,
    expected: { line: 4, field: 'spec.resolution' },
  },
  {
    name: 'rejects a TCP port as unsupported',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [db]\n  resolution: STATIC\n  ports:\n    - number: 5432\n      name: pg\n      protocol: TCP\n`,
    expected: { line: 10, field: 'spec.ports[0].protocol' },
  },
  {
    name: 'rejects a host declared by two ServiceEntries',
    yaml: `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [inventory]\n  resolution: STATIC\n  ports: [{ number: 80, name: http }]\n`,
    expected: { line: 5, resource: 'ServiceEntry/default/s', field: 'spec.hosts[0]' },
  },
  {
    name: 'rejects a WorkloadEntry address that is a DNS name',
    yaml: `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec:\n  address: inventory-1.example.com\n`,
    expected: { line: 5, resource: 'WorkloadEntry/default/w', field: 'spec.address' },
  },
  {
    name: 'rejects a WorkloadEntry network',
    yaml: `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec:\n  address: 127.0.0.9\n  network: west\n`,
    expected: { line: 6, field: 'spec.network' },
  },
  {
    name: 'rejects a negative WorkloadEntry weight',
    yaml: `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec:\n  address: 127.0.0.9\n  weight: -1\n`,
    expected: { line: 6, field: 'spec.weight' },
  },
  {
    name: 'rejects a duplicate resource at its second definition',
    yaml: `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec: { address: 127.0.0.9 }\n---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec: { address: 127.0.0.8 }\n`,
    expected: { line: 8, resource: 'WorkloadEntry/default/w', field: 'metadata.name' },
  },
  {
    name: 'rejects a second MeshConfig',
    yaml: `apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: a }\nspec: {}\n---\napiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: b }\nspec: {}\n`,
    expected: { line: 7, resource: 'MeshConfig/default/b', field: 'kind' },
  },
  {
    name: 'rejects an unknown MeshConfig field',
    yaml: `apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: a }\nspec:\n  trustDomain: example.org\n  meshId: m1\n`,
    expected: { line: 6, field: 'spec.meshId' },
  },
  {
    name: 'rejects a tracing sampling above 100 percent',
    yaml: `apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: a }\nspec:\n  tracing:\n    sampling: 150\n`,
    expected: { line: 6, field: 'spec.tracing.sampling' },
  },
];

function matches(issue: LocatedIssue, expected: Partial<LocatedIssue>): boolean {
  return Object.entries(expected).every(([k, v]) => issue[k as keyof LocatedIssue] === v);
}

describe('loadConfigDir', () => {
  describe('reports each invalid input with file, line, resource and field', () => {
    for (const c of CASES) {
      it(c.name, async () => {
        const dir = await writeConfigDir({ '0-base.yaml': INVENTORY_SE, 'a.yaml': c.yaml });
        const result = await loadConfigDir(dir);
        assert.ok(!result.ok, 'expected the config to be rejected');
        const expected = { file: 'a.yaml', ...c.expected };
        assert.ok(
          result.issues.some((i) => matches(i, expected)),
          `no issue like ${JSON.stringify(expected)} in:\n${formatConfigIssues(result.issues)}`,
        );
        assert.ok(
          result.issues.every((i) => i.file === 'a.yaml'),
          `only a.yaml is broken:\n${formatConfigIssues(result.issues)}`,
        );
      });
    }
  });

  it('names unsupported Istio fields as not supported, distinct from unknown fields', async () => {
    const dir = await writeConfigDir({
      '0-base.yaml': INVENTORY_SE,
      'a.yaml': `${VS_HEAD}  exportTo: ['.']\n  colour: blue\n`,
    });
    const result = await loadConfigDir(dir);
    assert.ok(!result.ok);
    const exportTo = result.issues.find((i) => i.field === 'spec.exportTo');
    const colour = result.issues.find((i) => i.field === 'spec.colour');
    assert.ok(exportTo !== undefined && colour !== undefined);
    assert.notEqual(exportTo.message, colour.message);
  });

  it('reports every issue of a directory in one pass, across files and documents', async () => {
    const files: Record<string, string> = { '0-base.yaml': INVENTORY_SE };
    for (const [i, c] of CASES.entries()) files[`case-${String(i).padStart(2, '0')}.yaml`] = c.yaml;
    const result = await loadConfigDir(await writeConfigDir(files));
    assert.ok(!result.ok);
    // Cases whose resources collide with each other (duplicates) may report one more issue, never fewer.
    const broken = new Set(result.issues.map((i) => i.file));
    for (const i of CASES.keys())
      assert.ok(broken.has(`case-${String(i).padStart(2, '0')}.yaml`), `case ${i} not reported`);
    assert.equal(result.files.length, CASES.length + 1);
    const sorted = [...result.issues].sort(
      (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0),
    );
    assert.deepEqual(result.issues, sorted, 'issues come sorted by file and line');
  });

  it('reads *.yaml and *.yml recursively in sorted order and ignores other files', async () => {
    const dir = await writeConfigDir({
      ...MESH_EXAMPLE,
      'README.md': '# not config',
      'notes.txt': 'x: [',
    });
    const result = await loadConfigDir(dir);
    assert.deepEqual(result.files, [
      'mesh.yaml',
      'rules/inventory.yml',
      'rules/payment.yaml',
      'services/services.yaml',
      'workloads/inventory.yaml',
    ]);
  });

  it('reports a missing directory as an issue instead of throwing', async () => {
    const result = await loadConfigDir('/nonexistent/weft-config');
    assert.ok(!result.ok);
    assert.equal(result.issues.length, 1);
  });

  it('loads an empty directory into an empty mesh', async () => {
    const result = await loadConfigDir(await writeConfigDir({ 'empty.yaml': '' }));
    assert.ok(result.ok);
    assert.equal(result.model.services.size, 0);
  });

  describe('the full example (checkout, inventory, payment in two regions)', () => {
    it('loads without issues into a frozen, fully resolved model', async () => {
      const result = await loadConfigDir(await writeConfigDir(MESH_EXAMPLE));
      assert.ok(result.ok, result.ok ? '' : formatConfigIssues(result.issues));
      const { model } = result;
      assert.deepEqual([...model.services.keys()], ['checkout', 'inventory', 'payment']);
      assert.deepEqual(model.settings, {
        trustDomain: 'example.org',
        connectTimeoutMs: 2000,
        certificateTtlMs: 43_200_000,
        rootNamespace: 'weft-system',
        tracingSamplingPercent: 1,
      });
      assert.ok(Object.isFrozen(model));

      const inventory = model.services.get('inventory')!;
      assert.deepEqual(
        inventory.ports.map((p) => [p.number, p.protocol]),
        [
          [8080, 'HTTP'],
          [9090, 'GRPC'],
        ],
      );
      assert.equal(inventory.endpoints.length, 5);
      const eastA = inventory.endpoints.find((e) => e.address === '127.0.1.1')!;
      assert.deepEqual(eastA.ports, { 8080: 18080, 9090: 19090 });
      assert.deepEqual(eastA.locality, {
        region: 'us-east-1',
        zone: 'us-east-1a',
        subZone: 'rack1',
      });
      assert.equal(eastA.weight, 3);
      assert.ok(Object.isFrozen(eastA));

      const vs = model.virtualServices.get('inventory')!;
      assert.deepEqual(
        vs.http.map((r) => r.name),
        ['canary-header', 'split'],
      );
      const split = vs.http[1]!;
      assert.deepEqual(
        split.destinations.map((d) => [d.subset, d.weight]),
        [
          ['v1', 80],
          ['v2', 20],
        ],
      );
      assert.equal(split.timeoutMs, 2000);
      assert.deepEqual(split.retries, {
        attempts: 3,
        perTryTimeoutMs: 500,
        retryOn: ['5xx', 'connect-failure', 'unavailable'],
        retriableStatusCodes: [],
      });
      assert.deepEqual(split.fault, { delay: { percent: 0.5, fixedDelayMs: 100 }, abort: null });
      assert.deepEqual(split.mirror, { host: 'payment', subset: '', port: null, percent: 10 });
      assert.deepEqual(vs.http[0]!.matches[0]!.headers, [
        { name: 'x-canary', match: { kind: 'exact', value: 'true' } },
      ]);

      const dr = model.destinationPolicies.get('inventory')!;
      assert.equal(dr.trafficPolicy.loadBalancer.kind, 'LEAST_REQUEST');
      assert.deepEqual(dr.trafficPolicy.localityLb.failover, [
        { from: 'us-east-1', to: 'us-west-2' },
      ]);
      assert.equal(dr.trafficPolicy.connectionPool.connectTimeoutMs, 1000);
      assert.equal(dr.trafficPolicy.outlierDetection?.consecutive5xxErrors, 3);
      // The v2 subset overrides loadBalancer only; the rest is inherited from the host level.
      const v2 = dr.subsets.find((s) => s.name === 'v2')!;
      assert.deepEqual(v2.trafficPolicy.loadBalancer, {
        kind: 'RING_HASH',
        hashKey: { kind: 'header', name: 'x-user' },
        minimumRingSize: 1024,
      });
      assert.deepEqual(v2.trafficPolicy.localityLb, {
        enabled: true,
        distribute: [],
        failover: [],
      });
      assert.equal(v2.trafficPolicy.tls.mode, 'ISTIO_MUTUAL');
      // A host without a DestinationRule still has a (default) policy.
      assert.equal(
        model.destinationPolicies.get('checkout')?.trafficPolicy.loadBalancer.kind,
        'ROUND_ROBIN',
      );
    });
  });
});

describe('formatConfigIssues', () => {
  it('prints one file:line: resource: field: message line per issue', () => {
    const text = formatConfigIssues([
      {
        file: 'a.yaml',
        line: 3,
        resource: 'VirtualService/default/vs',
        field: 'spec.tcp',
        message: 'm1',
      },
      { file: 'b.yaml', field: '', message: 'm2' },
    ]);
    assert.equal(text, 'a.yaml:3: VirtualService/default/vs: spec.tcp: m1\nb.yaml: m2');
  });
});
