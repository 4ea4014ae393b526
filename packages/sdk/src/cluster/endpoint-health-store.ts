// What the transports have learned about each endpoint, kept per runtime so it survives table
// rebuilds: requests in flight (least_request) and connect-failure backoff (reachability).
// DESIGN.md "The request path" steps 3 and 6.
import type { Clock } from '@weft/xds-client';
import type { AttemptOutcome } from '../runtime/mesh-runtime.js';

/** First backoff after a connect failure. */
export const UNREACHABLE_BACKOFF_BASE_MS = 1_000;
/** Backoff doubles per consecutive connect failure up to this. */
export const UNREACHABLE_BACKOFF_MAX_MS = 30_000;

/** The mutable state of one endpoint key. Balancers hold these objects; the store never replaces one. */
export interface EndpointState {
  readonly key: string;
  /** Attempts picked and not yet `done()`. */
  inFlight: number;
  /** Epoch ms until which the endpoint is not picked; 0 when reachable. */
  unreachableUntil: number;
  /** The current backoff (0 after a success), doubling from the base to the max. */
  backoffMs: number;
  consecutiveConnectFailures: number;
}

/**
 * Endpoint states by key (`address:port`). A connect failure makes an endpoint unreachable for
 * the backoff; a later success on it (an attempt picked before, or after the backoff) clears it.
 * `generation` changes whenever reachability changes, so balancers can cache their health view.
 */
export class EndpointHealthStore {
  private readonly states = new Map<string, EndpointState>();
  private readonly clock: Clock;
  /** Bumped on every reachability change. */
  generation = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The state object for `key`, created on first use. */
  stateOf(key: string): EndpointState {
    let s = this.states.get(key);
    if (s === undefined) {
      s = { key, inFlight: 0, unreachableUntil: 0, backoffMs: 0, consecutiveConnectFailures: 0 };
      this.states.set(key, s);
    }
    return s;
  }

  /** Records the end of an attempt on `state`'s endpoint. */
  record(state: EndpointState, outcome: AttemptOutcome): void {
    if (state.inFlight > 0) state.inFlight--;
    switch (outcome) {
      case 'connect-failure': {
        state.backoffMs =
          state.backoffMs === 0
            ? UNREACHABLE_BACKOFF_BASE_MS
            : Math.min(state.backoffMs * 2, UNREACHABLE_BACKOFF_MAX_MS);
        state.consecutiveConnectFailures++;
        state.unreachableUntil = this.clock.now() + state.backoffMs;
        this.generation++;
        return;
      }
      case 'success':
        if (state.backoffMs !== 0 || state.unreachableUntil !== 0) {
          state.backoffMs = 0;
          state.unreachableUntil = 0;
          state.consecutiveConnectFailures = 0;
          this.generation++;
        }
        return;
      case 'reset':
      case 'timeout':
      case 'server-error':
        // The host answered the connect: reachability is unchanged; outlier detection judges these.
        return;
    }
  }

  /** Forgets idle states whose keys no table references any more. */
  retain(keys: ReadonlySet<string>): void {
    for (const [key, s] of this.states) {
      if (!keys.has(key) && s.inFlight === 0) this.states.delete(key);
    }
  }
}
