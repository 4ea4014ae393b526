// gRPC spans: the client span of a call (ConfigSelector → trailers) and its attempts (picker →
// onCallEnded), trace metadata on the call, and a grpc-js server interceptor that makes a server
// span per inbound call and runs its handler in the call's scope.
import { randomUUID } from 'node:crypto';
import { ServerInterceptingCall, status as GrpcStatus } from '@grpc/grpc-js';
import type {
  Metadata,
  ServerInterceptingCallInterface,
  ServerInterceptor,
  ServerMethodDefinition,
} from '@grpc/grpc-js';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { UpstreamEndpoint } from '../runtime/mesh-runtime.js';
import { REQUEST_ID_HEADER } from './mesh-tracing.js';
import { traceFormatsOf } from './trace-propagation.js';
import type { MeshTracing } from './mesh-tracing.js';

/** Ends a gRPC span with its status code (any non-OK code marks it as an error). */
export function endGrpcSpan(
  span: Span,
  code: GrpcStatus,
  details: string,
  responseFlag: string | undefined,
): void {
  // A sampled-out span records nothing: no attributes or status to set.
  if (!span.isRecording()) {
    span.end();
    return;
  }
  span.setAttribute('rpc.grpc.status_code', code);
  if (responseFlag !== undefined) span.setAttribute('weft.response_flags', responseFlag);
  if (code !== GrpcStatus.OK) {
    span.setAttribute('error.type', GrpcStatus[code]);
    span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  }
  span.end();
}

/** The call's attempt span on `endpoint` (child of the call's client span). */
export function startGrpcAttemptSpan(
  tracing: MeshTracing,
  tracer: Tracer,
  call: Span,
  method: string,
  attempt: number,
  endpoint: UpstreamEndpoint,
): Span {
  const [, service = '', rpcMethod = ''] = method.split('/');
  return tracing.startAttemptSpan(tracer, call, `${service}/${rpcMethod}`, attempt, endpoint);
}

/**
 * Adds the call's trace headers (tracing on) and x-request-id (when absent: the inbound
 * request's, else a new one) to its metadata.
 */
export function withGrpcTraceMetadata(
  tracing: MeshTracing,
  span: Span | undefined,
  metadata: Metadata,
): Metadata {
  if (metadata.get(REQUEST_ID_HEADER).length === 0) {
    metadata.set(REQUEST_ID_HEADER, tracing.requestId());
  }
  if (span === undefined) return metadata;
  const pairs = tracing.headersOf(span);
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    metadata.set(pairs[i] as string, pairs[i + 1] as string);
  }
  return metadata;
}

/** `metadata`'s first string values by key, for the propagator. */
function carrierOf(metadata: Metadata): Record<string, string> {
  const carrier: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') carrier[key] = value;
  }
  return carrier;
}

/**
 * A grpc-js server interceptor (`new Server({ interceptors: [mesh.grpcServerInterceptor()] })`):
 * x-request-id (kept or generated), and with tracing on a server span per call from the W3C / B3
 * metadata, ended with the call's status. The handler's messages and half-close run in the
 * call's scope, so calls it makes through the mesh are children of the server span.
 */
export function createGrpcServerInterceptor(tracing: MeshTracing): ServerInterceptor {
  return function weftServerInterceptor(
    methodDescriptor: ServerMethodDefinition<unknown, unknown>,
    call: ServerInterceptingCallInterface,
  ): ServerInterceptingCall {
    let requestId = '';
    let context: Context | undefined;
    let span: Span | undefined;
    let formats = 0;
    const inScope = (fn: () => void): void => {
      tracing.runInbound(requestId, context, formats, fn);
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const given = metadata.get(REQUEST_ID_HEADER)[0];
            requestId = typeof given === 'string' && given !== '' ? given : randomUUID();
            if (given === undefined) metadata.set(REQUEST_ID_HEADER, requestId);
            const tracer = tracing.tracer;
            if (tracer !== undefined) {
              const carrier = carrierOf(metadata);
              formats = traceFormatsOf(carrier);
              const parent = tracing.extract(carrier);
              const [, service = '', rpcMethod = ''] = methodDescriptor.path.split('/');
              span = tracing.startServerSpan(
                tracer,
                `${service}/${rpcMethod}`,
                { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': rpcMethod },
                parent,
              );
              context = trace.setSpan(parent, span);
            }
            inScope(() => {
              nextMetadata(metadata);
            });
          },
          onReceiveMessage: (message, nextMessage) => {
            inScope(() => {
              nextMessage(message);
            });
          },
          onReceiveHalfClose: (nextHalfClose) => {
            inScope(nextHalfClose);
          },
          onCancel: () => {
            const s = span;
            span = undefined;
            if (s !== undefined) endGrpcSpan(s, GrpcStatus.CANCELLED, 'cancelled', undefined);
          },
        });
      },
      sendStatus: (status, nextStatus) => {
        const s = span;
        span = undefined;
        if (s !== undefined) {
          endGrpcSpan(s, status.code, status.details, undefined);
        }
        nextStatus(status);
      },
    });
  };
}
