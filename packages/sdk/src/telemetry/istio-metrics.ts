// Istio's standard request metrics (https://istio.io/latest/docs/reference/config/metrics/) with
// Istio's names, labels and buckets, so existing Grafana / Kiali / Flagger queries work on Weft.
// One update per request at its end: a map lookup by (reporter, protocol, host, code, grpc status,
// flags) and a few additions on plain numbers; the labels of each series are built once; prom-client
// reads the series at scrape time. The number of series is bounded (a budget, then "overflow").
import type { Logger } from '@weft/xds-client';
import type { Metric, Registry } from 'prom-client';

/** Istio's `istio_request_duration_milliseconds` buckets. */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
];
/** Istio's `istio_request_bytes` / `istio_response_bytes` buckets (powers of ten). */
export const ISTIO_BYTES_BUCKETS: readonly number[] = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
];
/** Default of IstioMetricsOptions.maxSeries. */
export const DEFAULT_MAX_SERIES = 1000;
/** Istio's value for a label it cannot know (no mTLS peer, no workload metadata). */
export const UNKNOWN = 'unknown';
/** Every label of a series that went over the budget (reporter and protocol aside). */
export const OVERFLOW = 'overflow';

/** Istio's label names, in Istio's order. */
export const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

export type IstioLabelName = (typeof ISTIO_LABELS)[number];
export type IstioLabels = Record<IstioLabelName, string>;

/** A workload as Istio's labels see it. */
export interface IstioPeer {
  readonly workload: string;
  readonly namespace: string;
  readonly app: string;
  readonly version: string;
}

/** One finished request, as the metrics need it. */
export interface IstioRequestRecord {
  readonly reporter: 'source' | 'destination';
  readonly protocol: 'http' | 'grpc';
  /** The destination service's host as the caller wrote it (no port): `inventory`. */
  readonly host: string;
  /** HTTP status; for gRPC 200 when the call got an HTTP/2 response, else the mesh's status. 0: none. */
  readonly responseCode: number;
  /** gRPC status code as a number string; `''` for HTTP (Istio's value). */
  readonly grpcStatus: string;
  readonly responseFlags: string;
  readonly durationMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /**
   * Destination side: the downstream peer as the inbound guard saw it (SPIFFE id on mTLS).
   * Absent: unknown peer, connection_security_policy `none`.
   */
  readonly peer?: { readonly principal: string | undefined; readonly mtls: boolean };
}

/** `spiffe://TD/ns/NS/sa/SA` → `TD/ns/NS/sa/SA` (Istio's principal label) and NS. */
function principalParts(spiffeId: string | undefined): { principal: string; namespace: string } {
  if (spiffeId === undefined) return { principal: UNKNOWN, namespace: UNKNOWN };
  const principal = spiffeId.startsWith('spiffe://')
    ? spiffeId.slice('spiffe://'.length)
    : spiffeId;
  const m = /\/ns\/([^/]+)\//.exec(principal);
  return { principal, namespace: m?.[1] ?? UNKNOWN };
}

export interface IstioMetricsOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** This process's workload: source on the client side, destination on the server side. */
  readonly self: IstioPeer;
  /** Series per metric before new label sets fold into the overflow series. Default 1000. */
  readonly maxSeries?: number;
}

/** One histogram of one series: per-bucket counts (not cumulative; the last is +Inf) and sum. */
interface HistogramState {
  readonly counts: number[];
  sum: number;
}

/** The state of one label set, plain numbers: what a request's end updates. */
interface Series {
  readonly labels: IstioLabels;
  requests: number;
  readonly duration: HistogramState;
  readonly requestBytes: HistogramState;
  readonly responseBytes: HistogramState;
}

/** A sample as prom-client's Registry reads it from `metric.get()`. */
interface MetricValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

function histogramState(bounds: readonly number[]): HistogramState {
  return { counts: new Array<number>(bounds.length + 1).fill(0), sum: 0 };
}

