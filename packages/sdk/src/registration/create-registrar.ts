// The SDK side of workload self-registration: one `weft.registry.v1.Registry/Register` stream per
// registrar is the lease; every live registration is re-sent after a reconnect; heartbeats every
// TTL / 3. Protocol: @weft/xds-client protos/weft/registry/v1/registry.proto; DESIGN.md "Workload registry".
import { credentials, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import {
  Backoff,
  ConfigError,
  DEFAULT_BACKOFF_OPTIONS,
  loadXdsProtos,
  silentLogger,
  systemClock,
  WeftError,
  type Clock,
  type ConfigIssue,
  type Logger,
  type ResolvedBackoffOptions,
  type TimerHandle,
  type XdsProtos,
} from '@weft/xds-client';
import type {
  Registrar,
  RegistrarChannel,
  RegistrarOptions,
  Registration,
  RegistrationEndpoint,
} from './registration-types.js';

const REGISTRY_SERVICE = 'weft.registry.v1.Registry';
/** Lease TTL assumed until the control plane states its own (the registry's default). */
const ASSUMED_LEASE_TTL_MS = 10_000;

interface RegistryResponseMessage {
  readonly response?: 'registered' | 'rejected' | 'deregistered';
  /** uint32: a number (proto-loader `longs: String` applies to 64-bit fields only). */
  readonly registered?: { readonly id?: string; readonly lease_ttl_ms?: number };
  readonly rejected?: { readonly id?: string; readonly field?: string; readonly message?: string };
  readonly deregistered?: { readonly id?: string };
}

type RegisterCall = ClientDuplexStream<Record<string, unknown>, RegistryResponseMessage>;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

interface Entry {
  readonly id: string;
  readonly endpoint: RegistrationEndpoint;
  readonly message: Record<string, unknown>;
  /** The pending `register()` promise, until the first answer. */
  first: Waiter | undefined;
  /** `close()` calls waiting for `deregistered`. */
  closing: Waiter[];
  registration: Registration | undefined;
}

interface ResolvedRegistrarOptions {
  readonly controlPlaneAddress: string;
  readonly protos: XdsProtos;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly nodeId: string;
  readonly locality: { region: string; zone: string; sub_zone: string };
  readonly backoff: ResolvedBackoffOptions;
  readonly closeTimeoutMs: number;
  readonly channel: (() => RegistrarChannel | undefined) | undefined;
}

function resolveOptions(options: RegistrarOptions): ResolvedRegistrarOptions {
  const issues: ConfigIssue[] = [];
  const address = (options as Partial<RegistrarOptions>).controlPlaneAddress;
  if (typeof address !== 'string' || !/^.+:\d{1,5}$/.test(address))
    issues.push({
      path: 'controlPlaneAddress',
      message: `expected host:port, got ${JSON.stringify(address)}`,
    });
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  if (!Number.isFinite(closeTimeoutMs) || closeTimeoutMs < 0)
    issues.push({ path: 'closeTimeoutMs', message: `expected ms ≥ 0, got ${closeTimeoutMs}` });
  const backoff = { ...DEFAULT_BACKOFF_OPTIONS, ...options.backoff };
  for (const key of ['initialMs', 'maxMs', 'multiplier'] as const)
    if (!Number.isFinite(backoff[key]) || backoff[key] <= 0)
      issues.push({
        path: `backoff.${key}`,
        message: `expected a positive number, got ${backoff[key]}`,
      });
  if (issues.length > 0) throw new ConfigError('registrar options', issues);
  const node = options.node ?? {};
  return Object.freeze({
    controlPlaneAddress: address as string,
    channel: options.channel,
    protos: options.protos ?? loadXdsProtos(),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    namespace: node.namespace ?? 'default',
    serviceAccount: node.serviceAccount ?? 'default',
    nodeId: node.id ?? '',
    locality: {
      region: node.locality?.region ?? '',
      zone: node.locality?.zone ?? '',
      sub_zone: node.locality?.subZone ?? '',
    },
    backoff,
    closeTimeoutMs,
  });
}

/** Local checks of what must be right before anything is sent (the control plane checks the rest). */
function checkEndpoint(endpoint: RegistrationEndpoint): void {
  const issues: ConfigIssue[] = [];
  const e = endpoint as Partial<RegistrationEndpoint> | null;
  if (typeof e !== 'object' || e === null)
    throw new ConfigError('registration', [{ path: '', message: 'expected an object' }]);
  if (typeof e.service !== 'string' || e.service === '')
    issues.push({ path: 'service', message: 'expected a service name' });
  if (typeof e.port !== 'number' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65_535)
    issues.push({
      path: 'port',
      message: `expected the bound port 1-65535, got ${String(e.port)}`,
    });
  const protocol: unknown = e.protocol;
  if (protocol !== undefined && protocol !== 'http' && protocol !== 'grpc')
    issues.push({
      path: 'protocol',
      message: `expected http or grpc, got ${JSON.stringify(protocol)}`,
    });
  if (issues.length > 0) throw new ConfigError('registration', issues);
}

/** Proto field name (control-plane rejection) → option name. */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  service_port: 'servicePort',
  service_account: 'serviceAccount',
  'locality.sub_zone': 'locality.subZone',
};

