// The HTTP answer to a request a local rate limit refused: like Envoy, a real response from the
// mesh (status 429 by default, body `local_rate_limited`, x-ratelimit-* headers when enabled),
// never sent upstream. Spec: Envoy local_rate_limit_filter, "HTTP local rate limit".
import { WeftError } from '@weft/xds-client';
import type { LegacyHandler } from '../http/legacy-handler.js';
import { LOCAL_RATE_LIMITED_BODY } from './local-rate-limit.js';
import type { RateLimitRefusal } from './local-rate-limit.js';

const BODY = Buffer.from(LOCAL_RATE_LIMITED_BODY);

/**
 * Drives `handler` through a whole response for `refusal`; `finished` runs before the handler
 * sees the end (as for an upstream response). A caller abort during the callbacks stops it.
 */
export function sendRateLimited(
  handler: LegacyHandler,
  refusal: RateLimitRefusal,
  finished: () => void,
): void {
  let abortReason: Error | undefined;
  const abortedNow = (): boolean => {
    if (abortReason === undefined) return false;
    finished();
    handler.onError(abortReason);
    return true;
  };
  handler.onConnect((reason?: Error) => {
    abortReason ??= reason ?? new WeftError('WEFT_CLOSED', 'request aborted');
  });
  if (abortedNow()) return;
  handler.onResponseStarted?.();
  const raw: Buffer[] = [
    Buffer.from('content-type'),
    Buffer.from('text/plain'),
    Buffer.from('content-length'),
    Buffer.from(String(BODY.length)),
  ];
  for (const [name, value] of refusal.headers) raw.push(Buffer.from(name), Buffer.from(value));
  const status = refusal.config.httpStatus;
  handler.onHeaders(status, raw, () => undefined, status === 429 ? 'Too Many Requests' : '');
  if (abortedNow()) return;
  handler.onData(BODY);
  if (abortedNow()) return;
  finished();
  handler.onComplete([]);
}
