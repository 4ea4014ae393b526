// Translations between gRPC status codes and the mesh's vocabulary: what a finished attempt
// tells the core (AttemptOutcome), and which status a WeftError fails a call with (gRFC A28:
// a call without a matching route fails UNAVAILABLE).
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { WeftErrorCode } from '@weft/xds-client';
import type { AttemptOutcome } from '../runtime/mesh-runtime.js';

/** The outcome an attempt that ended with `code` reports to its lease. */
export function outcomeOfGrpcStatus(code: GrpcStatus): AttemptOutcome {
  if (code === GrpcStatus.UNAVAILABLE) return 'server-error';
  if (code === GrpcStatus.DEADLINE_EXCEEDED) return 'timeout';
  // Any other status is an answer from the application, not a sign of an unhealthy host.
  return 'success';
}

/** The status a call fails with when the mesh refuses it with `code`. */
export function grpcStatusOfWeftCode(code: WeftErrorCode): GrpcStatus {
  switch (code) {
    case 'WEFT_RBAC_DENIED':
      return GrpcStatus.PERMISSION_DENIED;
    case 'WEFT_TIMEOUT':
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 'WEFT_RATE_LIMITED':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'WEFT_INVALID_CONFIG':
    case 'WEFT_INVALID_RESOURCE':
    case 'WEFT_BOOTSTRAP':
    case 'WEFT_UNSUPPORTED':
    case 'WEFT_INTERNAL':
      return GrpcStatus.INTERNAL;
    // gRFC A28: no route is UNAVAILABLE; the rest are "try elsewhere or later".
    case 'WEFT_NO_ROUTE':
    case 'WEFT_NO_HEALTHY_UPSTREAM':
    case 'WEFT_FAULT_ABORT': // a fault abort carries its own status; this is only the fallback
    case 'WEFT_OVERFLOW':
    case 'WEFT_BREAKER_OPEN':
    case 'WEFT_CONNECT_FAILURE':
    case 'WEFT_TLS_NO_CERTIFICATE':
    case 'WEFT_UPSTREAM_RESET':
    case 'WEFT_RETRIES_EXHAUSTED':
    case 'WEFT_RESOURCE_DOES_NOT_EXIST':
    case 'WEFT_XDS_STREAM':
    case 'WEFT_CLOSED':
    case 'WEFT_DESTROYED':
      return GrpcStatus.UNAVAILABLE;
  }
}
