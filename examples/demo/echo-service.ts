// A tiny gRPC service defined without a .proto file (JSON-serialized messages), used as the
// backend in interop tests and the demo: each server answers with its own name.
import { Server, ServerCredentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import type { ServiceDefinition, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';

/** Request of Echo/Call. */
export interface EchoRequest {
  readonly message: string;
}
/** Response of Echo/Call: which backend answered. */
export interface EchoResponse {
  readonly backend: string;
  readonly message: string;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};

/** The service definition: one unary method `/weft.test.Echo/Call`. */
export const ECHO_SERVICE: ServiceDefinition = {
  Call: {
    path: '/weft.test.Echo/Call',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

/** A grpc-js client class for the echo service. */
export const EchoClient = makeGenericClientConstructor(ECHO_SERVICE, 'weft.test.Echo');

/** A running echo backend on 127.0.0.1. */
export interface EchoBackend {
  readonly name: string;
  readonly port: number;
  calls: number;
  close(): Promise<void>;
}

/** Starts an echo backend named `name` on 127.0.0.1 (port 0 = ephemeral). */
export async function startEchoBackend(name: string, port = 0): Promise<EchoBackend> {
  const server = new Server();
  const backend: EchoBackend = {
    name,
    port: 0,
    calls: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
  server.addService(ECHO_SERVICE, {
    Call: (
      call: ServerUnaryCall<EchoRequest, EchoResponse>,
      callback: sendUnaryData<EchoResponse>,
    ) => {
      backend.calls++;
      callback(null, { backend: name, message: call.request.message });
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  return Object.assign(backend, { port: bound });
}
