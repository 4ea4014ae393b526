// The `weft.registry.v1.Registry` gRPC service: one lease per Register stream, messages forwarded
// to the WorkloadRegistry. Served on the ADS server's port. Wire format and lease semantics:
// xds-client protos/weft/registry/v1/registry.proto.
import {
  status as grpcStatus,
  type ServerDuplexStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { silentLogger, type Logger } from '@weft/xds-client';
import { validateRegistration } from './validate-registration.js';
import type { WorkloadRegistry } from './workload-registry.js';

/** Fully qualified name of the registry service. */
export const REGISTRY_SERVICE_NAME = 'weft.registry.v1.Registry';

/** A `RegistryRequest` as proto-loader decodes it (keepCase, oneofs named). */
interface RegistryRequestMessage {
  readonly request?: 'register' | 'deregister' | 'heartbeat';
  readonly register?: Record<string, unknown>;
  readonly deregister?: { readonly id?: string };
  readonly heartbeat?: Record<string, never>;
}

/** A `RegistryResponse` in proto-loader object form. */
type RegistryResponseMessage =
  | { readonly registered: { readonly id: string; readonly lease_ttl_ms: number } }
  | { readonly rejected: { readonly id: string; readonly field: string; readonly message: string } }
  | { readonly deregistered: { readonly id: string } };

type RegisterCall = ServerDuplexStream<RegistryRequestMessage, RegistryResponseMessage>;

/** Who a Register stream's client certificate proves (mTLS port); undefined: no check. */
export type RegistrationPeer = (call: RegisterCall) =>
  | {
      readonly spiffeId: string;
      readonly namespace: string;
      readonly serviceAccount: string;
    }
  | undefined;

/** Options of {@link RegistryService.implementation}. */
export interface RegistryImplementationOptions {
  /**
   * mTLS port: the identity of the stream's client certificate. An endpoint registered for
   * another namespace or service account is rejected (field `namespace` / `service_account`).
   */
  readonly peer?: RegistrationPeer;
  /** Told of each such rejection (metrics). */
  readonly onIdentityMismatch?: (message: string, spiffeId: string) => void;
}

/** Options of {@link RegistryService}. */
export interface RegistryServiceOptions {
  readonly registry: WorkloadRegistry;
  /** Rejections and protocol errors are logged here; default silent. */
  readonly logger?: Logger;
}

/**
 * Serves Register streams into a {@link WorkloadRegistry}: the stream is the lease. A stream
 * whose lease expires is ended with UNAVAILABLE so a live-but-slow client reconnects and
 * registers again. `close()` ends every stream (OK) and refuses new ones.
 */
export class RegistryService {
  readonly #registry: WorkloadRegistry;
  readonly #logger: Logger;
  readonly #calls = new Map<number, RegisterCall>();
  #closed = false;

  constructor(options: RegistryServiceOptions) {
    this.#registry = options.registry;
    this.#logger = options.logger ?? silentLogger;
    this.#registry.on('lease-expired', (leaseId) => {
      const call = this.#calls.get(leaseId);
      if (call === undefined) return;
      this.#calls.delete(leaseId);
      call.emit('error', {
        code: grpcStatus.UNAVAILABLE,
        details: `registry lease expired: no message within ${this.#registry.leaseTtlMs} ms`,
      });
    });
  }

  /** The handler map for `Server.addService(protos.service(REGISTRY_SERVICE_NAME), …)`. */
  implementation(options: RegistryImplementationOptions = {}): UntypedServiceImplementation {
    return {
      Register: (call: RegisterCall) => {
        this.#accept(call, options);
      },
    };
  }

  /** Ends every Register stream with OK (their registrations leave as `stream-closed`). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [leaseId, call] of [...this.#calls]) {
      this.#calls.delete(leaseId);
      this.#registry.closeLease(leaseId);
      call.end();
    }
  }

  #accept(call: RegisterCall, options: RegistryImplementationOptions): void {
    if (this.#closed) {
      call.emit('error', { code: grpcStatus.UNAVAILABLE, details: 'control plane is closing' });
      return;
    }
    const leaseId = this.#registry.openLease(
      call.getPeer(),
      options.peer?.(call)?.spiffeId ?? null,
    );
    this.#calls.set(leaseId, call);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#calls.delete(leaseId);
      // Drops every registration of the stream at once (client close, crash, RST).
      this.#registry.closeLease(leaseId);
    };
    call.on('data', (message: RegistryRequestMessage) => {
      if (!this.#registry.hasLease(leaseId)) return;
      this.#registry.touch(leaseId);
      this.#handle(leaseId, call, message, options);
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
  }

  #handle(
    leaseId: number,
    call: RegisterCall,
    message: RegistryRequestMessage,
    options: RegistryImplementationOptions,
  ): void {
    switch (message.request) {
      case 'register': {
        const raw = message.register ?? {};
        const id = typeof raw['id'] === 'string' ? raw['id'] : '';
        const result = validateRegistration(raw);
        if (!result.ok) {
          this.#logger.warn('registration rejected', {
            id,
            peer: call.getPeer(),
            field: result.issue.field,
            message: result.issue.message,
          });
          call.write({
            rejected: { id, field: result.issue.field, message: result.issue.message },
          });
          return;
        }
        const peer = options.peer?.(call);
        const { endpoint } = result;
        const mismatch =
          peer === undefined
            ? undefined
            : endpoint.namespace !== peer.namespace
              ? 'namespace'
              : endpoint.serviceAccount !== peer.serviceAccount
                ? 'service_account'
                : undefined;
        if (peer !== undefined && mismatch !== undefined) {
          const text = `identity-mismatch: ${endpoint.namespace}/${endpoint.serviceAccount} is not the client certificate's ${peer.spiffeId}`;
          this.#logger.warn('registration rejected', {
            id,
            peer: call.getPeer(),
            field: mismatch,
            message: text,
          });
          options.onIdentityMismatch?.(text, peer.spiffeId);
          call.write({ rejected: { id, field: mismatch, message: text } });
          return;
        }
        this.#registry.register(leaseId, result.endpoint);
        call.write({
          registered: { id: result.endpoint.id, lease_ttl_ms: this.#registry.leaseTtlMs },
        });
        return;
      }
      case 'deregister': {
        const id = message.deregister?.id ?? '';
        this.#registry.deregister(leaseId, id);
        // Answered even for an unknown id: the caller only wants it gone.
        call.write({ deregistered: { id } });
        return;
      }
      case 'heartbeat':
      case undefined:
        return;
    }
  }
}
