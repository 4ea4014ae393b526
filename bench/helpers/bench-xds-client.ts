// An xds-client that watches what an SDK client of one service would (LDS → RDS → CDS → EDS),
// timestamps its initial config and the ACK of an awaited edit, and estimates the bytes it got.
import { performance } from 'node:perf_hooks';
import {
  createDefaultResourceTypes,
  parseBootstrap,
  ROUTE_CONFIGURATION_TYPE_URL,
  XdsClient,
  type AnyMessage,
  type RouteConfigurationUpdate,
  type XdsTransport,
} from '@weft/xds-client';
import { SERVICE_PORT } from './mesh-config.js';

// Protobuf sizes, for the client-side estimate of bytes pushed.

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len += 1;
  }
  return len;
}

/** Encoded size of a length-delimited field with a one-byte tag (field numbers < 16); 0 when empty. */
function fieldLength(byteLength: number): number {
  return byteLength === 0 ? 0 : 1 + varintLength(byteLength) + byteLength;
}

function anyLength(any: AnyMessage): number {
  return fieldLength(Buffer.byteLength(any.type_url)) + fieldLength(any.value.byteLength);
}

/** Names a client of `host` watches, by type: what an SDK client calling it would follow. */
function watchedNames(host: string): Record<'lds' | 'rds' | 'cds' | 'eds', string[]> {
  const clusters = ['v1', 'v2', ''].map((subset) => `outbound|${SERVICE_PORT}|${subset}|${host}`);
  return { lds: [host], rds: [`${host}:${SERVICE_PORT}`], cds: clusters, eds: clusters };
}

function v1WeightOf(route: RouteConfigurationUpdate): number | undefined {
  const action = route.virtualHosts[0]?.routes[0]?.action;
  return action?.clusters.find((c) => c.name.includes('|v1|'))?.weight;
}

/** Options of {@link BenchClient}. */
export interface BenchClientOptions {
  /** Becomes node id `bench-INDEX`. */
  readonly index: number;
  readonly xdsPort: number;
  readonly transport: XdsTransport;
  /** The service this client consumes. */
  readonly host: string;
  /** Called when the client got its initial config or ACKed the awaited edit. */
  readonly onProgress: () => void;
}

interface AckRecord {
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
}

/** One XdsClient with the watches of an SDK client of `host`, and what it saw, with times. */
export class BenchClient {
  readonly client: XdsClient;
  readonly #expectedValues: number;
  #values = 0;
  initialAtMs: number | undefined;
  /** v1 weight the current edit should bring, and when this client saw and ACKed it. */
  expectWeight: number | undefined;
  sawAtMs: number | undefined;
  ackedAtMs: number | undefined;
  /** Client-side estimate of response bytes received (DiscoveryResponse encoding, no framing). */
  bytesReceived = 0;
  acks = 0;
  readonly #lastVersions = new Map<string, string>();

  readonly transport: XdsTransport;
  readonly #onProgress: () => void;
  /** ACKs not yet counted into bytesReceived (counting reads status(), kept out of timed paths). */
  readonly #pendingAcks: AckRecord[] = [];

  constructor(options: BenchClientOptions) {
    const { index, xdsPort, transport, host } = options;
    this.transport = transport;
    this.#onProgress = options.onProgress;
    const bootstrap = parseBootstrap(
      {
        xds_servers: [
          {
            server_uri: `127.0.0.1:${xdsPort}`,
            channel_creds: [{ type: 'insecure' }],
            server_features: transport === 'delta' ? ['xds_v3', 'weft_delta'] : ['xds_v3'],
          },
        ],
        node: { id: `bench-${index}`, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      },
      'bench',
    );
    const types = createDefaultResourceTypes();
    const [cds, eds, lds, rds] = types;
    this.client = new XdsClient({ bootstrap, resourceTypes: types });
    const names = watchedNames(host);
    this.#expectedValues =
      names.lds.length + names.rds.length + names.cds.length + names.eds.length;
    const ignore = (): void => undefined;
    const counting = {
      onChanged: () => this.#onValue(),
      onResourceError: ignore,
      onAmbientError: ignore,
    };
    for (const n of names.lds) this.client.watch(lds, n, counting);
    for (const n of names.cds) this.client.watch(cds, n, counting);
    for (const n of names.eds) this.client.watch(eds, n, counting);
    for (const n of names.rds) {
      this.client.watch(rds, n, {
        onChanged: (route) => {
          this.#onValue();
          if (this.expectWeight !== undefined && v1WeightOf(route) === this.expectWeight)
            this.sawAtMs ??= performance.now();
        },
        onResourceError: ignore,
        onAmbientError: ignore,
      });
    }
    this.client.on('ack', (event) => {
      const now = performance.now();
      this.acks += 1;
      this.#pendingAcks.push({
        typeUrl: event.typeUrl,
        version: event.version,
        nonce: event.nonce,
      });
      if (
        event.typeUrl === ROUTE_CONFIGURATION_TYPE_URL &&
        this.sawAtMs !== undefined &&
        this.ackedAtMs === undefined
      ) {
        this.ackedAtMs = now;
        this.#onProgress();
      }
    });
  }

  /**
   * Adds the ACKs since the last call into `bytesReceived`. Call when the clients are quiet: the
   * sizes are rebuilt from what the client holds now, so a resource that changed twice in between
   * is counted once.
   */
  countBytes(): void {
    for (const ack of this.#pendingAcks.splice(0))
      this.bytesReceived += this.#responseBytes(ack.typeUrl, ack.version, ack.nonce);
  }

  /** Starts watching for the next edit. */
  expect(weight: number): void {
    this.expectWeight = weight;
    this.sawAtMs = undefined;
    this.ackedAtMs = undefined;
  }

  #onValue(): void {
    this.#values += 1;
    if (this.initialAtMs === undefined && this.#values >= this.#expectedValues) {
      this.initialAtMs = performance.now();
      this.#onProgress();
    }
  }

  /**
   * Size of the response just ACKed, rebuilt from what the client holds: SotW resends every
   * subscribed resource of the type; Delta sends those whose version changed.
   */
  #responseBytes(typeUrl: string, version: string, nonce: string): number {
    const status = this.client.status().types[typeUrl];
    if (status === undefined) return 0;
    let body = fieldLength(Buffer.byteLength(version)) + fieldLength(Buffer.byteLength(typeUrl));
    body += fieldLength(Buffer.byteLength(nonce));
    for (const [name, r] of Object.entries(status.resources)) {
      if (r.raw === undefined) continue;
      const key = `${typeUrl} ${name}`;
      if (this.transport === 'sotw') {
        body += fieldLength(anyLength(r.raw));
      } else if (this.#lastVersions.get(key) !== r.version) {
        const resource =
          fieldLength(Buffer.byteLength(name)) +
          fieldLength(Buffer.byteLength(r.version)) +
          fieldLength(anyLength(r.raw));
        body += fieldLength(resource);
      }
      this.#lastVersions.set(key, r.version);
    }
    return body;
  }
}
