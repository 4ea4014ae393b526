// The events a ControlPlane emits (and publishes on its diagnostics channels).
import type { CertificateIssuedEvent, CertificateRefusedEvent } from './ca/mesh-ca.js';
import type {
  ConfigAppliedEvent,
  ConfigRejection,
  SnapshotBuildEvent,
} from './control-plane-status.js';
import type {
  EndpointDeregisteredEvent,
  EndpointRegisteredEvent,
} from './registry/registered-endpoint.js';
import type { MtlsRefusedEvent } from './server/ads-server.js';
import type { AckEvent, ClientStatus, NackEvent, PushEvent } from './server/client-status.js';

/** Events of {@link ControlPlane}. */
export interface ControlPlaneEvents {
  /** A valid config was loaded and is being served (also emitted when nothing changed). */
  'config-applied': [event: ConfigAppliedEvent];
  /** A config was rejected; the last good one keeps serving. */
  'config-rejected': [rejection: ConfigRejection];
  /** A response was written to a client. */
  push: [event: PushEvent];
  /** A client ACKed a response. */
  ack: [event: AckEvent];
  /** A client NACKed a response (logged as an error: a NACK is a control-plane bug until shown otherwise). */
  nack: [event: NackEvent];
  /** An xDS stream sent its first request (node known). */
  connect: [client: ClientStatus];
  /** An identified xDS stream ended. */
  disconnect: [client: ClientStatus];
  /** The snapshots of every view were built for a loaded config (before apply or rejection). */
  'snapshot-build': [event: SnapshotBuildEvent];
  /** @experimental The directory watcher saw a change (before debouncing). */
  watch: [filename: string | null];
  /** A workload registered an endpoint (or re-registered it with changes). */
  'endpoint-registered': [event: EndpointRegisteredEvent];
  /** A registered endpoint left: deregistered, stream closed, lease expired, replaced or shutdown. */
  'endpoint-deregistered': [event: EndpointDeregisteredEvent];
  /** The mesh CA signed a workload certificate (never carries keys or tokens). */
  'certificate-issued': [event: CertificateIssuedEvent];
  /** The mesh CA refused a certificate request (reason, message, token id). */
  'certificate-refused': [event: CertificateRefusedEvent];
  /** The mTLS xDS port refused a call (no / bad client certificate, node identity mismatch). */
  'mtls-refused': [event: MtlsRefusedEvent];
}

/** The control plane's event publisher (diagnostics channel + emit, listener errors logged). */
export type ControlPlanePublish = <K extends keyof ControlPlaneEvents>(
  name: K,
  ...args: ControlPlaneEvents[K]
) => void;
