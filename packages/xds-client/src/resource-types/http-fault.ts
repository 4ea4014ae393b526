// Decodes the fault-injection filter config (envoy.extensions.filters.http.fault.v3.HTTPFault),
// used in HCM http_filters and in typed_per_filter_config. Spec: gRFC A33 (Fault Injection);
// envoy/extensions/filters/http/fault/v3/fault.proto.
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  durationMs,
  fractionPerMillion,
  int,
  join,
  message,
  messages,
  oneof,
  wrappedInt,
} from './decode-helpers.js';

/** A delay to inject: fixed, or read from the `x-envoy-fault-delay-request` header. */
export type FaultDelayUpdate =
  | { readonly kind: 'fixed'; readonly delayMs: number; readonly percentagePerMillion: number }
  | { readonly kind: 'header'; readonly percentagePerMillion: number };

/** An abort to inject: an HTTP status, a gRPC status, or one read from the fault headers. */
export type FaultAbortUpdate =
  | { readonly kind: 'http'; readonly httpStatus: number; readonly percentagePerMillion: number }
  | { readonly kind: 'grpc'; readonly grpcStatus: number; readonly percentagePerMillion: number }
  | { readonly kind: 'header'; readonly percentagePerMillion: number };

/**
 * A decoded HTTPFault. Percentages are integers per million (FractionalPercent converted
 * exactly); an unset percentage is 0, as in Envoy.
 */
export interface FaultUpdate {
  readonly delay: FaultDelayUpdate | undefined;
  readonly abort: FaultAbortUpdate | undefined;
  /** Cap on concurrently active faults; undefined = unlimited. */
  readonly maxActiveFaults: number | undefined;
}

/** Decodes an HTTPFault message found at `path`. */
export function decodeHttpFault(m: ProtoObject, path: string, issues: IssueCollector): FaultUpdate {
  for (const unsupported of ['headers', 'downstream_nodes']) {
    if (messages(m, unsupported).length > 0 || (m[unsupported] as unknown[] | undefined)?.length) {
      issues.add(join(path, unsupported), 'not supported');
    }
  }
  return {
    delay: decodeDelay(m, path, issues),
    abort: decodeAbort(m, path, issues),
    maxActiveFaults: wrappedInt(m, 'max_active_faults'),
  };
}

function decodeDelay(
  m: ProtoObject,
  parent: string,
  issues: IssueCollector,
): FaultDelayUpdate | undefined {
  const d = message(m, 'delay');
  if (d === undefined) return undefined;
  const path = join(parent, 'delay');
  const percentagePerMillion = fractionPerMillion(d, 'percentage', path, issues, 0);
  switch (oneof(d, 'fault_delay_secifier') ?? oneof(d, 'fault_delay_specifier')) {
    case 'fixed_delay':
      return {
        kind: 'fixed',
        delayMs: durationMs(d, 'fixed_delay', path, issues) ?? 0,
        percentagePerMillion,
      };
    case 'header_delay':
      return { kind: 'header', percentagePerMillion };
    case undefined:
    default:
      issues.add(path, 'one of fixed_delay or header_delay is required');
      return undefined;
  }
}

function decodeAbort(
  m: ProtoObject,
  parent: string,
  issues: IssueCollector,
): FaultAbortUpdate | undefined {
  const a = message(m, 'abort');
  if (a === undefined) return undefined;
  const path = join(parent, 'abort');
  const percentagePerMillion = fractionPerMillion(a, 'percentage', path, issues, 0);
  switch (oneof(a, 'error_type')) {
    case 'http_status': {
      const httpStatus = int(a, 'http_status');
      if (httpStatus < 200 || httpStatus >= 600) {
        issues.add(join(path, 'http_status'), 'must be in [200, 600)');
      }
      return { kind: 'http', httpStatus, percentagePerMillion };
    }
    case 'grpc_status':
      return { kind: 'grpc', grpcStatus: int(a, 'grpc_status'), percentagePerMillion };
    case 'header_abort':
      return { kind: 'header', percentagePerMillion };
    case undefined:
    default:
      issues.add(path, 'one of http_status, grpc_status or header_abort is required');
      return undefined;
  }
}
