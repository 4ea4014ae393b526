import assert from 'node:assert/strict';
import type { FaultUpdate } from '@weft/xds-client';
import { silentLogger } from '@weft/xds-client';
import type { FaultCounters, FaultPlan } from '../../src/filters/fault.js';
import { FaultInjector, grpcStatusOfHttpStatus } from '../../src/filters/fault.js';
import { shadowHost } from '../../src/filters/mirror.js';
import { faultAbortResponse } from '../../src/http/fault-response.js';
import type { EffectiveHttpFilters } from '../../src/routing/route-filters.js';

const M = 1_000_000;

function filters(...faults: FaultUpdate[]): EffectiveHttpFilters {
  return faults.map((fault, i) => ({ kind: 'fault', name: `fault-${i}`, fault }));
}

function fault(partial: Partial<FaultUpdate>): FaultUpdate {
  return { delay: undefined, abort: undefined, maxActiveFaults: undefined, ...partial };
}

function injector(
  random: number,
  transport: 'http' | 'grpc' = 'http',
): { faults: FaultInjector; counters: FaultCounters } {
  const counters: FaultCounters = { faultsDelayed: 0, faultsAborted: 0, faultsOverflowed: 0 };
  return {
    faults: new FaultInjector(() => random, counters, silentLogger, transport),
    counters,
  };
}

function headers(h: Record<string, string>): (name: string) => string | undefined {
  return (name) => h[name];
}

describe('FaultInjector', () => {
  describe('plan', () => {
    const cases: {
      name: string;
      random: number;
      transport?: 'http' | 'grpc';
      faults: FaultUpdate[];
      headers?: Record<string, string>;
      expected: FaultPlan | undefined;
    }[] = [
      {
        name: 'injects a fixed delay drawn under its percentage',
        random: 0.49,
        faults: [fault({ delay: { kind: 'fixed', delayMs: 200, percentagePerMillion: M / 2 } })],
        expected: { delayMs: 200, abort: undefined },
      },
      {
        name: 'skips a fixed delay drawn over its percentage',
        random: 0.5,
        faults: [fault({ delay: { kind: 'fixed', delayMs: 200, percentagePerMillion: M / 2 } })],
        expected: undefined,
      },
      {
        name: 'never injects at 0 %',
        random: 0,
        faults: [fault({ abort: { kind: 'http', httpStatus: 503, percentagePerMillion: 0 } })],
        expected: undefined,
      },
      {
        name: 'delays, then aborts (A33 order)',
        random: 0,
        faults: [
          fault({
            delay: { kind: 'fixed', delayMs: 10, percentagePerMillion: M },
            abort: { kind: 'grpc', grpcStatus: 8, percentagePerMillion: M },
          }),
        ],
        expected: { delayMs: 10, abort: { kind: 'grpc', grpcStatus: 8 } },
      },
      {
        name: 'runs filters in chain order and stops at the first abort',
        random: 0,
        faults: [
          fault({ delay: { kind: 'fixed', delayMs: 10, percentagePerMillion: M } }),
          fault({ abort: { kind: 'http', httpStatus: 500, percentagePerMillion: M } }),
          fault({ delay: { kind: 'fixed', delayMs: 99, percentagePerMillion: M } }),
        ],
        expected: { delayMs: 10, abort: { kind: 'http', httpStatus: 500 } },
      },
      {
        name: 'reads a header delay from x-envoy-fault-delay-request',
        random: 0,
        faults: [fault({ delay: { kind: 'header', percentagePerMillion: M } })],
        headers: { 'x-envoy-fault-delay-request': '150' },
        expected: { delayMs: 150, abort: undefined },
      },
      {
        name: 'injects no header delay without the header',
        random: 0,
        faults: [fault({ delay: { kind: 'header', percentagePerMillion: M } })],
        expected: undefined,
      },
      {
        name: 'caps the percentage by the -percentage header (percent)',
        random: 0.2,
        faults: [fault({ delay: { kind: 'header', percentagePerMillion: M } })],
        headers: {
          'x-envoy-fault-delay-request': '150',
          'x-envoy-fault-delay-request-percentage': '10',
        },
        expected: undefined,
      },
      {
        name: 'reads an HTTP header abort first on HTTP',
        random: 0,
        faults: [fault({ abort: { kind: 'header', percentagePerMillion: M } })],
        headers: {
          'x-envoy-fault-abort-request': '429',
          'x-envoy-fault-abort-grpc-request': '8',
        },
        expected: { delayMs: 0, abort: { kind: 'http', httpStatus: 429 } },
      },
      {
        name: 'reads the gRPC header abort first on gRPC',
        random: 0,
        transport: 'grpc',
        faults: [fault({ abort: { kind: 'header', percentagePerMillion: M } })],
        headers: {
          'x-envoy-fault-abort-request': '429',
          'x-envoy-fault-abort-grpc-request': '8',
        },
        expected: { delayMs: 0, abort: { kind: 'grpc', grpcStatus: 8 } },
      },
      {
        name: 'ignores an HTTP header abort outside [200, 600)',
        random: 0,
        faults: [fault({ abort: { kind: 'header', percentagePerMillion: M } })],
        headers: { 'x-envoy-fault-abort-request': '700' },
        expected: undefined,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const { faults } = injector(c.random, c.transport);
        assert.deepEqual(
          faults.plan(filters(...c.faults), headers(c.headers ?? {}), 'r'),
          c.expected,
        );
      });
    }

    it('counts delayed and aborted requests', () => {
      const { faults, counters } = injector(0);
      faults.plan(
        filters(
          fault({
            delay: { kind: 'fixed', delayMs: 1, percentagePerMillion: M },
            abort: { kind: 'http', httpStatus: 503, percentagePerMillion: M },
          }),
        ),
        headers({}),
        'r',
      );
      assert.deepEqual(counters, { faultsDelayed: 1, faultsAborted: 1, faultsOverflowed: 0 });
    });

    it('injects nothing while max_active_faults delays are active, and again once they end', () => {
      const { faults, counters } = injector(0);
      const f = filters(
        fault({
          delay: { kind: 'fixed', delayMs: 5, percentagePerMillion: M },
          maxActiveFaults: 1,
        }),
      );
      const end = faults.begin();
      assert.equal(faults.plan(f, headers({}), 'r'), undefined);
      assert.equal(counters.faultsOverflowed, 1);
      end();
      end(); // idempotent
      assert.equal(faults.activeFaults, 0);
      assert.deepEqual(faults.plan(f, headers({}), 'r'), { delayMs: 5, abort: undefined });
    });
  });

  describe('grpcStatusOfHttpStatus', () => {
    const table: [number, number][] = [
      [400, 13],
      [401, 16],
      [403, 7],
      [404, 12],
      [429, 14],
      [502, 14],
      [503, 14],
      [504, 14],
      [500, 2],
    ];
    for (const [http, grpc] of table) {
      it(`maps ${http} to ${grpc}`, () => {
        assert.equal(grpcStatusOfHttpStatus(http), grpc);
      });
    }
  });
});

