// The response the mesh answers a fault-aborted HTTP request with, as Envoy's fault filter does
// (a local reply with body `fault filter abort`). Spec: envoy/extensions/filters/http/fault/v3.
import { STATUS_CODES } from 'node:http';
import type { FaultAbort } from '../filters/fault.js';

/** A response made by the mesh, in undici's raw-header shape. */
export interface FaultAbortResponse {
  readonly statusCode: number;
  readonly statusText: string;
  readonly rawHeaders: Buffer[];
  readonly body: Buffer;
}

const BODY = Buffer.from('fault filter abort');
/** The status a gRPC abort gives a plain (non-gRPC) HTTP request. */
const GRPC_ABORT_PLAIN_HTTP_STATUS = 503;

function raw(pairs: readonly (readonly [string, string])[]): Buffer[] {
  return pairs.flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
}

/**
 * The response for `abort` given the request's content type: an `http` abort is that status
 * with the text body; a `grpc` abort is a trailers-only gRPC response (200, `grpc-status`) for a
 * gRPC request, and 503 with `grpc-status` for any other request.
 */
export function faultAbortResponse(
  abort: FaultAbort,
  contentType: string | undefined,
): FaultAbortResponse {
  if (abort.kind === 'grpc') {
    const isGrpc = contentType?.toLowerCase().startsWith('application/grpc') === true;
    const statusCode = isGrpc ? 200 : GRPC_ABORT_PLAIN_HTTP_STATUS;
    return {
      statusCode,
      statusText: STATUS_CODES[statusCode] ?? '',
      rawHeaders: raw([
        ['content-type', isGrpc ? 'application/grpc' : 'text/plain'],
        ['grpc-status', String(abort.grpcStatus)],
        ['grpc-message', 'fault filter abort'],
        ['content-length', isGrpc ? '0' : String(BODY.length)],
      ]),
      body: isGrpc ? Buffer.alloc(0) : BODY,
    };
  }
  return {
    statusCode: abort.httpStatus,
    statusText: STATUS_CODES[abort.httpStatus] ?? '',
    rawHeaders: raw([
      ['content-type', 'text/plain'],
      ['content-length', String(BODY.length)],
    ]),
    body: BODY,
  };
}
