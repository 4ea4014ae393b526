// The public types of workload self-registration: what `createRegistrar` takes and returns.
// Protocol: @weft/xds-client protos/weft/registry/v1/registry.proto; DESIGN.md "Workload registry".
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { BackoffOptions, Clock, Logger, XdsProtos } from '@weft/xds-client';

/** A locality `region/zone/subZone`; missing parts are `''`. */
export interface RegistrationLocality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

/** Who is registering: defaults for every endpoint the registrar announces. */
export interface RegistrarNode {
  /** xDS node id, shown in the control plane's `/registry` and logs; default `''`. */
  readonly id?: string;
  /** Default: no locality. */
  readonly locality?: RegistrationLocality;
  /** Workload namespace; default `default`. */
  readonly namespace?: string;
  /** Workload service account (its SPIFFE identity); default `default`. */
  readonly serviceAccount?: string;
}

/** Options of {@link createRegistrar}. */
export interface RegistrarOptions {
  /** The control plane's xDS address, `host:port` (the registry is served on the xDS port). */
  readonly controlPlaneAddress: string;
  /** Default: `loadXdsProtos()`. */
  readonly protos?: XdsProtos;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: Logger;
  /** Defaults for every endpoint; default `{}`. */
  readonly node?: RegistrarNode;
  /** Reconnect backoff; default gRPC's (1 s initial, × 1.6, jitter 0.2), capped at 30 s. */
  readonly backoff?: BackoffOptions;
  /**
   * How long `Registration.close()` / `Registrar.close()` wait for the control plane to confirm,
   * ms; default 5000. They resolve anyway afterwards (the lease lapses on its own).
   */
  readonly closeTimeoutMs?: number;
  /**
   * Asked before each Register stream: the control plane's mTLS port and the credentials to
   * reach it (the workload certificate), or undefined for `controlPlaneAddress` in plaintext.
   */
  readonly channel?: () => RegistrarChannel | undefined;
}

/** Where a Register stream goes instead of `controlPlaneAddress`. */
export interface RegistrarChannel {
  readonly address: string;
  readonly credentials: ChannelCredentials;
  readonly options?: ChannelOptions;
}

/** One endpoint to announce. */
export interface RegistrationEndpoint {
  /** Service host, e.g. `inventory`. */
  readonly service: string;
  /** The port the server is bound to, 1-65535. */
  readonly port: number;
  /** Default `http`. */
  readonly protocol?: 'http' | 'grpc';
  /** The address clients dial, an IP literal; default `127.0.0.1`. */
  readonly address?: string;
  /**
   * The service port clients address (`inventory:8080`); default: every port of the service's
   * ServiceEntry with a matching protocol, or `port` when no ServiceEntry declares the service.
   */
  readonly servicePort?: number;
  /** Workload labels (DestinationRule subsets select on them); default `{}`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Default: the registrar's node locality. */
  readonly locality?: RegistrationLocality;
  /** Default: the node's namespace. */
  readonly namespace?: string;
  /** Default: the node's service account. */
  readonly serviceAccount?: string;
  /** Load-balancing weight, ≥ 1; default 1. */
  readonly weight?: number;
}

/** An announced endpoint. It stays registered (re-registered after reconnects) until closed. */
export interface Registration {
  /** Client-chosen id, unique per registrar. */
  readonly id: string;
  readonly endpoint: RegistrationEndpoint;
  /** Lease TTL the control plane enforces, ms (from its last answer). */
  readonly leaseTtlMs: number;
  /**
   * Deregisters at once: the endpoint leaves EDS on the control plane's next push. Resolves when
   * the control plane confirms (or after `closeTimeoutMs`, or at once when disconnected: the
   * control plane dropped it when the stream ended). Idempotent.
   */
  close(): Promise<void>;
}

/** Keeps one Register stream (the lease) to the control plane for any number of registrations. */
export interface Registrar {
  /**
   * Announces an endpoint; resolves once the control plane accepted it. While the control plane
   * is unreachable it keeps retrying (with backoff), so the promise stays pending; race it with
   * a timeout if startup must not wait. Rejects with a ConfigError (WEFT_INVALID_CONFIG) whose
   * issue path names the field the control plane (or the local check) refused, or WEFT_CLOSED.
   */
  register(endpoint: RegistrationEndpoint): Promise<Registration>;
  /** Deregisters everything at once (ends the stream) and stops; later `register` fails WEFT_CLOSED. */
  close(): Promise<void>;
}
