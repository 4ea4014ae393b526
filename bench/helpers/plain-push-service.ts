// The raw-bytes bidi service of the plain grpc-js baseline (no protobuf: messages are Buffers).
import type { ServiceDefinition } from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

/** One bidi method, `/bench.PlainPush/Stream`, whose messages are passed through as bytes. */
export const PLAIN_PUSH_SERVICE: ServiceDefinition = {
  stream: {
    path: '/bench.PlainPush/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
