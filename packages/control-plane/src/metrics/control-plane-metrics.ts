// Prometheus metrics of one control plane, fed only by its events (no metric calls in protocol
// code). https://prometheus.io/docs/practices/naming/ ; DESIGN.md "Configuration" (rejections are a metric).
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ADS_TYPE_URLS, ConfigError, type AdsTypeUrl, type Clock } from '@weft/xds-client';
import type { ClientKind } from '../contracts.js';
import type { ControlPlaneEvents } from '../control-plane-events.js';
import type {
  ConfigAppliedEvent,
  ConfigRejection,
  SnapshotBuildEvent,
} from '../control-plane-status.js';
import type {
  EndpointDeregisteredEvent,
  EndpointRegisteredEvent,
} from '../registry/registered-endpoint.js';
import {
  TYPE_SHORT_NAMES,
  type AckEvent,
  type ClientStatus,
  type NackEvent,
  type PushEvent,
} from '../server/client-status.js';

/** Buckets of `weft_cp_push_convergence_seconds`: 1 ms to 30 s. */
export const CONVERGENCE_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** Buckets of `weft_cp_snapshot_build_seconds`: 1 ms to 10 s. */
export const SNAPSHOT_BUILD_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const CLIENT_KINDS: readonly ClientKind[] = ['weft', 'grpc', 'envoy'];
const TRANSPORTS = ['sotw', 'delta'] as const;
const REJECTION_REASONS: readonly ConfigRejection['reason'][] = ['invalid-config', 'inconsistent'];
/** How many generations' apply times are kept for convergence (older pushes are not timed). */
const APPLIED_GENERATIONS_KEPT = 64;

/** Options of {@link ControlPlaneMetrics}. */
export interface ControlPlaneMetricsOptions {
  /** Where the metrics are registered; each name once per registry. */
  readonly registry: Registry;
  /** Time source of the convergence histogram. */
  readonly clock: Clock;
}

/** A push waiting for its ACK. */
interface PendingPush {
  readonly nonce: string;
  readonly generation: number;
}

interface StreamRecord {
  readonly connectedAtMs: number;
  readonly pending: Map<AdsTypeUrl, PendingPush>;
}

/**
 * The `weft_cp_*` metrics (README "Metrics"). Call {@link attach} with the control plane whose
 * events feed them; {@link unregister} removes them from the registry.
 */
export class ControlPlaneMetrics {
  readonly #registry: Registry;
  readonly #clock: Clock;
  readonly #clients: Gauge<'kind' | 'transport'>;
  readonly #connections: Counter<'security'>;
  readonly #mtlsRefusals: Counter<'service' | 'reason'>;
  readonly #pushes: Counter<'type'>;
  readonly #pushBytes: Counter<'type'>;
  readonly #acks: Counter<'type'>;
  readonly #nacks: Counter<'type' | 'kind'>;
  readonly #configApplied: Counter;
  readonly #configRejected: Counter<'reason'>;
  readonly #configGeneration: Gauge;
  readonly #convergence: Histogram<'type'>;
  readonly #snapshotBuild: Histogram;
  readonly #registeredEndpoints: Gauge<'service'>;
  readonly #registryExpirations: Counter;
  /** generation → ms (clock) it was applied; the newest {@link APPLIED_GENERATIONS_KEPT}. */
  readonly #appliedAtMs = new Map<number, number>();
  readonly #streams = new Map<number, StreamRecord>();
  /** Names this instance registered, for {@link unregister}. */
  readonly #names: string[] = [];

