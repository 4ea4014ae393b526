// mesh.grpcFallback(): a grpc-js client interceptor that answers a call from the caller's fallback
// when the cluster's service-level breaker rejected it or counted its failure. Issue 4,
// "Service-level breaker with fallback"; grpc-js interceptors: gRFC L5 (Node client interceptors).
// https://github.com/grpc/proposal/blob/master/L5-node-client-interceptors.md
import {
  InterceptingCall,
  status as GrpcStatus,
  type Interceptor,
  type StatusObject,
} from '@grpc/grpc-js';
import { WeftError } from '@weft/xds-client';
import type { Logger } from '@weft/xds-client';
import type { ServiceBreakers } from './service-breakers.js';

/**
 * Trailer the mesh adds to a call's status when the cluster's breaker rejected the call (`open`)
 * or counted its status as a failure (`failure`). Only on mesh channels with the breaker on.
 */
export const GRPC_BREAKER_KEY = 'weft-breaker' as const;
/** Trailer beside GRPC_BREAKER_KEY naming the cluster. */
export const GRPC_BREAKER_CLUSTER_KEY = 'weft-breaker-cluster' as const;

/**
 * Answers a failed call: returns (or resolves to) the response message the caller gets instead
 * of the error. `status` is the call's failure (its metadata carries GRPC_BREAKER_KEY: `open` or
 * `failure`); `method` is `/pkg.Service/Method`. A throw or rejection lets the original status through.
 */
export type GrpcFallback = (status: StatusObject, method: string) => unknown;

/** The interceptor behind `mesh.grpcFallback()`. Throws WEFT_INVALID_CONFIG when `fallback` is not a function. */
export function createGrpcFallbackInterceptor(
  fallback: GrpcFallback,
  breakers: ServiceBreakers | undefined,
  logger: Logger,
): Interceptor {
  if (typeof fallback !== 'function') {
    throw new WeftError('WEFT_INVALID_CONFIG', 'mesh.grpcFallback: expected a function');
  }
  return function weftGrpcFallback(options, nextCall) {
    const method = options.method_definition.path;
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            const cluster =
              status.code === GrpcStatus.OK
                ? undefined
                : status.metadata.get(GRPC_BREAKER_CLUSTER_KEY)[0];
            if (cluster === undefined) {
              nextStatus(status);
              return;
            }
            const clusterName = String(cluster);
            const passOn = (err: unknown): void => {
              logger.warn('mesh breaker: the gRPC fallback failed; the call keeps its status', {
                cluster: clusterName,
                method,
                error: err instanceof Error ? err.message : String(err),
              });
              nextStatus(status);
            };
            let answer: unknown;
            try {
              answer = fallback(status, method);
            } catch (err) {
              passOn(err);
              return;
            }
            Promise.resolve(answer).then((message) => {
              breakers?.of(clusterName)?.fellBack();
              listener.onReceiveMessage(message);
              nextStatus({
                code: GrpcStatus.OK,
                details: `weft: answered by the fallback (${status.details})`,
                metadata: status.metadata,
              });
            }, passOn);
          },
        });
      },
    });
  };
}
