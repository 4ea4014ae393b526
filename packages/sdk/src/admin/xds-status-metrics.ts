// Per-type xDS state of one mesh client for the admin API: ACK/NACK counters and the accepted
// version as Prometheus metrics (`weft_sdk_xds_*`), and the versions and NACK errors per type in
// /config_dump. Read at scrape / dump time from XdsClient.status(); nothing on the request path.
import type { XdsClientStatus } from '@weft/xds-client';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` → `Cluster`. */
export function typeShortName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

/** What /config_dump shows of one resource type (no raw resources: they are in describe()). */
export interface XdsTypeDump {
  readonly typeUrl: string;
  /** The last accepted version_info / system_version_info. */
  readonly version: string;
  readonly nonce: string;
  readonly acks: number;
  readonly nacks: number;
  /** Resources by state: REQUESTED, ACKED, NACKED, DOES_NOT_EXIST. */
  readonly resources: Readonly<
    Record<string, { readonly state: string; readonly version: string }>
  >;
  /** The resources whose last update was rejected, with the error sent in the NACK. */
  readonly nackErrors: readonly {
    readonly name: string;
    readonly failedVersion: string;
    readonly message: string;
    readonly atMs: number;
  }[];
}

/** The `xds` section of /config_dump. */
export interface XdsDump {
  readonly connected: boolean;
  readonly server: string;
  readonly transport: string;
  /** By short type name: Listener, RouteConfiguration, Cluster, ClusterLoadAssignment. */
  readonly types: Readonly<Record<string, XdsTypeDump>>;
}

export function xdsDumpOf(status: XdsClientStatus): XdsDump {
  const types: Record<string, XdsTypeDump> = {};
  for (const [typeUrl, t] of Object.entries(status.types)) {
    const resources: Record<string, { state: string; version: string }> = {};
    const nackErrors: XdsTypeDump['nackErrors'][number][] = [];
    for (const [name, r] of Object.entries(t.resources)) {
      resources[name] = { state: r.state, version: r.version };
      if (r.error !== undefined) nackErrors.push({ name, ...r.error });
    }
    types[typeShortName(typeUrl)] = {
      typeUrl,
      version: t.version,
      nonce: t.nonce,
      acks: t.acks,
      nacks: t.nacks,
      resources,
      nackErrors,
    };
  }
  return {
    connected: status.connected,
    server: status.server,
    transport: status.transport,
    types,
  };
}

/**
 * Registers `weft_sdk_xds_acks_total{type}`, `weft_sdk_xds_nacks_total{type}`,
 * `weft_sdk_xds_config_version_info{type,version}` (1 for the version in force) and
 * `weft_sdk_xds_resources{type,state}`. `status` returns undefined once the client is closed.
 */
export function registerXdsStatusMetrics(
  registry: Registry,
  status: () => XdsClientStatus | undefined,
): void {
  const types = (): [string, XdsClientStatus['types'][string]][] =>
    Object.entries(status()?.types ?? {}).map(([url, t]) => [typeShortName(url), t]);
  for (const [field, help] of [
    ['acks', 'xDS responses ACKed, per resource type, since the client started'],
    ['nacks', 'xDS responses NACKed (rejected), per resource type, since the client started'],
  ] as const) {
    new Counter({
      name: `weft_sdk_xds_${field}_total`,
      help,
      labelNames: ['type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [type, t] of types()) this.inc({ type }, t[field]);
      },
    });
  }
  new Gauge({
    name: 'weft_sdk_xds_config_version_info',
    help: 'The xDS version in force per resource type (1 for the current version_info)',
    labelNames: ['type', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, t] of types()) this.set({ type, version: t.version }, 1);
    },
  });
  new Gauge({
    name: 'weft_sdk_xds_resources',
    help: 'xDS resources the client holds or waits for, per type and state (ACKED, NACKED, REQUESTED, DOES_NOT_EXIST)',
    labelNames: ['type', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, t] of types()) {
        const counts: Record<string, number> = {
          ACKED: 0,
          NACKED: 0,
          REQUESTED: 0,
          DOES_NOT_EXIST: 0,
        };
        for (const r of Object.values(t.resources)) counts[r.state] = (counts[r.state] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ type, state }, n);
      }
    },
  });
}
