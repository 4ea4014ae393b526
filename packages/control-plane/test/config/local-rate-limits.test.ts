// Tests of the LocalRateLimit kind (weft.dev/v1alpha1) in the YAML loader: a table of invalid
// inputs, each located by file, line, resource and field, and the resolved model.
import assert from 'node:assert/strict';
import { formatConfigIssues, loadConfigDir } from '@weft/control-plane';
import type { LocatedIssue } from '@weft/control-plane';
import { writeConfigDir } from '../fixtures/mesh-example.js';

const BASE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inventory }
spec:
  hosts: [inventory]
  resolution: STATIC
  ports: [{ number: 8080, name: http }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inventory }
spec:
  hosts: [inventory]
  http:
    - name: reads
      match: [{ uri: { prefix: /items } }]
      route: [{ destination: { host: inventory } }]
    - name: rest
      route: [{ destination: { host: inventory } }]
`;

/** A LocalRateLimit `rl` whose spec is `spec` (indented YAML lines). Spec starts on line 5. */
const rl = (spec: string, name = 'rl'): string =>
  `apiVersion: weft.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: { name: ${name} }\nspec:\n${spec}`;
const BUCKET = `  tokenBucket: { maxTokens: 5, fillInterval: 1s }\n`;

interface Case {
  readonly name: string;
  readonly yaml: string;
  readonly expected: Partial<LocatedIssue>;
}

const CASES: readonly Case[] = [
  {
    name: 'rejects an unknown host',
    yaml: rl(`  host: nowhere\n${BUCKET}`),
    expected: { line: 5, resource: 'LocalRateLimit/default/rl', field: 'spec.host' },
  },
  {
    name: 'rejects an unknown route name',
    yaml: rl(`  host: inventory\n  routes: [reads, writes]\n${BUCKET}`),
    expected: { line: 6, field: 'spec.routes[1]' },
  },
  {
    name: 'rejects an empty route list',
    yaml: rl(`  host: inventory\n  routes: []\n${BUCKET}`),
    expected: { line: 6, field: 'spec.routes' },
  },
  {
    name: 'rejects a zero fill interval',
    yaml: rl(`  host: inventory\n  tokenBucket: { maxTokens: 5, fillInterval: 0s }\n`),
    expected: { line: 6, field: 'spec.tokenBucket.fillInterval' },
  },
  {
    name: 'rejects an invalid fill interval',
    yaml: rl(`  host: inventory\n  tokenBucket: { maxTokens: 5, fillInterval: soon }\n`),
    expected: { line: 6, field: 'spec.tokenBucket.fillInterval' },
  },
  {
    name: 'rejects maxTokens 0',
    yaml: rl(`  host: inventory\n  tokenBucket: { maxTokens: 0, fillInterval: 1s }\n`),
    expected: { line: 6, field: 'spec.tokenBucket.maxTokens' },
  },
  {
    name: 'rejects tokensPerFill 0',
    yaml: rl(
      `  host: inventory\n  tokenBucket: { maxTokens: 5, tokensPerFill: 0, fillInterval: 1s }\n`,
    ),
    expected: { line: 6, field: 'spec.tokenBucket.tokensPerFill' },
  },
  {
    name: 'requires tokenBucket',
    yaml: rl(`  host: inventory\n`),
    expected: { field: 'spec.tokenBucket' },
  },
  {
    name: 'rejects an unknown field',
    yaml: rl(`  host: inventory\n${BUCKET}  descriptors: []\n`),
    expected: { line: 7, field: 'spec.descriptors' },
  },
  {
    name: 'rejects a second host-wide limit for the same host',
    yaml: `${rl(`  host: inventory\n${BUCKET}`, 'a')}---\n${rl(`  host: inventory\n${BUCKET}`, 'b')}`,
    expected: { resource: 'LocalRateLimit/default/b', field: 'spec.host' },
  },
  {
    name: 'rejects a route limited twice',
    yaml: `${rl(`  host: inventory\n  routes: [reads]\n${BUCKET}`, 'a')}---\n${rl(`  host: inventory\n  routes: [reads]\n${BUCKET}`, 'b')}`,
    expected: { resource: 'LocalRateLimit/default/b', field: 'spec.routes[0]' },
  },
  {
    name: 'rejects another apiVersion',
    yaml: `apiVersion: weft.dev/v1\nkind: LocalRateLimit\nmetadata: { name: rl }\nspec:\n  host: inventory\n${BUCKET}`,
    expected: { line: 2, field: 'kind' },
  },
];

function matches(issue: LocatedIssue, expected: Partial<LocatedIssue>): boolean {
  return Object.entries(expected).every(([k, v]) => issue[k as keyof LocatedIssue] === v);
}

describe('LocalRateLimit (weft.dev/v1alpha1)', () => {
  describe('reports each invalid input with file, line, resource and field', () => {
    for (const c of CASES) {
      it(c.name, async () => {
        const dir = await writeConfigDir({ '0-base.yaml': BASE, 'a.yaml': c.yaml });
        const result = await loadConfigDir(dir);
        assert.ok(!result.ok, 'expected the config to be rejected');
        const expected = { file: 'a.yaml', ...c.expected };
        assert.ok(
          result.issues.some((i) => matches(i, expected)),
          `no issue like ${JSON.stringify(expected)} in:\n${formatConfigIssues(result.issues)}`,
        );
      });
    }
  });

  it('resolves a host-wide limit and route limits with defaults into the model', async () => {
    const dir = await writeConfigDir({
      '0-base.yaml': BASE,
      'a.yaml': `${rl(`  host: inventory\n${BUCKET}`, 'host')}---\n${rl(
        `  host: inventory\n  routes: [reads]\n  tokenBucket: { maxTokens: 10, tokensPerFill: 2, fillInterval: 250ms }\n  responseHeaders: false\n`,
        'reads',
      )}`,
    });
    const result = await loadConfigDir(dir);
    assert.ok(result.ok, result.ok ? '' : formatConfigIssues(result.issues));
    const limits = result.model.localRateLimits.get('inventory');
    assert.deepEqual(limits?.wholeHost, {
      maxTokens: 5,
      tokensPerFill: 1,
      fillIntervalMs: 1000,
      responseHeaders: true,
      source: 'LocalRateLimit/default/host',
    });
    assert.deepEqual(limits.routes.get('reads'), {
      maxTokens: 10,
      tokensPerFill: 2,
      fillIntervalMs: 250,
      responseHeaders: false,
      source: 'LocalRateLimit/default/reads',
    });
    assert.ok(Object.isFrozen(limits));
  });
});
