// mesh.fetch(url, { fallback }): the caller's answer for a request the cluster's service-level
// breaker rejected or counted as a failure. Issue 4, "Service-level breaker with fallback".
import { WeftError } from '@weft/xds-client';
import type { RequestInit, Response } from 'undici';
import type { ServiceBreakers } from './service-breakers.js';

/**
 * Answers a failed request: `err` is the mesh's error (WEFT_BREAKER_OPEN when the breaker failed
 * it fast; otherwise a failure the breaker counted: WEFT_TIMEOUT, WEFT_UPSTREAM_RESET,
 * WEFT_CONNECT_FAILURE, WEFT_NO_HEALTHY_UPSTREAM, WEFT_RETRIES_EXHAUSTED). A throw or rejection
 * becomes fetch's rejection.
 */
export type MeshFetchFallback = (err: WeftError) => Response | Promise<Response>;

/** undici's RequestInit plus the mesh's fallback. */
export interface MeshFetchInit extends RequestInit {
  /**
   * Runs when the request would reject because the cluster's breaker is open or because of a
   * failure the breaker counts (see MeshFetchFallback); its Response is the answer. A 5xx
   * response is returned as is (it counts for the breaker). Never runs with `serviceBreaker: false`.
   */
  readonly fallback?: MeshFetchFallback;
}

/** Sends with `send()` and hands a failure the breakers let a fallback answer to `fallback`. */
export async function fetchWithFallback(
  send: () => Promise<Response>,
  fallback: MeshFetchFallback,
  breakers: ServiceBreakers | undefined,
): Promise<Response> {
  if (typeof fallback !== 'function') {
    throw new WeftError('WEFT_INVALID_CONFIG', 'mesh.fetch: init.fallback: expected a function');
  }
  try {
    return await send();
  } catch (err) {
    // undici's fetch rejects with TypeError('fetch failed') whose cause is the dispatcher's error.
    const cause = err instanceof Error ? err.cause : undefined;
    const breaker = breakers?.answerableBy(cause);
    if (breaker === undefined || !(cause instanceof WeftError)) throw err;
    const answer = await fallback(cause);
    breaker.fellBack();
    return answer;
  }
}
