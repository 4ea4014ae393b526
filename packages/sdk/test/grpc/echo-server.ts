// Real grpc-js echo servers on 127.0.0.1 for the gRPC integration tests (no .proto: JSON).
import { status } from '@grpc/grpc-js';
import {
  Server,
  ServerCredentials,
  makeGenericClientConstructor,
  type ServiceDefinition,
  type ServerUnaryCall,
  type sendUnaryData,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};

const SERVICE: ServiceDefinition = {
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

export const TestEchoClient = makeGenericClientConstructor(SERVICE, 'weft.test.Echo');

export interface TestEchoServer {
  readonly name: string;
  readonly port: number;
  calls: number;
  /** Delay before answering, ms. */
  delayMs: number;
  /** When set, answer with this status instead. */
  failWith: status | undefined;
  /** Answer this many next calls with `failNextWith`, then as `failWith` says. */
  failNext: number;
  failNextWith: status;
  /** While true, calls are held unanswered until `release()`. */
  hold: boolean;
  /** Calls held now. */
  readonly held: (() => void)[];
  /** Stops holding and answers every held call. */
  release(): void;
  close(): Promise<void>;
}

export async function startTestEchoServer(name: string): Promise<TestEchoServer> {
  const server = new Server();
  const state: TestEchoServer = {
    name,
    port: 0,
    calls: 0,
    delayMs: 0,
    failWith: undefined,
    failNext: 0,
    failNextWith: status.UNAVAILABLE,
    hold: false,
    held: [],
    release: () => {
      state.hold = false;
      for (const answer of state.held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  server.addService(SERVICE, {
    Call: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      state.calls += 1;
      const answer = (): void => {
        let failWith = state.failWith;
        if (state.failNext > 0) {
          state.failNext -= 1;
          failWith = state.failNextWith;
        }
        if (failWith !== undefined) {
          callback({ code: failWith, details: `${name} failing` });
        } else callback(null, { backend: name });
      };
      if (state.hold) state.held.push(answer);
      else if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  return Object.assign(state, { port });
}

/** One unary call; resolves to the answering backend's name or the error code. */
export function callEcho(
  client: InstanceType<typeof TestEchoClient>,
  options: { metadata?: Metadata; deadlineMs?: number } = {},
): Promise<{ backend?: string; code?: number; details?: string }> {
  return new Promise((resolve) => {
    const args: unknown[] = [{ message: 'hi' }];
    if (options.metadata) args.push(options.metadata);
    args.push({ deadline: Date.now() + (options.deadlineMs ?? 5000) });
    args.push((err: ServiceError | null, res?: { backend: string }) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ backend: res!.backend });
    });
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!(...args);
  });
}
