// Fault injection for one request: the route's fault filters (Envoy's HTTPFault) drawn in chain
// order, delay first and then abort, with the header-controlled variants and max_active_faults.
// Spec: gRFC A33 (https://github.com/grpc/proposal/blob/master/A33-Fault-Injection.md);
// envoy/extensions/filters/http/fault/v3/fault.proto.
import type { FaultUpdate, Logger } from '@weft/xds-client';
import type { EffectiveHttpFilters } from '../routing/route-filters.js';

/** Request header: the delay to inject, in ms (when the config's delay is `header_delay`). */
export const FAULT_DELAY_HEADER = 'x-envoy-fault-delay-request' as const;
/** Request header: caps the delay percentage (percent: the denominator is 100). */
export const FAULT_DELAY_PERCENTAGE_HEADER = 'x-envoy-fault-delay-request-percentage' as const;
/** Request header: the HTTP status to abort with (when the config's abort is `header_abort`). */
export const FAULT_ABORT_HEADER = 'x-envoy-fault-abort-request' as const;
/** Request header: the gRPC status to abort with (when the config's abort is `header_abort`). */
export const FAULT_ABORT_GRPC_HEADER = 'x-envoy-fault-abort-grpc-request' as const;
/** Request header: caps the abort percentage (percent: the denominator is 100). */
export const FAULT_ABORT_PERCENTAGE_HEADER = 'x-envoy-fault-abort-request-percentage' as const;

const PER_MILLION = 1_000_000;
const DIGITS = /^\s*(\d+)\s*$/;

/** The status an injected abort ends the request with, as configured (the transport maps it). */
export type FaultAbort =
  | { readonly kind: 'http'; readonly httpStatus: number }
  | { readonly kind: 'grpc'; readonly grpcStatus: number };

/** The faults drawn for one request; undefined from `plan()` when none. */
export interface FaultPlan {
  /** Wait this long (ms, on the mesh clock) before sending; 0 = no delay. */
  readonly delayMs: number;
  /** End the request with this status after the delay, without sending it; undefined = send. */
  readonly abort: FaultAbort | undefined;
}

/** Counters of injected faults (plain numbers, read by `stats()`). */
export interface FaultCounters {
  /** Requests delayed by a fault filter. */
  faultsDelayed: number;
  /** Requests aborted by a fault filter. */
  faultsAborted: number;
  /** Fault filters skipped because max_active_faults were active. */
  faultsOverflowed: number;
}

/**
 * The HTTP status a gRPC client maps `httpStatus` to: gRPC's "HTTP to gRPC status code mapping"
 * (doc/http-grpc-status-mapping.md), which gRFC A33 uses for an `http_status` abort of a gRPC call.
 */
export function grpcStatusOfHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

function headerInt(header: (name: string) => string | undefined, name: string): number | undefined {
  const value = header(name);
  if (value === undefined) return undefined;
  const m = DIGITS.exec(value.split(',')[0] ?? '');
  return m === null ? undefined : Number(m[1]);
}

/** The configured share (per million), capped by a percentage header when the header form is used. */
function cappedPerMillion(
  configured: number,
  header: (name: string) => string | undefined,
  percentageHeader: string,
): number {
  const percent = headerInt(header, percentageHeader);
  if (percent === undefined) return configured;
  return Math.min(configured, percent * (PER_MILLION / 100));
}

/**
 * Draws the faults of requests, and keeps the count of faults active now (max_active_faults).
 * One per transport of a mesh; single-threaded like the event loop.
 */
export class FaultInjector {
  private active = 0;

  constructor(
    private readonly random: () => number,
    private readonly counters: FaultCounters,
    private readonly logger: Logger,
    /** `http` reads the HTTP abort header first; `grpc` the gRPC one (gRFC A33). */
    private readonly transport: 'http' | 'grpc',
  ) {}

  /** Faults active now: delays being waited out. */
  get activeFaults(): number {
    return this.active;
  }

