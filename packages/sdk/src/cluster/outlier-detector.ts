// Outlier detection for one cluster: passive health from attempt outcomes, Envoy's semantics.
// Spec: envoy arch_overview/upstream/outlier (ejection algorithm, detection types) and
// config.cluster.v3.OutlierDetection; gRFC A50 for the max-ejection rule.
import type { Channel } from 'node:diagnostics_channel';
import type { Clock, Logger, OutlierDetectionUpdate, TimerHandle } from '@weft/xds-client';
import type { AttemptDetail, AttemptOutcome } from '../runtime/mesh-runtime.js';

/** diagnostics_channel name on which every ejection and un-ejection is published. */
export const OUTLIER_CHANNEL = 'weft:sdk:outlier' as const;

/** Why a host was ejected (Envoy's detector names, kebab-case). */
export type OutlierEjectionReason =
  | 'consecutive-5xx'
  | 'consecutive-gateway-failure'
  | 'consecutive-local-origin-failure'
  | 'success-rate'
  | 'local-origin-success-rate'
  | 'failure-percentage'
  | 'local-origin-failure-percentage';

/** Published on OUTLIER_CHANNEL and logged. */
export interface OutlierEvent {
  readonly action: 'eject' | 'uneject';
  readonly clusterName: string;
  /** `address:port`. */
  readonly endpoint: string;
  /** Set for 'eject'. */
  readonly reason: OutlierEjectionReason | undefined;
  /** Ejections of this host so far (this one included). */
  readonly ejectionCount: number;
  /** Epoch ms when the ejection expires (un-ejected at the first interval tick after); 0 for 'uneject'. */
  readonly ejectedUntilMs: number;
}

interface Bucket {
  success: number;
  total: number;
}

/** The outlier state of one host of the cluster. Balancers hold these; the detector never replaces one. */
export interface OutlierHost {
  readonly key: string;
  ejected: boolean;
  ejectedAtMs: number;
  ejectedUntilMs: number;
  /** Ejections so far (never decreases). */
  ejectionCount: number;
  /** Envoy's ejection multiplier: +1 per ejection, -1 per interval the host spends not ejected. */
  multiplier: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  /** This interval's external-origin results (all results when errors are not split). */
  readonly external: Bucket;
  /** This interval's local-origin results (only when split_external_local_origin_errors). */
  readonly localOrigin: Bucket;
}

export interface OutlierDetectorOptions {
  readonly clusterName: string;
  readonly config: OutlierDetectionUpdate;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Uniform in [0, 1), for the enforcing_* percentages and the ejection jitter. */
  readonly random: () => number;
  readonly channel: Channel;
  /** Called after every ejection and un-ejection (balancers drop their cached health view). */
  readonly onChange: () => void;
}

const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);
/** A 'server-error' without a status (should not happen) counts as a plain 500. */
const DEFAULT_SERVER_ERROR_STATUS = 500;
/** Envoy maps local-origin failures to a 503 (gateway class) when errors are not split. */
const LOCAL_ORIGIN_AS_STATUS = 503;

/**
 * Ejects hosts of one cluster on consecutive errors (inline, as results arrive) and on success
 * rate / failure percentage (every `interval`); un-ejects at the first interval tick after the
 * ejection time, which is base_ejection_time × multiplier capped at max(max_ejection_time, base).
 */
export class OutlierDetector {
  readonly clusterName: string;
  private configValue: OutlierDetectionUpdate;
  private readonly options: OutlierDetectorOptions;
  private readonly hosts = new Map<string, OutlierHost>();
  private timer: TimerHandle | undefined;
  private closed = false;
  /** Ejections and un-ejections since the detector was created. */
  ejectionsTotal = 0;
  unejectionsTotal = 0;

  constructor(options: OutlierDetectorOptions) {
    this.options = options;
    this.clusterName = options.clusterName;
    this.configValue = options.config;
    this.arm();
  }

  get config(): OutlierDetectionUpdate {
    return this.configValue;
  }

  /** Hosts ejected right now. */
  get ejectionsActive(): number {
    let n = 0;
    for (const h of this.hosts.values()) if (h.ejected) n++;
    return n;
  }

  /** Applies a new config; the timer is re-armed when the interval changed. */
  update(config: OutlierDetectionUpdate): void {
    const rearm = config.intervalMs !== this.configValue.intervalMs;
    this.configValue = config;
    if (rearm && !this.closed) {
      if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
      this.arm();
    }
  }

