// A real gRPC ADS server on loopback whose every move the test scripts: it records requests and
// sends the responses the test builds (both StreamAggregatedResources and DeltaAggregatedResources).
import { Server, ServerCredentials, status as grpcStatus } from '@grpc/grpc-js';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { loadXdsProtos } from '../../src/protos/xds-protos.js';

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const DEFAULT_WAIT_MS = 8000;

/** A DiscoveryRequest or DeltaDiscoveryRequest as the server decoded it (snake_case, loose). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded protobuf objects are untyped here
export type AdsRequest = Record<string, any>;

/** One request and the stream it came on. */
export interface RecordedRequest {
  readonly stream: ScriptedStream;
  readonly request: AdsRequest;
}

type AnyCall = ServerDuplexStream<AdsRequest, Record<string, unknown>>;

/** One client stream, as seen by the server. */
export class ScriptedStream {
  /** Every request received on this stream, in order. */
  readonly requests: AdsRequest[] = [];
  private ended = false;
  private readonly endWaiters: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly kind: 'sotw' | 'delta',
    private readonly call: AnyCall,
  ) {
    const done = (): void => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    };
    call.on('end', done);
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  }

  /** Whether the stream is over. */
  get closed(): boolean {
    return this.ended;
  }

  /** Sends a DiscoveryResponse / DeltaDiscoveryResponse (snake_case plain object). */
  send(response: Record<string, unknown>): void {
    this.call.write(response);
  }

  /** Ends the stream with an error status (default UNAVAILABLE). */
  kill(code: number = grpcStatus.UNAVAILABLE, details = 'killed by test'): void {
    this.call.emit('error', { code, details });
  }

  /** Resolves when the client or the server ended the stream. */
  async waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.ended) return;
    await withTimeout(
      new Promise<void>((resolve) => this.endWaiters.push(resolve)),
      timeoutMs,
      `stream ${this.id} to close`,
    );
  }
}

interface Waiter {
  readonly typeUrl: string | undefined;
  readonly resolve: (r: RecordedRequest) => void;
}

/** The scripted server. `start()` binds 127.0.0.1 (port 0 = any); `stop()`/`restart()` keep the port. */
export class ScriptedAdsServer {
  /** Every request received, across streams and restarts. */
  readonly requests: RecordedRequest[] = [];
  /** Every stream opened, across restarts. */
  readonly streams: ScriptedStream[] = [];
  private readonly unread: RecordedRequest[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly streamWaiters: ((s: ScriptedStream) => void)[] = [];
  private unclaimedStreams: ScriptedStream[] = [];
  private server: Server | undefined;
  private boundPort = 0;

  private constructor() {}

  static async start(port = 0): Promise<ScriptedAdsServer> {
    const s = new ScriptedAdsServer();
    await s.listen(port);
    return s;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `127.0.0.1:PORT`, a bootstrap server_uri. */
  get address(): string {
    return `127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  private async listen(port: number): Promise<void> {
    const server = new Server();
    const protos = loadXdsProtos();
    server.addService(protos.service(ADS_SERVICE), {
      StreamAggregatedResources: (call: AnyCall) => {
        this.onStream('sotw', call);
      },
      DeltaAggregatedResources: (call: AnyCall) => {
        this.onStream('delta', call);
      },
    });
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(err);
        else resolve(bound);
      });
    });
    this.server = server;
  }

  private onStream(kind: 'sotw' | 'delta', call: AnyCall): void {
    const stream = new ScriptedStream(this.streams.length, kind, call);
    this.streams.push(stream);
    const streamWaiter = this.streamWaiters.shift();
    if (streamWaiter) streamWaiter(stream);
    else this.unclaimedStreams.push(stream);
    call.on('data', (request: AdsRequest) => {
      stream.requests.push(request);
      const recorded = { stream, request };
      this.requests.push(recorded);
      const i = this.waiters.findIndex(
        (w) => w.typeUrl === undefined || w.typeUrl === request['type_url'],
      );
      if (i >= 0) {
        const [waiter] = this.waiters.splice(i, 1);
        waiter!.resolve(recorded);
      } else this.unread.push(recorded);
    });
    call.on('error', () => undefined);
  }

  /** The next request not yet returned by nextRequest (optionally of one type), waiting if needed. */
  async nextRequest(typeUrl?: string, timeoutMs = DEFAULT_WAIT_MS): Promise<RecordedRequest> {
    const i = this.unread.findIndex(
      (r) => typeUrl === undefined || r.request['type_url'] === typeUrl,
    );
    if (i >= 0) return this.unread.splice(i, 1)[0]!;
    let waiter: Waiter | undefined;
    const promise = new Promise<RecordedRequest>((resolve) => {
      waiter = { typeUrl, resolve };
      this.waiters.push(waiter);
    });
    try {
      return await withTimeout(promise, timeoutMs, `a request${typeUrl ? ` of ${typeUrl}` : ''}`);
    } catch (err) {
      const at = this.waiters.indexOf(waiter!);
      if (at >= 0) this.waiters.splice(at, 1);
      throw err;
    }
  }

  /** Requests received but not yet returned by nextRequest. */
  pendingRequests(): readonly RecordedRequest[] {
    return [...this.unread];
  }

  /** The next stream opened that no one waited for yet. */
  async nextStream(timeoutMs = DEFAULT_WAIT_MS): Promise<ScriptedStream> {
    const s = this.unclaimedStreams.shift();
    if (s) return s;
    return withTimeout(
      new Promise<ScriptedStream>((resolve) => this.streamWaiters.push(resolve)),
      timeoutMs,
      'a stream',
    );
  }

  /** Stops listening and kills every stream (the port is kept for restart()). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.forceShutdown();
    await Promise.resolve();
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (this.server !== undefined) return;
    await this.listen(this.boundPort);
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop();
  }
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms}ms waiting for ${what}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
