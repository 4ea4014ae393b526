// Per-cluster admission of retries: the circuit breaker's max_retries (concurrent retries), or
// its retry budget (a share of active requests) when one is set. Envoy's semantics:
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking
import type { CircuitBreakersUpdate } from '@weft/xds-client';

/** Envoy's default `max_retries` when a cluster has no CDS resource at hand. */
export const DEFAULT_MAX_RETRIES = 3;

/** Counts active requests and active retries per cluster for one transport. */
export class RetryBudgets {
  private readonly retries = new Map<string, number>();
  private readonly requests = new Map<string, number>();

  /** A request to `cluster` started (feeds percentage budgets); pair with `requestEnded`. */
  requestStarted(cluster: string): void {
    this.requests.set(cluster, (this.requests.get(cluster) ?? 0) + 1);
  }

  requestEnded(cluster: string): void {
    const n = (this.requests.get(cluster) ?? 0) - 1;
    if (n > 0) this.requests.set(cluster, n);
    else this.requests.delete(cluster);
  }

  /**
   * Admits one more concurrent retry to `cluster` under `breakers` (undefined: Envoy's default
   * of 3); false when the cluster is at its limit. An admitted retry must be `release`d once.
   */
  tryAcquire(cluster: string, breakers: CircuitBreakersUpdate | undefined): boolean {
    const active = this.retries.get(cluster) ?? 0;
    if (active >= this.limit(cluster, breakers)) return false;
    this.retries.set(cluster, active + 1);
    return true;
  }

  release(cluster: string): void {
    const n = (this.retries.get(cluster) ?? 0) - 1;
    if (n > 0) this.retries.set(cluster, n);
    else this.retries.delete(cluster);
  }

  private limit(cluster: string, breakers: CircuitBreakersUpdate | undefined): number {
    if (breakers === undefined) return DEFAULT_MAX_RETRIES;
    const budget = breakers.retryBudget;
    if (budget === undefined) return breakers.maxRetries;
    const active = this.requests.get(cluster) ?? 0;
    return Math.max(budget.minRetryConcurrency, Math.floor((active * budget.budgetPercent) / 100));
  }
}
