// An open-loop load generator for the chaos test: request i is due at start + i / rate, whatever
// the earlier ones are doing (a slow or failing request never delays the next one), and its
// latency is measured from when it was due, so a stalled generator shows up as latency instead of
// hiding it (no coordinated omission). Also records every upstream attempt the mesh makes, by
// endpoint, from undici's diagnostics channel.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

/** What one request returned: the status and who served it. */
export interface Served {
  readonly status: number;
  readonly backend: string;
  readonly region: string;
}

/** One request of the load. Times are ms since the load started. */
export interface RequestRecord {
  readonly id: number;
  /** When it was due (open-loop schedule). */
  readonly scheduledMs: number;
  /** When the generator actually sent it (≥ scheduledMs; the gap is generator lag). */
  readonly sentMs: number;
  doneMs: number | undefined;
  served: Served | undefined;
  error: string | undefined;
}

/** One upstream attempt the mesh sent (undici `request:create` on an endpoint pool). */
export interface AttemptRecord {
  readonly atMs: number;
  /** `127.0.0.1:port`. */
  readonly endpoint: string;
}

/** Sends `send(id)` at `ratePerSec` until stopped; see the file comment. */
export class OpenLoopLoad {
  readonly records: RequestRecord[] = [];
  readonly attempts: AttemptRecord[] = [];
  readonly ratePerSec: number;
  readonly #send: (id: number) => Promise<Served>;
  readonly #inFlight = new Set<Promise<void>>();
  #startedAt = 0;
  #stoppedAtMs: number | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  readonly #onAttempt = (message: unknown): void => {
    const origin = (message as { request: { origin?: unknown } }).request.origin;
    const text = typeof origin === 'string' ? origin : String(origin);
    const endpoint = text.replace(/^https?:\/\//, '').replace(/\/$/, '');
    this.attempts.push({ atMs: this.now(), endpoint });
  };

  constructor(ratePerSec: number, send: (id: number) => Promise<Served>) {
    this.ratePerSec = ratePerSec;
    this.#send = send;
  }

  /** Ms since start(). */
  now(): number {
    return performance.now() - this.#startedAt;
  }

  /** Starts the schedule now (t = 0). */
  start(): void {
    this.#startedAt = performance.now();
    subscribe('undici:request:create', this.#onAttempt);
    this.#tick();
  }

  /** Stops scheduling and waits for the requests in flight. Returns the load's duration, ms. */
  async stop(): Promise<number> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stoppedAtMs ??= this.now();
    await Promise.allSettled([...this.#inFlight]);
    unsubscribe('undici:request:create', this.#onAttempt);
    return this.#stoppedAtMs;
  }

  /** Resolves (polling every 20 ms) once `check()` holds, or rejects after `timeoutMs`. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (!check()) {
      if (this.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #tick(): void {
    const elapsed = this.now();
    const due = Math.floor((elapsed * this.ratePerSec) / 1000) + 1;
    while (this.records.length < due) this.#fire(this.records.length);
    // 2 ms ticks: late timers only batch requests (each keeps its due time), never drop them.
    this.#timer = setTimeout(() => {
      this.#tick();
    }, 2);
  }

  #fire(id: number): void {
    const record: RequestRecord = {
      id,
      scheduledMs: (id * 1000) / this.ratePerSec,
      sentMs: this.now(),
      doneMs: undefined,
      served: undefined,
      error: undefined,
    };
    this.records.push(record);
    const p = this.#send(id).then(
      (served) => {
        record.doneMs = this.now();
        record.served = served;
      },
      (err: unknown) => {
        record.doneMs = this.now();
        const e = err as Error & { code?: string; cause?: unknown };
        record.error = `${e.code ?? e.name}: ${e.message}${e.cause instanceof Error ? ` (cause: ${e.cause.message})` : ''}`;
      },
    );
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }
}

/** The q-quantile (0..1) of `values` (nearest rank); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
