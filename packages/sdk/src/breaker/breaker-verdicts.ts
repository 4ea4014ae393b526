// What the end of a request tells its cluster's service-level breaker, for HTTP and gRPC. Issue 4,
// "Service-level breaker with fallback": a failure is the request's final outcome after retries.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { HttpRequestOutcome } from '../http/http-request-event.js';
import type { BreakerVerdict } from './cluster-breaker.js';

/**
 * HTTP: a 5xx response, a timeout, a reset, a connect failure (every endpoint), no healthy
 * upstream or a circuit-breaker overflow (UO) is a failure of the service; any other response is a success; a cancelled request, a
 * closed mesh or a request the mesh refused before sending (no route) says nothing.
 */
export function breakerVerdictOfHttp(outcome: HttpRequestOutcome): BreakerVerdict {
  switch (outcome) {
    case 'success':
      return 'success';
    case 'server-error':
    case 'timeout':
    case 'reset':
    case 'connect-failure':
    case 'no-healthy-upstream':
    case 'overflow': // the cluster is saturated: a fallback is what the caller wants then
      return 'failure';
    case 'no-route':
    case 'cancelled':
    case 'breaker-open':
    case 'rate-limited': // the mesh's own local limit answered: nothing about the service
    case 'fault-abort': // injected by the mesh's fault filter: nothing about the service
    case 'error':
      return 'ignore';
  }
}

/**
 * gRPC status codes that count as a failure of the service: the ones a sick or overloaded server
 * (or the mesh failing to reach it) ends a call with. Every other code is an answer of the
 * application (success for the breaker), except CANCELLED (the caller's choice: ignored).
 */
export const GRPC_BREAKER_FAILURE_CODES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.DATA_LOSS,
]);

/** gRPC: see GRPC_BREAKER_FAILURE_CODES. */
export function breakerVerdictOfGrpc(code: GrpcStatus): BreakerVerdict {
  if (code === GrpcStatus.OK) return 'success';
  if (code === GrpcStatus.CANCELLED) return 'ignore';
  return GRPC_BREAKER_FAILURE_CODES.has(code) ? 'failure' : 'success';
}
