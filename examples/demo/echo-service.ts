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
  /** Calls by the caller's identity: its certificate's URI SAN, or `plaintext`. */
  readonly peers: Map<string, number>;
  close(): Promise<void>;
}

/** The URI SAN of the caller's certificate, or `plaintext` / `no-certificate`. */
function peerIdentity(call: ServerUnaryCall<EchoRequest, EchoResponse>): string {
  const auth = call.getAuthContext();
  if (auth.transportSecurityType !== 'ssl') return 'plaintext';
  const san = auth.sslPeerCertificate?.subjectaltname;
  if (san === undefined) return 'no-certificate';
  return (
    san
      .split(', ')
      .find((s) => s.startsWith('URI:'))
      ?.slice(4) ?? san
  );
}

/**
 * Starts an echo backend named `name` on 127.0.0.1 (port 0 = ephemeral), plaintext unless
 * `credentials` are given (e.g. a mesh's mTLS server credentials).
 */
export async function startEchoBackend(
  name: string,
  port = 0,
  credentials: ServerCredentials = ServerCredentials.createInsecure(),
): Promise<EchoBackend> {
  const server = new Server();
  const backend: EchoBackend = {
    name,
    port: 0,
    calls: 0,
    peers: new Map(),
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
      const peer = peerIdentity(call);
      backend.peers.set(peer, (backend.peers.get(peer) ?? 0) + 1);
      callback(null, { backend: name, message: call.request.message });
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  return Object.assign(backend, { port: bound });
}