function observe(h: HistogramState, bounds: readonly number[], v: number): void {
  let i = 0;
  while (i < bounds.length && v > (bounds[i] ?? 0)) i++;
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum += v;
}

/**
 * A metric family prom-client's Registry can serialise (`name`, `help`, `type`, `get()`), read
 * from the series at scrape time: the request path only adds to plain numbers, none of
 * prom-client's per-observation label validation and hashing (4 families x 19 labels).
 */
class SeriesFamily {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly series: () => Iterable<Series>,
    private readonly pick: ((s: Series) => HistogramState) | undefined,
    private readonly bounds: readonly number[],
  ) {}

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: MetricValue[];
  }> {
    const values: MetricValue[] = [];
    for (const s of this.series()) {
      if (this.pick === undefined) {
        values.push({ labels: s.labels, value: s.requests });
        continue;
      }
      const h = this.pick(s);
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += h.counts[i] ?? 0;
        values.push({ labels: { ...s.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      acc += h.counts[this.bounds.length] ?? 0;
      values.push({
        labels: { ...s.labels, le: '+Inf' },
        value: acc,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: s.labels, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: acc, metricName: `${this.name}_count` });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** Registry.resetMetrics(): the series are the mesh's running totals; nothing to reset. */
  reset(): void {
    // Counters of a live mesh are never reset.
  }
}

/** Counters of the metrics themselves (`mesh.stats().telemetry`). */
export interface IstioMetricsStats {
  /** Label sets in use (the overflow series included). */
  readonly series: number;
  readonly maxSeries: number;
  /** Requests counted into an overflow series because the budget was used up. */
  readonly overflowed: number;
}

/**
 * The destination service's name and namespace from the host the caller wrote: `name.ns`,
 * `name.ns.svc…` give `ns`; any other host (`inventory`, `api.example.com`) is taken to be in the
 * caller's namespace, as a Kubernetes short name resolves.
 */
export function serviceNameAndNamespace(host: string, selfNamespace: string): [string, string] {
  const parts = host.split('.');
  const name = parts[0] ?? host;
  if (parts.length === 2 || (parts.length > 2 && parts[2] === 'svc')) {
    return [name, parts[1] ?? selfNamespace];
  }
  return [name, selfNamespace];
}

/** The host part of `host[:port]` / `[v6]:port`. */
export function hostOf(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

/** `istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`. */
export class IstioMetrics {
  private readonly series = new Map<string, Series>();
  private readonly maxSeries: number;
  private overflowed = 0;
  private warned = false;

  constructor(private readonly options: IstioMetricsOptions) {
    this.maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
    const all = (): Iterable<Series> => this.series.values();
    const families = [
      new SeriesFamily(
        'istio_requests_total',
        'Requests, one per request at its end (retries are not extra requests), as Istio counts them',
        'counter',
        all,
        undefined,
        [],
      ),
      new SeriesFamily(
        'istio_request_duration_milliseconds',
        'Request duration in ms, from dispatch to the end of the response',
        'histogram',
        all,
        (s) => s.duration,
        ISTIO_DURATION_BUCKETS_MS,
      ),
      new SeriesFamily(
        'istio_request_bytes',
        'Request body size in bytes',
        'histogram',
        all,
        (s) => s.requestBytes,
        ISTIO_BYTES_BUCKETS,
      ),
      new SeriesFamily(
        'istio_response_bytes',
        'Response body size in bytes',
        'histogram',
        all,
        (s) => s.responseBytes,
        ISTIO_BYTES_BUCKETS,
      ),
    ];
    // prom-client types registerMetric for its own classes; it reads name, help, type, get().
    for (const f of families) options.registry.registerMetric(f as unknown as Metric);
  }

  /** Counts one finished request: a few additions on the series of its label set. */
  record(r: IstioRequestRecord): void {
    const peer =
      r.peer === undefined ? '' : `|${r.peer.mtls ? 'm' : 'p'}|${r.peer.principal ?? ''}`;
    const key = `${r.reporter}|${r.protocol}|${r.host}|${r.responseCode}|${r.grpcStatus}|${r.responseFlags}${peer}`;
    const s = this.series.get(key) ?? this.newSeries(key, r);
    s.requests++;
    observe(s.duration, ISTIO_DURATION_BUCKETS_MS, r.durationMs);
    observe(s.requestBytes, ISTIO_BYTES_BUCKETS, r.requestBytes > 0 ? r.requestBytes : 0);
    observe(s.responseBytes, ISTIO_BYTES_BUCKETS, r.responseBytes > 0 ? r.responseBytes : 0);
  }

  stats(): IstioMetricsStats {
    return { series: this.series.size, maxSeries: this.maxSeries, overflowed: this.overflowed };
  }

  private newSeries(key: string, r: IstioRequestRecord): Series {
    // Overflow series (one per reporter x protocol) do not count against the budget.
    if (this.series.size >= this.maxSeries) {
      this.overflowed++;
      const overflowKey = `${r.reporter}|${r.protocol}|${OVERFLOW}`;
      const existing = this.series.get(overflowKey);
      if (existing !== undefined) return existing;
      if (!this.warned) {
        this.warned = true;
        this.options.logger.warn(
          'telemetry: Istio metrics label budget used up; new label sets count in the "overflow" series',
          { maxSeries: this.maxSeries, firstOverflowKey: key },
        );
      }
      const labels = Object.fromEntries(ISTIO_LABELS.map((n) => [n, OVERFLOW])) as IstioLabels;
      labels.reporter = r.reporter;
      labels.request_protocol = r.protocol;
      const s = this.newState(labels);
      this.series.set(overflowKey, s);
      return s;
    }
    const s = this.newState(this.labelsOf(r));
    this.series.set(key, s);
    return s;
  }

  private newState(labels: IstioLabels): Series {
    return {
      labels: Object.freeze(labels),
      requests: 0,
      duration: histogramState(ISTIO_DURATION_BUCKETS_MS),
      requestBytes: histogramState(ISTIO_BYTES_BUCKETS),
      responseBytes: histogramState(ISTIO_BYTES_BUCKETS),
    };
  }

  private labelsOf(r: IstioRequestRecord): IstioLabels {
    const self = this.options.self;
    const [serviceName, serviceNamespace] = serviceNameAndNamespace(r.host, self.namespace);
    const source = r.reporter === 'source';
    // Without mTLS (and Istio's metadata exchange) the other side's identity is unknown.
    const unknownPeer: IstioPeer = {
      workload: UNKNOWN,
      namespace: UNKNOWN,
      app: UNKNOWN,
      version: UNKNOWN,
    };
    const downstream = principalParts(source ? undefined : r.peer?.principal);
    const src = source ? self : { ...unknownPeer, namespace: downstream.namespace };
    const dst = source ? unknownPeer : self;
    return {
      reporter: r.reporter,
      source_workload: src.workload,
      source_workload_namespace: src.namespace,
      source_principal: source ? UNKNOWN : downstream.principal,
      source_app: src.app,
      source_version: src.version,
      destination_workload: dst.workload,
      destination_workload_namespace: dst.namespace,
      destination_principal: UNKNOWN,
      destination_app: dst.app,
      destination_version: dst.version,
      destination_service: r.host,
      destination_service_name: serviceName,
      destination_service_namespace: serviceNamespace,
      request_protocol: r.protocol,
      response_code: String(r.responseCode),
      grpc_response_status: r.grpcStatus,
      response_flags: r.responseFlags,
      // Istio: "unknown" when reported by the source; at the destination mutual_tls or none.
      connection_security_policy: source ? UNKNOWN : r.peer?.mtls === true ? 'mutual_tls' : 'none',
    };
  }
}