  /**
   * Hot path for routes with fault filters: draws each fault filter of `filters` in chain order
   * (delay percentage, then abort percentage; an abort ends the chain). Counts and logs each
   * injected fault. Undefined when nothing is injected.
   */
  plan(
    filters: EffectiveHttpFilters,
    header: (lowerCaseName: string) => string | undefined,
    route: string,
  ): FaultPlan | undefined {
    let delayMs = 0;
    let abort: FaultAbort | undefined;
    for (const filter of filters) {
      if (filter.kind !== 'fault') continue;
      const fault = filter.fault;
      if (fault.maxActiveFaults !== undefined && this.active >= fault.maxActiveFaults) {
        this.counters.faultsOverflowed++;
        this.logger.debug('fault injection: max_active_faults reached, not injecting', {
          filter: filter.name,
          route,
          maxActiveFaults: fault.maxActiveFaults,
        });
        continue;
      }
      const delay = this.drawDelay(fault, header);
      if (delay !== undefined) {
        delayMs += delay;
        this.logger.debug('fault injection: delaying request', {
          filter: filter.name,
          route,
          delayMs: delay,
        });
      }
      abort = this.drawAbort(fault, header);
      if (abort !== undefined) {
        this.logger.debug('fault injection: aborting request', {
          filter: filter.name,
          route,
          ...abort,
        });
        break;
      }
    }
    if (delayMs > 0) this.counters.faultsDelayed++;
    if (abort !== undefined) this.counters.faultsAborted++;
    return delayMs > 0 || abort !== undefined ? { delayMs, abort } : undefined;
  }

  /** A delay starts: it counts as active until the returned function runs (call it once). */
  begin(): () => void {
    this.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active--;
    };
  }

  private hit(perMillion: number): boolean {
    return perMillion > 0 && this.random() * PER_MILLION < perMillion;
  }

  private drawDelay(
    fault: FaultUpdate,
    header: (name: string) => string | undefined,
  ): number | undefined {
    const delay = fault.delay;
    if (delay === undefined) return undefined;
    if (delay.kind === 'fixed') {
      return delay.delayMs > 0 && this.hit(delay.percentagePerMillion) ? delay.delayMs : undefined;
    }
    const ms = headerInt(header, FAULT_DELAY_HEADER);
    if (ms === undefined || ms === 0) return undefined;
    const share = cappedPerMillion(
      delay.percentagePerMillion,
      header,
      FAULT_DELAY_PERCENTAGE_HEADER,
    );
    return this.hit(share) ? ms : undefined;
  }

  private drawAbort(
    fault: FaultUpdate,
    header: (name: string) => string | undefined,
  ): FaultAbort | undefined {
    const config = fault.abort;
    if (config === undefined) return undefined;
    switch (config.kind) {
      case 'http':
        return this.hit(config.percentagePerMillion)
          ? { kind: 'http', httpStatus: config.httpStatus }
          : undefined;
      case 'grpc':
        return this.hit(config.percentagePerMillion)
          ? { kind: 'grpc', grpcStatus: config.grpcStatus }
          : undefined;
      case 'header': {
        const abort = this.headerAbort(header);
        if (abort === undefined) return undefined;
        const share = cappedPerMillion(
          config.percentagePerMillion,
          header,
          FAULT_ABORT_PERCENTAGE_HEADER,
        );
        return this.hit(share) ? abort : undefined;
      }
    }
  }

  /** The abort the request's headers ask for; the transport's own kind of status first. */
  private headerAbort(header: (name: string) => string | undefined): FaultAbort | undefined {
    const http = headerInt(header, FAULT_ABORT_HEADER);
    const grpc = headerInt(header, FAULT_ABORT_GRPC_HEADER);
    const httpAbort: FaultAbort | undefined =
      http !== undefined && http >= 200 && http < 600
        ? { kind: 'http', httpStatus: http }
        : undefined;
    const grpcAbort: FaultAbort | undefined =
      grpc !== undefined && grpc <= 16 ? { kind: 'grpc', grpcStatus: grpc } : undefined;
    return this.transport === 'grpc' ? (grpcAbort ?? httpAbort) : (httpAbort ?? grpcAbort);
  }
}
