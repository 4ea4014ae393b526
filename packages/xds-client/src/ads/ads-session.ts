// The contract between a server connection and the protocol it speaks (SotW or Delta xDS).
import type { Logger } from '../logger.js';
import type { XdsProtos } from '../protos/xds-protos.js';
import type { XdsAckEvent, XdsNackEvent, XdsNackedResource } from '../xds-client-events.js';
import type { XdsTransport } from '../xds-client-options.js';
import type { ResourceStore } from './resource-store.js';

/** What a session needs from its connection and client. */
export interface AdsSessionDeps {
  readonly store: ResourceStore;
  readonly protos: XdsProtos;
  readonly logger: Logger;
  readonly serverUri: string;
  /** gRFC A53: the server's `ignore_resource_deletion` feature. */
  readonly ignoreResourceDeletion: boolean;
  /** Writes a request on the current stream (the connection adds `node` to the first one). */
  readonly send: (request: Record<string, unknown>) => void;
  /** Called after a request of a type was written, so the client can arm does-not-exist timers. */
  readonly onRequestSent: (typeUrl: string) => void;
  readonly onAck: (event: XdsAckEvent) => void;
  readonly onNack: (event: XdsNackEvent) => void;
}

/** Protocol state of one server; survives reconnects to that server where the protocol says so. */
export interface AdsSession {
  readonly transport: XdsTransport;
  /** The ADS method this session speaks. */
  readonly methodName: 'StreamAggregatedResources' | 'DeltaAggregatedResources';
  /** A new stream started: forget per-stream state and send the full subscription. */
  streamStarted(): void;
  /** The stream ended: nothing may be sent until the next `streamStarted()`. */
  streamEnded(): void;
  /** The subscription of a type changed: tell the server. */
  subscriptionChanged(typeUrl: string): void;
  /** Applies a response and ACKs or NACKs it. */
  handleResponse(message: unknown): void;
  /** Version and nonce of a type on this server, for status(). */
  typeStatus(typeUrl: string): { version: string; nonce: string };
}

/** google.rpc.Code INVALID_ARGUMENT, the code of every NACK's error_detail. */
export const INVALID_ARGUMENT_CODE = 3;

/** `resource index N (name): issue` per rejected resource, joined with '; ' (STYLE rule 24). */
export function formatNackMessage(rejected: readonly XdsNackedResource[]): string {
  return rejected
    .map((r) =>
      r.name === undefined
        ? `resource index ${r.index}: ${r.message}`
        : `resource index ${r.index} (${r.name}): ${r.message}`,
    )
    .join('; ');
}
