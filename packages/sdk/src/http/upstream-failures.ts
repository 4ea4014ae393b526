// What a failed HTTP attempt allows: whether the request never left this process (a connect
// failure, so another endpoint may take it) and whether its body can be sent again.
/**
 * Error codes of failures to establish a connection: the request never left this process, so it
 * may go to another endpoint. UND_ERR_CLOSED/DESTROYED: the endpoint's pool was closed because
 * the endpoint left the config between pick and send.
 */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** True when `err` says the connection could not be made (the request was never sent). */
export function isConnectError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (CONNECT_ERROR_CODES.has(code) || code.startsWith('ERR_TLS_'));
}

/** Bodies that can be sent again as they are: nothing was consumed by a failed attempt. */
export function isReplayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer
  );
}
