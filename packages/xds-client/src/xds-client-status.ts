// What XdsClient.status() reports: the data behind config-dump and CSDS (gRFC A40's client status).
import type { AnyMessage } from './protos/xds-protos.js';
import type { XdsTransport } from './xds-client-options.js';

/** CSDS ClientResourceStatus, minus the states Weft never reports. */
export type XdsResourceState = 'REQUESTED' | 'ACKED' | 'NACKED' | 'DOES_NOT_EXIST';

/** The last rejected update of one resource. */
export interface XdsResourceErrorStatus {
  readonly message: string;
  /** The version of the response (SotW) or resource (Delta) that was rejected. */
  readonly failedVersion: string;
  /** When it was rejected, ms since the epoch (client clock). */
  readonly atMs: number;
}

/** One resource the client holds or waits for. */
export interface XdsResourceStatus {
  readonly state: XdsResourceState;
  /** Version of the value in force ('' when none). */
  readonly version: string;
  /** When the state last changed, ms since the epoch (client clock). */
  readonly lastUpdatedMs: number;
  /** The resource as received, for config dumps; absent when no value is held. */
  readonly raw?: AnyMessage;
  /** Set after a NACK of this resource, until a valid update arrives. */
  readonly error?: XdsResourceErrorStatus;
}

/** One resource type on the current server. */
export interface XdsTypeStatus {
  /** Last accepted version_info (SotW) or system_version_info (Delta) from the current server. */
  readonly version: string;
  /** Last nonce received from the current server for this type. */
  readonly nonce: string;
  /** Responses of this type ACKed / NACKed since the client started (all servers). */
  readonly acks: number;
  readonly nacks: number;
  readonly resources: Readonly<Record<string, XdsResourceStatus>>;
}

/** A snapshot of the client, safe to serialise (raw Anys aside). */
export interface XdsClientStatus {
  /** Whether the stream to `server` is up. */
  readonly connected: boolean;
  /** URI of the server in use (the highest-priority one that answered, else the one being tried). */
  readonly server: string;
  readonly transport: XdsTransport;
  /** The stream's channel: `bootstrap` (server_uri, channel_creds) or the `channel` hook's label. */
  readonly channel: string;
  /** Per type URL, for every registered type that has been watched. */
  readonly types: Readonly<Record<string, XdsTypeStatus>>;
}