class RegistryRegistrar implements Registrar {
  readonly #o: ResolvedRegistrarOptions;
  readonly #backoff: Backoff;
  readonly #entries = new Map<string, Entry>();
  #call: RegisterCall | undefined;
  #heartbeat: TimerHandle | undefined;
  #leaseTtlMs = ASSUMED_LEASE_TTL_MS;
  #nextId = 1;
  #closed = false;
  /** Transport of the last stream opened ('mtls' / 'plaintext'); undefined while only plaintext. */
  #transport: 'mtls' | 'plaintext' | undefined;
  /** Resolves when the current stream has ended (for `close()`). */
  #ended: Promise<void> = Promise.resolve();

  constructor(options: ResolvedRegistrarOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.backoff, options.clock);
  }

  async register(endpoint: RegistrationEndpoint): Promise<Registration> {
    if (this.#closed) throw new WeftError('WEFT_CLOSED', 'registrar is closed');
    checkEndpoint(endpoint);
    const id = `${endpoint.service}-${endpoint.port}-${this.#nextId++}`;
    const o = this.#o;
    const message = {
      id,
      service: endpoint.service,
      namespace: endpoint.namespace ?? o.namespace,
      address: endpoint.address ?? '127.0.0.1',
      port: endpoint.port,
      protocol: endpoint.protocol === 'grpc' ? 'GRPC' : 'HTTP',
      labels: { ...(endpoint.labels ?? {}) },
      locality:
        endpoint.locality === undefined
          ? o.locality
          : {
              region: endpoint.locality.region ?? '',
              zone: endpoint.locality.zone ?? '',
              sub_zone: endpoint.locality.subZone ?? '',
            },
      service_account: endpoint.serviceAccount ?? o.serviceAccount,
      weight: endpoint.weight ?? 1,
      service_port: endpoint.servicePort ?? 0,
      node_id: o.nodeId,
    };
    const entry: Entry = {
      id,
      endpoint: Object.freeze({ ...endpoint }),
      message,
      first: undefined,
      closing: [],
      registration: undefined,
    };
    const accepted = new Promise<void>((resolve, reject) => {
      entry.first = { resolve, reject };
    });
    this.#entries.set(id, entry);
    if (this.#call === undefined) {
      if (!this.#backoff.pending) this.#open();
    } else this.#send({ register: message });
    await accepted;
    const leaseTtlMs = (): number => this.#leaseTtlMs;
    const registration: Registration = {
      id,
      endpoint: entry.endpoint,
      get leaseTtlMs() {
        return leaseTtlMs();
      },
      close: () => this.#deregister(entry),
    };
    entry.registration = registration;
    return registration;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#backoff.cancel();
    this.#stopHeartbeat();
    const closedErr = new WeftError('WEFT_CLOSED', 'registrar is closed');
    for (const entry of this.#entries.values()) {
      entry.first?.reject(closedErr);
      for (const w of entry.closing) w.resolve();
    }
    this.#entries.clear();
    const call = this.#call;
    if (call === undefined) return;
    // Ending the stream deregisters everything at once; wait for the control plane's status.
    call.end();
    await this.#withTimeout(this.#ended);
    this.#call?.cancel();
  }

  async #deregister(entry: Entry): Promise<void> {
    if (this.#entries.get(entry.id) !== entry) return;
    const call = this.#call;
    if (call === undefined) {
      // Not connected: the control plane dropped it with the old stream; don't send it again.
      this.#entries.delete(entry.id);
      this.#maybeEndIdleStream();
      return;
    }
    const done = new Promise<void>((resolve, reject) => {
      entry.closing.push({ resolve, reject });
    });
    if (entry.closing.length === 1) this.#send({ deregister: { id: entry.id } });
    await this.#withTimeout(done);
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    this.#maybeEndIdleStream();
  }

  /** No registrations left: end the stream so the control plane holds no lease and we send nothing. */
  #maybeEndIdleStream(): void {
    if (this.#entries.size > 0 || this.#call === undefined) return;
    const call = this.#call;
    this.#call = undefined;
    this.#stopHeartbeat();
    call.end();
  }

  #open(): void {
    if (this.#closed || this.#entries.size === 0) return;
    const Ctor = this.#o.protos.serviceClient(REGISTRY_SERVICE);
    // A fresh channel per stream: our backoff, not the channel's, decides when to retry. The
    // mTLS port when the mesh holds a certificate for it, else the plaintext xDS address.
    const tls = this.#o.channel?.();
    const client =
      tls === undefined
        ? new Ctor(this.#o.controlPlaneAddress, credentials.createInsecure())
        : new Ctor(tls.address, tls.credentials, tls.options ?? {});
    if (tls !== undefined || this.#transport !== undefined) {
      const transport = tls === undefined ? 'plaintext' : 'mtls';
      if (transport !== this.#transport)
        this.#o.logger.info('registry stream opened', {
          transport,
          address: tls?.address ?? this.#o.controlPlaneAddress,
        });
      this.#transport = transport;
    }
    const method = client['Register'] as (() => RegisterCall) | undefined;
    if (method === undefined) throw new WeftError('WEFT_INTERNAL', 'Registry.Register missing');
    const call = method.call(client);
    this.#call = call;
    let resolveEnded!: () => void;
    this.#ended = new Promise<void>((resolve) => {
      resolveEnded = resolve;
    });
    call.on('data', (message: RegistryResponseMessage) => {
      if (this.#call === call) this.#onResponse(message);
    });
    call.on('error', () => undefined); // 'status' follows
    call.on('status', (status: StatusObject) => {
      resolveEnded();
      client.close();
      if (this.#call !== call) return;
      this.#call = undefined;
      this.#stopHeartbeat();
      this.#onStreamDown(status);
    });
    for (const entry of this.#entries.values()) this.#send({ register: entry.message });
    this.#armHeartbeat();
  }

  #onResponse(message: RegistryResponseMessage): void {
    switch (message.response) {
      case 'registered': {
        const ttl = message.registered?.lease_ttl_ms ?? 0;
        if (ttl > 0 && ttl !== this.#leaseTtlMs) {
          this.#leaseTtlMs = ttl;
          this.#armHeartbeat();
        }
        this.#backoff.reset();
        const entry = this.#entries.get(message.registered?.id ?? '');
        if (entry === undefined) return;
        if (entry.first !== undefined) {
          this.#o.logger.info('endpoint registered', {
            id: entry.id,
            service: entry.endpoint.service,
            port: entry.endpoint.port,
            leaseTtlMs: this.#leaseTtlMs,
          });
        }
        entry.first?.resolve();
        entry.first = undefined;
        return;
      }
      case 'rejected': {
        const r = message.rejected ?? {};
        const entry = this.#entries.get(r.id ?? '');
        if (entry === undefined) return;
        this.#entries.delete(entry.id);
        const field = r.field ?? '';
        const err = new ConfigError(
          `registration of ${entry.endpoint.service}:${entry.endpoint.port}`,
          [{ path: FIELD_NAMES[field] ?? field, message: r.message ?? 'rejected' }],
        );
        this.#o.logger.warn('endpoint registration rejected', {
          id: entry.id,
          field,
          message: r.message,
        });
        // Rejected after a reconnect (e.g. the control plane's rules changed): nothing to reject into.
        entry.first?.reject(err);
        entry.first = undefined;
        for (const w of entry.closing) w.resolve();
        this.#maybeEndIdleStream();
        return;
      }
      case 'deregistered': {
        const entry = this.#entries.get(message.deregistered?.id ?? '');
        if (entry === undefined) return;
        this.#entries.delete(entry.id);
        for (const w of entry.closing) w.resolve();
        entry.closing = [];
        return;
      }
      case undefined:
        return;
    }
  }

  #onStreamDown(status: StatusObject): void {
    // Registrations being closed are gone with the stream; the rest are re-sent on reconnect.
    for (const entry of [...this.#entries.values()]) {
      if (entry.closing.length === 0) continue;
      this.#entries.delete(entry.id);
      for (const w of entry.closing) w.resolve();
    }
    if (this.#closed || this.#entries.size === 0) return;
    const delayMs = this.#backoff.schedule(() => {
      this.#open();
    });
    this.#o.logger.warn('registry stream ended; reconnecting', {
      controlPlane: this.#o.controlPlaneAddress,
      code: status.code,
      details: status.details,
      registrations: this.#entries.size,
      retryInMs: delayMs,
    });
  }

  #send(message: Record<string, unknown>): void {
    try {
      this.#call?.write(message);
    } catch (err) {
      this.#o.logger.warn('registry write failed', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #armHeartbeat(): void {
    this.#stopHeartbeat();
    const intervalMs = Math.max(50, Math.floor(this.#leaseTtlMs / 3));
    const tick = (): void => {
      this.#heartbeat = undefined;
      if (this.#call === undefined) return;
      this.#send({ heartbeat: {} });
      this.#heartbeat = this.#o.clock.setTimeout(tick, intervalMs);
      this.#heartbeat.unref?.();
    };
    this.#heartbeat = this.#o.clock.setTimeout(tick, intervalMs);
    this.#heartbeat.unref?.();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) this.#o.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  async #withTimeout(promise: Promise<void>): Promise<void> {
    let timer: TimerHandle | undefined;
    await Promise.race([
      promise,
      new Promise<void>((resolve) => {
        timer = this.#o.clock.setTimeout(resolve, this.#o.closeTimeoutMs);
        timer.unref?.();
      }),
    ]);
    if (timer !== undefined) this.#o.clock.clearTimeout(timer);
  }
}

/**
 * Creates a registrar: `register()` announces an endpoint to the control plane's workload
 * registry with a lease kept alive over one stream; `Registration.close()` deregisters at once.
 * Nothing connects until the first `register()`. Throws a ConfigError for bad options.
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  return new RegistryRegistrar(resolveOptions(options));
}
