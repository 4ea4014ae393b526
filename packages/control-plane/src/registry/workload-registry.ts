// The workload registry: endpoints workloads announced over `weft.registry.v1.Registry`, each held
// by a lease (one Register stream) that lapses when the stream ends or goes quiet for the TTL.
// DESIGN.md "Workload registry"; wire format: xds-client protos/weft/registry/v1/registry.proto.
import { EventEmitter } from 'node:events';
import {
  ConfigError,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from '@weft/xds-client';
import type {
  DeregistrationReason,
  EndpointDeregisteredEvent,
  EndpointRegisteredEvent,
  RegisteredEndpoint,
  RegistrationPlacement,
  RegistrationStatus,
  RegistryDocument,
  RegistryEntry,
} from './registered-endpoint.js';

/** Default lease TTL: a crashed-but-connected workload leaves EDS within 10 s. */
export const DEFAULT_LEASE_TTL_MS = 10_000;
/** Smallest accepted lease TTL (heartbeats go every TTL / 3). */
export const MIN_LEASE_TTL_MS = 300;

/** Options of {@link WorkloadRegistry}. */
export interface WorkloadRegistryOptions {
  /** How long a lease lives without a message, ms; default 10000, at least 300. */
  readonly leaseTtlMs?: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** One info line per register / deregister / expiry; default silent. */
  readonly logger?: Logger;
}

/** Events of {@link WorkloadRegistry}. */
export interface WorkloadRegistryEvents {
  /** An endpoint was registered, or re-registered with different content. */
  registered: [event: EndpointRegisteredEvent];
  /** An endpoint left the registry. */
  deregistered: [event: EndpointDeregisteredEvent];
  /** A lease lapsed (no message within the TTL); its stream should be ended. */
  'lease-expired': [leaseId: number];
  /** The set of registrations changed (once per operation, after the events above). */
  changed: [];
}

interface Lease {
  readonly id: number;
  readonly peer: string;
  readonly spiffeId: string | null;
  readonly openedAtMs: number;
  lastSeenMs: number;
  timer: TimerHandle | undefined;
  readonly entries: Map<string, RegistryEntry>;
}

function sameEndpoint(a: RegisteredEndpoint, b: RegisteredEndpoint): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Registrations by lease. The transport (the gRPC service) opens a lease per stream, forwards
 * each message, and closes the lease when the stream ends; the registry expires quiet leases
 * with its clock. Mutations emit `registered` / `deregistered` and then one `changed`.
 */
export class WorkloadRegistry extends EventEmitter<WorkloadRegistryEvents> {
  /** The lease TTL, ms. */
  readonly leaseTtlMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leases = new Map<number, Lease>();
  /** Every entry by key, in no particular order (see {@link entries}). */
  readonly #entries = new Map<string, RegistryEntry>();
  #placements: ReadonlyMap<string, RegistrationPlacement> | null = null;
  #nextLeaseId = 1;
  #seq = 0;
  #closed = false;

  /** Throws a ConfigError (WEFT_INVALID_CONFIG) for a bad `leaseTtlMs`. */
  constructor(options: WorkloadRegistryOptions = {}) {
    super();
    const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isFinite(ttl) || ttl < MIN_LEASE_TTL_MS)
      throw new ConfigError('workload registry options', [
        { path: 'leaseTtlMs', message: `expected at least ${MIN_LEASE_TTL_MS} ms, got ${ttl}` },
      ]);
    this.leaseTtlMs = ttl;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Number of open leases. */
  get leaseCount(): number {
    return this.#leases.size;
  }

  /**
   * Opens a lease for a new stream from `peer` (with the SPIFFE id its client certificate proved,
   * on the mTLS port); its TTL starts now.
   */
  openLease(peer: string, spiffeId: string | null = null): number {
    const id = this.#nextLeaseId++;
    const now = this.#clock.now();
    const lease: Lease = {
      id,
      peer,
      spiffeId,
      openedAtMs: now,
      lastSeenMs: now,
      timer: undefined,
      entries: new Map(),
    };
    this.#leases.set(id, lease);
    if (!this.#closed) this.#arm(lease, this.leaseTtlMs);
    return id;
  }

  /** Whether a lease is open (not closed, not expired). */
  hasLease(leaseId: number): boolean {
    return this.#leases.has(leaseId);
  }

  /** Any message on the lease's stream keeps it alive. */
  touch(leaseId: number): void {
    const lease = this.#leases.get(leaseId);
    if (lease !== undefined) lease.lastSeenMs = this.#clock.now();
  }

  /**
   * Registers (or replaces, by id) an endpoint on an open lease; returns false for an unknown
   * lease. Another lease's registration of the same service, address and port is dropped
   * (`replaced`): a reconnecting workload must not be served twice while its old stream lapses.
   */
  register(leaseId: number, endpoint: RegisteredEndpoint): boolean {
    const lease = this.#leases.get(leaseId);
    if (lease === undefined || this.#closed) return false;
    lease.lastSeenMs = this.#clock.now();
    const key = `${leaseId}/${endpoint.id}`;
    const previous = lease.entries.get(key);
    if (previous !== undefined && sameEndpoint(previous.endpoint, endpoint)) return true;
    const removed: EndpointDeregisteredEvent[] = [];
    for (const other of this.#entries.values()) {
      const e = other.endpoint;
      if (
        other.leaseId !== leaseId &&
        e.service === endpoint.service &&
        e.address === endpoint.address &&
        e.port === endpoint.port
      ) {
        const otherLease = this.#leases.get(other.leaseId);
        otherLease?.entries.delete(other.key);
        this.#entries.delete(other.key);
        removed.push({ entry: other, peer: otherLease?.peer ?? '', reason: 'replaced' });
      }
    }
    const entry: RegistryEntry = Object.freeze({
      key,
      leaseId,
      endpoint,
      seq: ++this.#seq,
      registeredAtMs: lease.lastSeenMs,
    });
    lease.entries.set(key, entry);
    this.#entries.set(key, entry);
    for (const event of removed) this.#emitDeregistered(event);
    this.#logger.info('endpoint registered', {
      ...logFields(entry, lease.peer),
      updated: previous !== undefined,
    });
    this.emit('registered', { entry, peer: lease.peer, previous: previous ?? null });
    this.emit('changed');
    return true;
  }

  /** Drops one registration of a lease at once; false when there was none. */
  deregister(leaseId: number, id: string): boolean {
    const lease = this.#leases.get(leaseId);
    if (lease === undefined) return false;
    lease.lastSeenMs = this.#clock.now();
    const entry = lease.entries.get(`${leaseId}/${id}`);
    if (entry === undefined) return false;
    lease.entries.delete(entry.key);
    this.#entries.delete(entry.key);
    this.#emitDeregistered({ entry, peer: lease.peer, reason: 'deregistered' });
    this.emit('changed');
    return true;
  }

  /** The lease's stream ended: drops every registration of the lease at once. */
  closeLease(leaseId: number): void {
    this.#dropLease(leaseId, 'stream-closed');
  }

  /** Every registration, oldest (re-)registration first. */
  entries(): RegistryEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Stores how the last merge placed each registration (by key), for {@link document}. */
  setPlacements(placements: ReadonlyMap<string, RegistrationPlacement>): void {
    this.#placements = placements;
  }

  /** The admin `/registry` document. */
  document(): RegistryDocument {
    const registrations: RegistrationStatus[] = [];
    for (const entry of this.entries()) {
      const lease = this.#leases.get(entry.leaseId);
      if (lease === undefined) continue;
      registrations.push({
        key: entry.key,
        endpoint: entry.endpoint,
        lease: {
          id: lease.id,
          peer: lease.peer,
          spiffeId: lease.spiffeId,
          ttlMs: this.leaseTtlMs,
          openedAtMs: lease.openedAtMs,
          lastSeenMs: lease.lastSeenMs,
          expiresAtMs: lease.lastSeenMs + this.leaseTtlMs,
        },
        registeredAtMs: entry.registeredAtMs,
        placement: this.#placements?.get(entry.key) ?? null,
      });
    }
    return { leaseTtlMs: this.leaseTtlMs, leases: this.#leases.size, registrations };
  }

  /** Stops every lease timer and drops every registration (`shutdown`); later leases hold nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#leases.keys()]) this.#dropLease(id, 'shutdown');
  }

  #arm(lease: Lease, delayMs: number): void {
    lease.timer = this.#clock.setTimeout(() => {
      lease.timer = undefined;
      if (this.#leases.get(lease.id) !== lease) return;
      const quietMs = this.#clock.now() - lease.lastSeenMs;
      // One timer per lease, re-armed for the remainder: a message costs a field write, not a timer.
      if (quietMs < this.leaseTtlMs) this.#arm(lease, this.leaseTtlMs - quietMs);
      else this.#expire(lease, quietMs);
    }, delayMs);
    lease.timer.unref?.();
  }

  #expire(lease: Lease, quietMs: number): void {
    this.#logger.warn('registry lease expired', {
      leaseId: lease.id,
      peer: lease.peer,
      quietMs,
      leaseTtlMs: this.leaseTtlMs,
      registrations: lease.entries.size,
    });
    this.#dropLease(lease.id, 'expired');
    this.emit('lease-expired', lease.id);
  }

  #dropLease(leaseId: number, reason: DeregistrationReason): void {
    const lease = this.#leases.get(leaseId);
    if (lease === undefined) return;
    this.#leases.delete(leaseId);
    if (lease.timer !== undefined) this.#clock.clearTimeout(lease.timer);
    lease.timer = undefined;
    if (lease.entries.size === 0) return;
    for (const entry of lease.entries.values()) {
      this.#entries.delete(entry.key);
      this.#emitDeregistered({ entry, peer: lease.peer, reason });
    }
    lease.entries.clear();
    this.emit('changed');
  }

  #emitDeregistered(event: EndpointDeregisteredEvent): void {
    this.#logger.info('endpoint deregistered', {
      ...logFields(event.entry, event.peer),
      reason: event.reason,
    });
    this.emit('deregistered', event);
  }
}

function logFields(entry: RegistryEntry, peer: string): Record<string, unknown> {
  const e = entry.endpoint;
  return {
    key: entry.key,
    service: e.service,
    namespace: e.namespace,
    address: e.address,
    port: e.port,
    servicePort: e.servicePort,
    protocol: e.protocol,
    nodeId: e.nodeId,
    peer,
  };
}
