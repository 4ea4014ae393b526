// A raw ADS bidi stream for tests: send requests, await responses one at a time, in order.
import { credentials, type ClientDuplexStream, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadXdsProtos } from '@weft/xds-client';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export const WEFT_NODE = {
  id: 'node-weft-1',
  user_agent_name: 'weft-xds-client',
  locality: { zone: 'z1' },
};
export const GRPC_NODE = { id: 'node-grpc-1', user_agent_name: 'gRPC Node Pure JS', locality: {} };

/** A proto-loader message: snake_case fields, loosely typed on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw wire objects in tests
export type Message = Record<string, any>;

/** One raw stream (SotW or Delta) with an in-order queue of what the server wrote. */
export class AdsProbe {
  readonly received: Message[] = [];
  readonly #client: InstanceType<ServiceClientConstructor>;
  readonly #call: ClientDuplexStream<Message, Message>;
  #waiters: ((m: Message) => void)[] = [];
  #error: Error | undefined;

  constructor(port: number, mode: 'sotw' | 'delta' = 'sotw') {
    const Ctor = loadXdsProtos().serviceClient(ADS_SERVICE);
    this.#client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
    this.#call =
      mode === 'sotw'
        ? this.#client.StreamAggregatedResources!()
        : this.#client.DeltaAggregatedResources!();
    this.#call.on('data', (m: Message) => {
      const w = this.#waiters.shift();
      if (w !== undefined) w(m);
      else this.received.push(m);
    });
    this.#call.on('error', (err: Error) => {
      this.#error = err;
    });
  }

  send(request: Message): void {
    this.#call.write(request);
  }

  /** The next response not yet consumed; rejects after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Message> {
    const queued = this.received.shift();
    if (queued !== undefined) return queued;
    if (this.#error !== undefined) throw this.#error;
    return await new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no ADS response within ${timeoutMs}ms`));
      }, timeoutMs);
      const waiter = (m: Message): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a request and returns the next response. */
  async request(request: Message): Promise<Message> {
    this.send(request);
    return await this.next();
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** Resource names in a SotW response (decodes each Any's `name` or `cluster_name`). */
export function namesOf(response: Message): string[] {
  const protos = loadXdsProtos();
  return ((response.resources ?? []) as Message[]).map((any) => {
    const r = any.resource ?? any; // Delta wraps in Resource
    const decoded = protos.decodeAny(r);
    return String(decoded.name ?? decoded.cluster_name);
  });
}

/** Delta resource names (`Resource.name`). */
export function deltaNamesOf(response: Message): string[] {
  return ((response.resources ?? []) as Message[]).map((r) => String(r.name));
}

/** Decodes the resources of a response. */
export function decodeAll(response: Message): Message[] {
  const protos = loadXdsProtos();
  return ((response.resources ?? []) as Message[]).map((any) =>
    protos.decodeAny(any.resource ?? any),
  );
}
