import assert from 'node:assert/strict';
import type { CircuitBreakersUpdate } from '@weft/xds-client';
import { DEFAULT_MAX_RETRIES, RetryBudgets } from '../../src/cluster/retry-budget.js';

function breakers(over: Partial<CircuitBreakersUpdate>): CircuitBreakersUpdate {
  return {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    retryBudget: undefined,
    ...over,
  };
}

function admitted(
  budgets: RetryBudgets,
  cluster: string,
  b: CircuitBreakersUpdate | undefined,
): number {
  let n = 0;
  while (n < 100 && budgets.tryAcquire(cluster, b)) n++;
  return n;
}

describe('RetryBudgets', function () {
  it("admits Envoy's default of 3 concurrent retries when the cluster is unknown", function () {
    assert.equal(admitted(new RetryBudgets(), 'c', undefined), DEFAULT_MAX_RETRIES);
  });

  it('admits max_retries concurrent retries per cluster and frees a slot on release', function () {
    const budgets = new RetryBudgets();
    const b = breakers({ maxRetries: 2 });
    assert.equal(admitted(budgets, 'c', b), 2);
    assert.equal(admitted(budgets, 'other', b), 2);
    budgets.release('c');
    assert.equal(budgets.tryAcquire('c', b), true);
    assert.equal(budgets.tryAcquire('c', b), false);
  });

  it('with a retry budget, admits budget_percent of active requests, at least min_retry_concurrency', function () {
    const budgets = new RetryBudgets();
    const b = breakers({
      maxRetries: 100,
      retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 },
    });
    for (let i = 0; i < 10; i++) budgets.requestStarted('c');
    assert.equal(admitted(budgets, 'c', b), 3); // 20% of 10 = 2 < min 3
    for (let i = 0; i < 3; i++) budgets.release('c');
    for (let i = 0; i < 30; i++) budgets.requestStarted('c');
    assert.equal(admitted(budgets, 'c', b), 8); // 20% of 40
    for (let i = 0; i < 40; i++) budgets.requestEnded('c');
    for (let i = 0; i < 8; i++) budgets.release('c');
    assert.equal(admitted(budgets, 'c', b), 3);
  });
});