describe('shadowHost', () => {
  const table: [string, string][] = [
    ['inventory', 'inventory-shadow'],
    ['inventory:8080', 'inventory-shadow:8080'],
    ['[::1]:8080', '[::1]-shadow:8080'],
    ['[::1]', '[::1]-shadow'],
  ];
  for (const [host, expected] of table) {
    it(`shadows ${host} as ${expected}`, () => {
      assert.equal(shadowHost(host), expected);
    });
  }
});

describe('faultAbortResponse', () => {
  it('answers an HTTP abort with its status and body "fault filter abort"', () => {
    const r = faultAbortResponse({ kind: 'http', httpStatus: 429 }, undefined);
    assert.equal(r.statusCode, 429);
    assert.equal(r.body.toString(), 'fault filter abort');
  });

  it('answers a gRPC abort of a gRPC request trailers-only (200, grpc-status)', () => {
    const r = faultAbortResponse({ kind: 'grpc', grpcStatus: 14 }, 'application/grpc+proto');
    assert.equal(r.statusCode, 200);
    const raw = r.rawHeaders.map(String);
    assert.equal(raw[raw.indexOf('grpc-status') + 1], '14');
    assert.equal(r.body.length, 0);
  });

  it('answers a gRPC abort of a plain HTTP request with 503', () => {
    assert.equal(
      faultAbortResponse({ kind: 'grpc', grpcStatus: 14 }, 'text/plain').statusCode,
      503,
    );
  });
});
