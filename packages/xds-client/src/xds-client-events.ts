// The typed events of XdsClient; each is also published on diagnostics_channel `weft:xds:<event>`.
import type { WeftError } from './errors/weft-error.js';
import type { XdsTransport } from './xds-client-options.js';

/** The stream to `server` is up (the channel is READY and requests are on their way). */
export interface XdsConnectedEvent {
  readonly server: string;
  readonly transport: XdsTransport;
}

/** The stream to the server in use ended; cached resources keep serving. */
export interface XdsDisconnectedEvent {
  readonly server: string;
  readonly error: WeftError;
}

/** A response was accepted. */
export interface XdsAckEvent {
  readonly server: string;
  readonly transport: XdsTransport;
  readonly typeUrl: string;
  readonly shortName: string;
  /** The version ACKed: version_info (SotW) or system_version_info (Delta). */
  readonly version: string;
  readonly nonce: string;
}

/** One resource of a NACKed response. */
export interface XdsNackedResource {
  /** Position in the response's `resources`. */
  readonly index: number;
  /** Undefined when the resource was too broken to name. */
  readonly name: string | undefined;
  readonly message: string;
}

/** A response was rejected (its valid resources were still applied, gRFC A46/A88). */
export interface XdsNackEvent {
  readonly server: string;
  readonly transport: XdsTransport;
  readonly typeUrl: string;
  readonly shortName: string;
  /** The version in the rejected response. */
  readonly rejectedVersion: string;
  /** The version sent back in the NACK: the last accepted one ('' before any, always '' in Delta). */
  readonly acceptedVersion: string;
  readonly nonce: string;
  /** The error_detail message sent to the server. */
  readonly message: string;
  readonly resources: readonly XdsNackedResource[];
}

/** The client moved to another server of the bootstrap list (gRFC A71 fallback or recovery). */
export interface XdsServerChangedEvent {
  readonly from: string;
  readonly to: string;
  readonly reason: 'fallback' | 'recovered';
}

/** Event name → listener arguments, for `EventEmitter<XdsClientEvents>`. */
export interface XdsClientEvents {
  /** The stream to the server in use is up. */
  connected: [XdsConnectedEvent];
  /** The stream to the server in use went down. */
  disconnected: [XdsDisconnectedEvent];
  /** A response was ACKed. */
  ack: [XdsAckEvent];
  /** A response was NACKed. */
  nack: [XdsNackEvent];
  /** The server in use changed. */
  'server-changed': [XdsServerChangedEvent];
}

/** The event names, for diagnostics_channel names `weft:xds:<name>`. */
export const XDS_CLIENT_EVENT_NAMES = [
  'connected',
  'disconnected',
  'ack',
  'nack',
  'server-changed',
] as const satisfies readonly (keyof XdsClientEvents)[];
