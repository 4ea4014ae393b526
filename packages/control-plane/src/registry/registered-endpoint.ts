// A workload's self-registered endpoint as the control plane holds it (validated), and the
// registry's entries and admin view. Wire format: xds-client protos/weft/registry/v1/registry.proto.
import type { MeshLocality } from '../config/mesh-model.js';

/** Protocol of a registered port (the proto's UNSPECIFIED is HTTP). */
export type RegistrationProtocol = 'HTTP' | 'GRPC';

/** One validated `RegisterEndpoint`; every default applied. Frozen. */
export interface RegisteredEndpoint {
  /** Client-chosen, unique within its lease (stream). */
  readonly id: string;
  /** Service host. */
  readonly service: string;
  /** Default `default`. */
  readonly namespace: string;
  /** IP literal (v4 or v6), never unspecified (`0.0.0.0`, `::`). */
  readonly address: string;
  /** Port the endpoint listens on, 1-65535. */
  readonly port: number;
  readonly protocol: RegistrationProtocol;
  /** Service port clients address; 0 = every ServiceEntry port of a matching protocol, or `port` for an implicit service. */
  readonly servicePort: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly locality: MeshLocality;
  /** Default `default`. */
  readonly serviceAccount: string;
  /** ≥ 1 (proto 0 means 1). */
  readonly weight: number;
  /** The workload's xDS node id, `''` when not sent (logs and admin only). */
  readonly nodeId: string;
}

/** A registration held by the registry. */
export interface RegistryEntry {
  /** `LEASE/ID`: unique in the registry. */
  readonly key: string;
  readonly leaseId: number;
  readonly endpoint: RegisteredEndpoint;
  /** Registry-wide order of (re-)registration; the merge walks entries in this order. */
  readonly seq: number;
  /** ms since the epoch (injected clock). */
  readonly registeredAtMs: number;
}

/** Why a registration left the registry. */
export type DeregistrationReason =
  /** The workload sent `deregister` (`Registration.close()`). */
  | 'deregistered'
  /** The stream ended (workload closed, or its process died and the socket closed). */
  | 'stream-closed'
  /** No message within the lease TTL (hung or partitioned workload). */
  | 'expired'
  /** Another lease registered the same service, address and port (the workload reconnected). */
  | 'replaced'
  /** The control plane is closing. */
  | 'shutdown';

/** Payload of the registry's `registered` event. */
export interface EndpointRegisteredEvent {
  readonly entry: RegistryEntry;
  readonly peer: string;
  /** The registration with the same id on the same lease it replaced, or null. */
  readonly previous: RegistryEntry | null;
}

/** Payload of the registry's `deregistered` event. */
export interface EndpointDeregisteredEvent {
  readonly entry: RegistryEntry;
  readonly peer: string;
  readonly reason: DeregistrationReason;
}

/** How a registration is served after merging with the config (admin `/registry`). */
export interface RegistrationPlacement {
  /** Whether the endpoint is in EDS. */
  readonly served: boolean;
  /** Service ports it is served on (empty when not served). */
  readonly servicePorts: readonly number[];
  /** True when no ServiceEntry declares the service and the registry made an implicit one. */
  readonly implicitService: boolean;
  /** Why it is not served, or `''`. */
  readonly reason: string;
}

/** One row of the admin `/registry` view. */
export interface RegistrationStatus {
  readonly key: string;
  readonly endpoint: RegisteredEndpoint;
  readonly lease: {
    readonly id: number;
    readonly peer: string;
    /** The verified client certificate of the lease's stream (mTLS port); `null` on plaintext. */
    readonly spiffeId: string | null;
    readonly ttlMs: number;
    readonly openedAtMs: number;
    /** Last message received on the lease's stream. */
    readonly lastSeenMs: number;
    /** When the lease lapses unless a message arrives. */
    readonly expiresAtMs: number;
  };
  readonly registeredAtMs: number;
  /** `null` until the first config has been merged. */
  readonly placement: RegistrationPlacement | null;
}

/** The admin `/registry` document. */
export interface RegistryDocument {
  readonly leaseTtlMs: number;
  readonly leases: number;
  readonly registrations: readonly RegistrationStatus[];
}