  /** Registers every metric; throws a ConfigError (WEFT_INVALID_CONFIG) if a name is already in `registry`. */
  constructor(options: ControlPlaneMetricsOptions) {
    this.#registry = options.registry;
    this.#clock = options.clock;
    const registers = [this.#registry];
    const make = <M>(name: string, create: () => M): M => {
      try {
        const metric = create();
        this.#names.push(name);
        return metric;
      } catch (err) {
        this.unregister();
        throw new ConfigError('control plane options', [
          {
            path: 'metricsRegistry',
            message: `cannot register ${name} (another control plane using this registry?): ${
              err instanceof Error ? err.message : String(err)
            }`,
          },
        ]);
      }
    };
    this.#clients = make(
      'weft_cp_xds_clients',
      () =>
        new Gauge({
          name: 'weft_cp_xds_clients',
          help: 'Connected xDS streams (counted from their first request), by client kind and transport (sotw|delta).',
          labelNames: ['kind', 'transport'] as const,
          registers,
        }),
    );
    this.#connections = make(
      'weft_cp_xds_connections_total',
      () =>
        new Counter({
          name: 'weft_cp_xds_connections_total',
          help: 'xDS streams identified (first request), by the port they came through (security=plaintext|mtls).',
          labelNames: ['security'] as const,
          registers,
        }),
    );
    this.#mtlsRefusals = make(
      'weft_cp_mtls_refusals_total',
      () =>
        new Counter({
          name: 'weft_cp_mtls_refusals_total',
          help: 'Calls refused on the mTLS xDS port, by service (ads or the gRPC service name) and reason (no-client-certificate|untrusted-certificate|expired-certificate|no-spiffe-id|identity-mismatch).',
          labelNames: ['service', 'reason'] as const,
          registers,
        }),
    );
    this.#pushes = make(
      'weft_cp_xds_pushes_total',
      () =>
        new Counter({
          name: 'weft_cp_xds_pushes_total',
          help: 'xDS responses written to clients, by resource type (cds|eds|lds|rds|sds).',
          labelNames: ['type'] as const,
          registers,
        }),
    );
    this.#pushBytes = make(
      'weft_cp_xds_push_bytes_total',
      () =>
        new Counter({
          name: 'weft_cp_xds_push_bytes_total',
          help: 'Bytes of xDS responses written, by type: the sum of the encoded Any values of the resources carried (no response envelope, no gRPC framing).',
          labelNames: ['type'] as const,
          registers,
        }),
    );
    this.#acks = make(
      'weft_cp_xds_acks_total',
      () =>
        new Counter({
          name: 'weft_cp_xds_acks_total',
          help: 'xDS responses ACKed by clients, by resource type.',
          labelNames: ['type'] as const,
          registers,
        }),
    );
    this.#nacks = make(
      'weft_cp_xds_nacks_total',
      () =>
        new Counter({
          name: 'weft_cp_xds_nacks_total',
          help: 'xDS responses NACKed by clients, by resource type and client kind. Any NACK is a control-plane bug until shown otherwise.',
          labelNames: ['type', 'kind'] as const,
          registers,
        }),
    );
    this.#configApplied = make(
      'weft_cp_config_applied_total',
      () =>
        new Counter({
          name: 'weft_cp_config_applied_total',
          help: 'Configs loaded and served (including reloads that changed nothing).',
          registers,
        }),
    );
    this.#configRejected = make(
      'weft_cp_config_rejected_total',
      () =>
        new Counter({
          name: 'weft_cp_config_rejected_total',
          help: 'Configs rejected while the last good one kept serving, by reason (invalid-config|inconsistent).',
          labelNames: ['reason'] as const,
          registers,
        }),
    );
    this.#configGeneration = make(
      'weft_cp_config_generation',
      () =>
        new Gauge({
          name: 'weft_cp_config_generation',
          help: 'Generation of the snapshot being served (0 = none yet).',
          registers,
        }),
    );
    this.#convergence = make(
      'weft_cp_push_convergence_seconds',
      () =>
        new Histogram({
          name: 'weft_cp_push_convergence_seconds',
          help: 'Time from a config generation being applied (or the client connecting, if later) to the client ACKing the response of that type pushed for it, by type.',
          labelNames: ['type'] as const,
          buckets: [...CONVERGENCE_BUCKETS_SECONDS],
          registers,
        }),
    );
    this.#snapshotBuild = make(
      'weft_cp_snapshot_build_seconds',
      () =>
        new Histogram({
          name: 'weft_cp_snapshot_build_seconds',
          help: 'Time to translate, encode and check the snapshots of every client view for one config (accepted or found inconsistent).',
          buckets: [...SNAPSHOT_BUILD_BUCKETS_SECONDS],
          registers,
        }),
    );
    this.#registeredEndpoints = make(
      'weft_cp_registered_endpoints',
      () =>
        new Gauge({
          name: 'weft_cp_registered_endpoints',
          help: 'Endpoints held by the workload registry (self-registered, leased), by service.',
          labelNames: ['service'] as const,
          registers,
        }),
    );
    this.#registryExpirations = make(
      'weft_cp_registry_expirations_total',
      () =>
        new Counter({
          name: 'weft_cp_registry_expirations_total',
          help: 'Registered endpoints dropped because their lease lapsed (no message within the lease TTL; a closed stream is not an expiration).',
          registers,
        }),
    );
    // Known label values start at 0, so a rate() has a series before the first event.
    for (const kind of CLIENT_KINDS)
      for (const transport of TRANSPORTS) this.#clients.set({ kind, transport }, 0);
    for (const typeUrl of ADS_TYPE_URLS) {
      const type = TYPE_SHORT_NAMES[typeUrl];
      this.#pushes.inc({ type }, 0);
      this.#pushBytes.inc({ type }, 0);
      this.#acks.inc({ type }, 0);
      for (const kind of CLIENT_KINDS) this.#nacks.inc({ type, kind }, 0);
      this.#convergence.zero({ type });
    }
    this.#configApplied.inc(0);
    for (const reason of REJECTION_REASONS) this.#configRejected.inc({ reason }, 0);
    this.#configGeneration.set(0);
    this.#registryExpirations.inc(0);
    for (const security of ['plaintext', 'mtls']) this.#connections.inc({ security }, 0);
  }

  /** Subscribes to a control plane's events; returns the function that unsubscribes. */
  attach(source: EventEmitter<ControlPlaneEvents>): () => void {
    source.on('connect', this.#onConnect);
    source.on('disconnect', this.#onDisconnect);
    source.on('mtls-refused', this.#onMtlsRefused);
    source.on('push', this.#onPush);
    source.on('ack', this.#onAck);
    source.on('nack', this.#onNack);
    source.on('config-applied', this.#onConfigApplied);
    source.on('config-rejected', this.#onConfigRejected);
    source.on('snapshot-build', this.#onSnapshotBuild);
    source.on('endpoint-registered', this.#onEndpointRegistered);
    source.on('endpoint-deregistered', this.#onEndpointDeregistered);
    return () => {
      source.off('endpoint-registered', this.#onEndpointRegistered);
      source.off('endpoint-deregistered', this.#onEndpointDeregistered);
      source.off('connect', this.#onConnect);
      source.off('disconnect', this.#onDisconnect);
      source.off('mtls-refused', this.#onMtlsRefused);
      source.off('push', this.#onPush);
      source.off('ack', this.#onAck);
      source.off('nack', this.#onNack);
      source.off('config-applied', this.#onConfigApplied);
      source.off('config-rejected', this.#onConfigRejected);
      source.off('snapshot-build', this.#onSnapshotBuild);
    };
  }

  /** Removes every metric of this instance from the registry. */
  unregister(): void {
    for (const name of this.#names) this.#registry.removeSingleMetric(name);
  }

  readonly #onMtlsRefused = (event: { service: string; reason: string }): void => {
    this.#mtlsRefusals.inc({ service: event.service, reason: event.reason });
  };

  readonly #onConnect = (client: ClientStatus): void => {
    this.#connections.inc({ security: client.transport });
    this.#clients.inc({ kind: client.kind, transport: client.protocol });
    this.#streams.set(client.streamId, { connectedAtMs: client.connectedAtMs, pending: new Map() });
  };

  readonly #onDisconnect = (client: ClientStatus): void => {
    this.#clients.dec({ kind: client.kind, transport: client.protocol });
    this.#streams.delete(client.streamId);
  };

  readonly #onPush = (event: PushEvent): void => {
    const type = TYPE_SHORT_NAMES[event.typeUrl];
    this.#pushes.inc({ type });
    this.#pushBytes.inc({ type }, event.bytes);
    // Only the latest push of a type can be ACKed (older nonces are stale).
    this.#streams
      .get(event.streamId)
      ?.pending.set(event.typeUrl, { nonce: event.nonce, generation: event.generation });
  };

  readonly #onAck = (event: AckEvent): void => {
    this.#acks.inc({ type: TYPE_SHORT_NAMES[event.typeUrl] });
    this.#observeConvergence(event.streamId, event.typeUrl, event.nonce);
  };

  readonly #onNack = (event: NackEvent): void => {
    this.#nacks.inc({ type: TYPE_SHORT_NAMES[event.typeUrl], kind: event.kind });
    // The client keeps its previous version: this push will never converge.
    this.#streams.get(event.streamId)?.pending.delete(event.typeUrl);
  };

  readonly #onConfigApplied = (event: ConfigAppliedEvent): void => {
    this.#configApplied.inc();
    this.#configGeneration.set(event.version);
    this.#appliedAtMs.set(event.version, event.atMs);
    for (const generation of this.#appliedAtMs.keys()) {
      if (this.#appliedAtMs.size <= APPLIED_GENERATIONS_KEPT) break;
      this.#appliedAtMs.delete(generation);
    }
  };

  readonly #onConfigRejected = (rejection: ConfigRejection): void => {
    this.#configRejected.inc({ reason: rejection.reason });
  };

  readonly #onSnapshotBuild = (event: SnapshotBuildEvent): void => {
    this.#snapshotBuild.observe(event.durationMs / 1000);
  };

  readonly #onEndpointRegistered = (event: EndpointRegisteredEvent): void => {
    if (event.previous !== null)
      this.#registeredEndpoints.dec({ service: event.previous.endpoint.service });
    this.#registeredEndpoints.inc({ service: event.entry.endpoint.service });
  };

  readonly #onEndpointDeregistered = (event: EndpointDeregisteredEvent): void => {
    this.#registeredEndpoints.dec({ service: event.entry.endpoint.service });
    if (event.reason === 'expired') this.#registryExpirations.inc();
  };

  #observeConvergence(streamId: number, typeUrl: AdsTypeUrl, nonce: string): void {
    const stream = this.#streams.get(streamId);
    const pending = stream?.pending.get(typeUrl);
    if (stream === undefined || pending?.nonce !== nonce) return;
    stream.pending.delete(typeUrl);
    const appliedAtMs = this.#appliedAtMs.get(pending.generation);
    if (appliedAtMs === undefined) return;
    // A client that connected after the apply converges from its connection, not from the apply.
    const startMs = Math.max(appliedAtMs, stream.connectedAtMs);
    const seconds = Math.max(0, this.#clock.now() - startMs) / 1000;
    this.#convergence.observe({ type: TYPE_SHORT_NAMES[typeUrl] }, seconds);
  }
}
