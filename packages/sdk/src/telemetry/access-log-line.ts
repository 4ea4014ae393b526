// The JSON text of one access log line, written by hand for the one shape AccessLogEntry has:
// the same bytes as JSON.stringify(entry) (same key order, same escapes, same numbers) at a
// fraction of its cost on the request path. Strings that need no escaping (the common case:
// no `"`, `\`, control character or surrogate) are wrapped in quotes as they are; the others
// go through JSON.stringify itself, so escapes can't drift from it.
import type { AccessLogEntry } from './access-log.js';

/** A character JSON.stringify escapes: `"`, `\`, U+0000-U+001F, or any UTF-16 surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `s` as a JSON string literal, exactly as JSON.stringify(s) writes it. */
function str(s: string): string {
  return s === '-' ? '"-"' : NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** `n` as JSON.stringify writes it: `null` for NaN and ±Infinity, `0` for -0. */
function num(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

/** Whether every field has its declared type (else the line is JSON.stringify's). */
function hasEntryShape(e: AccessLogEntry): boolean {
  return (
    typeof e.start_time === 'string' &&
    typeof e.reporter === 'string' &&
    typeof e.method === 'string' &&
    typeof e.path === 'string' &&
    typeof e.protocol === 'string' &&
    typeof e.authority === 'string' &&
    typeof e.response_code === 'number' &&
    typeof e.grpc_status === 'string' &&
    typeof e.response_flags === 'string' &&
    typeof e.bytes_received === 'number' &&
    typeof e.bytes_sent === 'number' &&
    typeof e.duration === 'number' &&
    typeof e.upstream_host === 'string' &&
    typeof e.upstream_cluster === 'string' &&
    typeof e.route_name === 'string' &&
    typeof e.x_request_id === 'string' &&
    typeof e.trace_id === 'string' &&
    typeof e.downstream_peer_uri_san === 'string' &&
    typeof e.upstream_peer_uri_san === 'string'
  );
}

/**
 * One access log line (without its newline): equal to `JSON.stringify(entry)`, keys in the
 * interface's order. An entry with a field of another type (an `undefined`, say) is left to
 * JSON.stringify, which omits or converts it.
 */
export function formatAccessLogLine(e: AccessLogEntry): string {
  if (!hasEntryShape(e)) return JSON.stringify(e);
  return (
    `{"start_time":${str(e.start_time)},"reporter":${str(e.reporter)}` +
    `,"method":${str(e.method)},"path":${str(e.path)},"protocol":${str(e.protocol)}` +
    `,"authority":${str(e.authority)},"response_code":${num(e.response_code)}` +
    `,"grpc_status":${str(e.grpc_status)},"response_flags":${str(e.response_flags)}` +
    `,"bytes_received":${num(e.bytes_received)},"bytes_sent":${num(e.bytes_sent)}` +
    `,"duration":${num(e.duration)},"upstream_host":${str(e.upstream_host)}` +
    `,"upstream_cluster":${str(e.upstream_cluster)},"route_name":${str(e.route_name)}` +
    `,"x_request_id":${str(e.x_request_id)},"trace_id":${str(e.trace_id)}` +
    `,"downstream_peer_uri_san":${str(e.downstream_peer_uri_san)}` +
    `,"upstream_peer_uri_san":${str(e.upstream_peer_uri_san)}}`
  );
}