  /** The host state for `key`, created on first use. */
  host(key: string): OutlierHost {
    let h = this.hosts.get(key);
    if (h === undefined) {
      h = {
        key,
        ejected: false,
        ejectedAtMs: 0,
        ejectedUntilMs: 0,
        ejectionCount: 0,
        multiplier: 0,
        consecutive5xx: 0,
        consecutiveGatewayFailure: 0,
        consecutiveLocalOriginFailure: 0,
        external: { success: 0, total: 0 },
        localOrigin: { success: 0, total: 0 },
      };
      this.hosts.set(key, h);
    }
    return h;
  }

  /** Makes the cluster's host set exactly `keys` (the max-ejection percentage counts these). */
  setHosts(keys: ReadonlySet<string>): void {
    let changed = false;
    for (const [key, h] of this.hosts) {
      if (!keys.has(key)) {
        this.hosts.delete(key);
        changed ||= h.ejected;
      }
    }
    for (const key of keys) this.host(key);
    if (changed) this.options.onChange();
  }

  /** Records the end of an attempt on `host` and ejects it inline on a consecutive-error threshold. */
  record(host: OutlierHost, outcome: AttemptOutcome, detail: AttemptDetail | undefined): void {
    if (this.closed || detail?.unused === true || this.hosts.get(host.key) !== host) return;
    const c = this.configValue;
    const localFailure =
      outcome === 'connect-failure' || outcome === 'reset' || outcome === 'timeout';
    if (c.splitExternalLocalOriginErrors) {
      host.localOrigin.total++;
      if (localFailure) {
        if (++host.consecutiveLocalOriginFailure >= c.consecutiveLocalOriginFailure) {
          host.consecutiveLocalOriginFailure = 0;
          this.maybeEject(
            host,
            'consecutive-local-origin-failure',
            c.enforcingConsecutiveLocalOriginFailure,
          );
        }
        return; // local-origin failures never reach the external (5xx) detectors when split
      }
      host.localOrigin.success++;
      host.consecutiveLocalOriginFailure = 0;
    }
    const status =
      outcome === 'success'
        ? 200
        : outcome === 'server-error'
          ? (detail?.httpStatus ?? DEFAULT_SERVER_ERROR_STATUS)
          : LOCAL_ORIGIN_AS_STATUS;
    host.external.total++;
    if (status < 500) {
      host.external.success++;
      host.consecutive5xx = 0;
      host.consecutiveGatewayFailure = 0;
      return;
    }
    if (GATEWAY_STATUSES.has(status)) {
      if (++host.consecutiveGatewayFailure >= c.consecutiveGatewayFailure) {
        host.consecutiveGatewayFailure = 0;
        this.maybeEject(host, 'consecutive-gateway-failure', c.enforcingConsecutiveGatewayFailure);
      }
    } else {
      host.consecutiveGatewayFailure = 0;
    }
    if (++host.consecutive5xx >= c.consecutive5xx) {
      host.consecutive5xx = 0;
      this.maybeEject(host, 'consecutive-5xx', c.enforcingConsecutive5xx);
    }
  }

  /** One interval sweep: un-eject expired hosts, then success-rate and failure-percentage ejection. */
  tick(): void {
    if (this.closed) return;
    const c = this.configValue;
    const now = this.options.clock.now();
    for (const h of this.hosts.values()) {
      if (h.ejected) {
        if (now >= h.ejectedUntilMs) this.uneject(h);
      } else if (h.multiplier > 0) {
        h.multiplier--;
      }
    }
    const hosts = [...this.hosts.values()];
    this.sweepSuccessRate(hosts, (h) => h.external, 'success-rate', c.enforcingSuccessRate);
    this.sweepFailurePercentage(
      hosts,
      (h) => h.external,
      'failure-percentage',
      c.enforcingFailurePercentage,
    );
    if (c.splitExternalLocalOriginErrors) {
      this.sweepSuccessRate(
        hosts,
        (h) => h.localOrigin,
        'local-origin-success-rate',
        c.enforcingLocalOriginSuccessRate,
      );
      this.sweepFailurePercentage(
        hosts,
        (h) => h.localOrigin,
        'local-origin-failure-percentage',
        c.enforcingFailurePercentageLocalOrigin,
      );
    }
    for (const h of hosts) {
      h.external.success = h.external.total = 0;
      h.localOrigin.success = h.localOrigin.total = 0;
    }
  }

  /** Stops the interval timer; later results are ignored and ejections lifted. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    let changed = false;
    for (const h of this.hosts.values()) {
      changed ||= h.ejected;
      h.ejected = false;
    }
    if (changed) this.options.onChange();
  }

  /** JSON-safe counters for describe(). */
  describe(): Record<string, unknown> {
    return {
      intervalMs: this.configValue.intervalMs,
      baseEjectionTimeMs: this.configValue.baseEjectionTimeMs,
      maxEjectionPercent: this.configValue.maxEjectionPercent,
      ejectionsActive: this.ejectionsActive,
      ejectionsTotal: this.ejectionsTotal,
      unejectionsTotal: this.unejectionsTotal,
    };
  }

