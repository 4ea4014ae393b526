// Per-stream client state the server exposes (admin API `/clients`, `weft status`) and the
// events it emits. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-and-nack-semantics-summary
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  SECRET_TYPE_URL,
  type AdsTypeUrl,
  type AnyMessage,
} from '@weft/xds-client';
import type { ClientKind, ClientLocality } from '../contracts.js';

/** Short names of the ADS types, used as keys in {@link ClientStatus.types} and in logs. */
export const TYPE_SHORT_NAMES: Readonly<Record<AdsTypeUrl, string>> = Object.freeze({
  [CLUSTER_TYPE_URL]: 'cds',
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL]: 'eds',
  [LISTENER_TYPE_URL]: 'lds',
  [ROUTE_CONFIGURATION_TYPE_URL]: 'rds',
  [SECRET_TYPE_URL]: 'sds',
});

/** A NACK as the server recorded it. */
export interface NackRecord {
  /** Version of the rejected response (what the server sent with `nonce`). */
  readonly version: string;
  /** `version_info` of the NACK: what the client still holds (SotW; always '' in Delta). */
  readonly acceptedVersion: string;
  /** Nonce of the rejected response. */
  readonly nonce: string;
  /** `error_detail.message` as sent by the client. */
  readonly message: string;
  /** When it arrived, ms since the epoch (injected clock). */
  readonly atMs: number;
}

/** One type's state for one client. */
export interface TypeStatus {
  readonly typeUrl: string;
  /** `'*'` for a wildcard subscription, else the subscribed names. */
  readonly subscribed: '*' | readonly string[];
  /** Version of the last response sent ('' = none yet). */
  readonly sentVersion: string;
  /** Nonce of the last response sent ('' = none yet). */
  readonly sentNonce: string;
  /** Version the client last ACKed ('' = none yet). */
  readonly ackedVersion: string;
  readonly lastNack: NackRecord | null;
}

/** A connected client (one per stream), JSON-serialisable. */
export interface ClientStatus {
  /** Server-unique id of the stream. */
  readonly streamId: number;
  readonly nodeId: string;
  readonly cluster: string;
  readonly kind: ClientKind;
  readonly locality: ClientLocality;
  /** `user_agent_name/user_agent_version`. */
  readonly userAgent: string;
  readonly protocol: 'sotw' | 'delta';
  /** Which xDS port the client came through: `plaintext` (xdsPort) or `mtls` (xdsTlsPort). */
  readonly transport: 'plaintext' | 'mtls';
  /** `mtls` only: the SPIFFE id of the client certificate. */
  readonly peerSpiffeId?: string;
  /** ms since the epoch (injected clock). */
  readonly connectedAtMs: number;
  /** Keyed by short type name (`cds`, `eds`, `lds`, `rds`, `sds`); only types the client asked for. */
  readonly types: Readonly<Record<string, TypeStatus>>;
}

/** Payload of the 'ack' event. */
export interface AckEvent {
  readonly streamId: number;
  readonly nodeId: string;
  /** Client kind of the stream (from its first request's node). */
  readonly kind: ClientKind;
  readonly typeUrl: AdsTypeUrl;
  readonly version: string;
  readonly nonce: string;
}

/** Payload of the 'nack' event. */
export interface NackEvent extends AckEvent {
  readonly message: string;
  readonly atMs: number;
}

/** Payload of the 'push' event: one response written to one stream. */
export interface PushEvent {
  readonly streamId: number;
  readonly nodeId: string;
  readonly typeUrl: AdsTypeUrl;
  readonly version: string;
  readonly nonce: string;
  /** Names of the resources carried. */
  readonly resourceNames: readonly string[];
  /** Delta only: `removed_resources`. */
  readonly removedNames: readonly string[];
  /** Snapshot generation the response was built from (see `SnapshotCache.generation`). */
  readonly generation: number;
  /**
   * Sum of the encoded `Any.value` lengths of the resources carried, in bytes: the resource
   * payload, without the DiscoveryResponse envelope or gRPC framing.
   */
  readonly bytes: number;
}

/** Sum of the encoded `Any.value` lengths, bytes (the {@link PushEvent.bytes} measure). */
export function encodedBytes(resources: readonly AnyMessage[]): number {
  let total = 0;
  for (const r of resources) total += r.value.byteLength;
  return total;
}

/** Events of {@link AdsServer}. */
export interface AdsServerEvents {
  /** A stream sent its first request (node known). */
  connect: [client: ClientStatus];
  /** A stream ended, failed or was cancelled. */
  disconnect: [client: ClientStatus];
  /** A client accepted a response. */
  ack: [event: AckEvent];
  /** A client rejected a response (error_detail present). Always a control-plane bug until shown otherwise. */
  nack: [event: NackEvent];
  /** A response was written. */
  push: [event: PushEvent];
  /** mTLS server: a call was refused (no / bad client certificate, node identity mismatch). */
  refused: [
    event: {
      service: string;
      reason: string;
      message: string;
      peerSpiffeId?: string;
      nodeId?: string;
    },
  ];
}

/** Mutable per-type record behind {@link TypeStatus}. */
export interface MutableTypeStatus {
  subscribed: '*' | readonly string[];
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  lastNack: NackRecord | null;
}

/** A fresh per-type record. */
export function createTypeStatus(): MutableTypeStatus {
  return { subscribed: [], sentVersion: '', sentNonce: '', ackedVersion: '', lastNack: null };
}