  private arm(): void {
    const timer = this.options.clock.setTimeout(() => {
      this.tick();
      if (!this.closed) this.arm();
    }, this.configValue.intervalMs);
    timer.unref?.();
    this.timer = timer;
  }

  private sweepSuccessRate(
    hosts: readonly OutlierHost[],
    bucket: (h: OutlierHost) => Bucket,
    reason: OutlierEjectionReason,
    enforcing: number,
  ): void {
    const c = this.configValue;
    const valid = hosts.filter((h) => !h.ejected && bucket(h).total >= c.successRateRequestVolume);
    if (valid.length === 0 || valid.length < c.successRateMinimumHosts) return;
    const rates = valid.map((h) => (100 * bucket(h).success) / bucket(h).total);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    const variance = rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length;
    const threshold = mean - (c.successRateStdevFactor / 1000) * Math.sqrt(variance);
    valid.forEach((h, i) => {
      if ((rates[i] ?? 100) < threshold) this.maybeEject(h, reason, enforcing);
    });
  }

  private sweepFailurePercentage(
    hosts: readonly OutlierHost[],
    bucket: (h: OutlierHost) => Bucket,
    reason: OutlierEjectionReason,
    enforcing: number,
  ): void {
    const c = this.configValue;
    const valid = hosts.filter(
      (h) => !h.ejected && bucket(h).total >= c.failurePercentageRequestVolume,
    );
    if (valid.length === 0 || valid.length < c.failurePercentageMinimumHosts) return;
    for (const h of valid) {
      const b = bucket(h);
      const failurePercent = (100 * (b.total - b.success)) / b.total;
      if (failurePercent > c.failurePercentageThreshold) this.maybeEject(h, reason, enforcing);
    }
  }

  /** Ejects `host` when enforced (enforcing % chance) and the max-ejection percentage allows. */
  private maybeEject(host: OutlierHost, reason: OutlierEjectionReason, enforcing: number): void {
    if (host.ejected || enforcing <= 0) return;
    if (enforcing < 100 && this.options.random() * 100 >= enforcing) return;
    const c = this.configValue;
    // gRFC A50 / Envoy: eject while the share already ejected is below the maximum, so the first
    // host can always go when max_ejection_percent > 0 (Envoy: "if no hosts have been ejected").
    const ejected = this.ejectionsActive;
    if (
      (100 * ejected) / this.hosts.size >= c.maxEjectionPercent &&
      !(c.alwaysEjectOneHost && ejected === 0)
    )
      return;
    const now = this.options.clock.now();
    host.multiplier++;
    host.ejectionCount++;
    const cap = Math.max(c.baseEjectionTimeMs, c.maxEjectionTimeMs);
    const durationMs =
      Math.min(c.baseEjectionTimeMs * host.multiplier, cap) +
      Math.floor(this.options.random() * c.maxEjectionTimeJitterMs);
    host.ejected = true;
    host.ejectedAtMs = now;
    host.ejectedUntilMs = now + durationMs;
    host.consecutive5xx = 0;
    host.consecutiveGatewayFailure = 0;
    host.consecutiveLocalOriginFailure = 0;
    this.ejectionsTotal++;
    this.publish({
      action: 'eject',
      clusterName: this.clusterName,
      endpoint: host.key,
      reason,
      ejectionCount: host.ejectionCount,
      ejectedUntilMs: host.ejectedUntilMs,
    });
    this.options.logger.warn('mesh outlier ejected', {
      cluster: this.clusterName,
      endpoint: host.key,
      reason,
      ejectionCount: host.ejectionCount,
      ejectedForMs: durationMs,
    });
    this.options.onChange();
  }

  private uneject(host: OutlierHost): void {
    host.ejected = false;
    host.ejectedUntilMs = 0;
    this.unejectionsTotal++;
    this.publish({
      action: 'uneject',
      clusterName: this.clusterName,
      endpoint: host.key,
      reason: undefined,
      ejectionCount: host.ejectionCount,
      ejectedUntilMs: 0,
    });
    this.options.logger.info('mesh outlier un-ejected', {
      cluster: this.clusterName,
      endpoint: host.key,
      ejectionCount: host.ejectionCount,
      ejectedForMs: this.options.clock.now() - host.ejectedAtMs,
    });
    this.options.onChange();
  }

  private publish(event: OutlierEvent): void {
    if (this.options.channel.hasSubscribers) this.options.channel.publish(event);
  }
}
