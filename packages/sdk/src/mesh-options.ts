// createMesh's options, their environment defaults, and their validation into one frozen
// ResolvedMeshOptions (STYLE rules 15-17). Bootstrap: gRPC's format (gRFC A27).
import { hostname } from 'node:os';
import {
  ConfigError,
  loadBootstrap,
  parseBootstrap,
  silentLogger,
  systemClock,
} from '@weft/xds-client';
import type {
  BootstrapOverrides,
  Clock,
  ConfigIssue,
  Logger,
  ResolvedBootstrap,
  XdsTransport,
} from '@weft/xds-client';
import { resolveServiceBreakerOptions } from './breaker/service-breaker-options.js';
import type { AccessLogTarget } from './telemetry/access-log.js';
import { DEFAULT_MAX_SERIES } from './telemetry/istio-metrics.js';
import { resolveTracingOptions } from './tracing/tracing-options.js';
import { resolveIdentityOptions } from './security/identity-options.js';
import type { IdentityOptions, ResolvedIdentityOptions } from './security/identity-options.js';
import type { ResolvedControlPlaneTls } from './security/certificate-request.js';
import type { ResolvedTracingOptions, TracingOptions } from './tracing/tracing-options.js';
import type {
  ResolvedServiceBreakerOptions,
  ServiceBreakerOptions,
} from './breaker/service-breaker-options.js';

/** The SDK's `node.user_agent_name`: the control plane shapes resources for `weft…` clients. */
export const SDK_USER_AGENT_NAME = 'weft-sdk' as const;
/** The SDK's `node.user_agent_version`. */
export const SDK_VERSION = '0.1.0' as const;
/** Default of `MeshOptions.readyTimeoutMs`. */
export const DEFAULT_READY_TIMEOUT_MS = 15_000;

/** Where a workload runs; missing parts are `''`. */
export interface MeshLocality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

/** What `createMesh()` takes. Every field is optional: the environment supplies defaults. */
export interface MeshOptions {
  /**
   * The control plane's xDS address, `host:port` (insecure channel). Default: `WEFT_CONTROL_PLANE`;
   * without it the bootstrap is used. Not together with `bootstrap`.
   */
  readonly controlPlane?: string;
  /**
   * A bootstrap in gRPC's GRPC_XDS_BOOTSTRAP format: a file path or the parsed object. Default:
   * the file named by `WEFT_BOOTSTRAP` or `GRPC_XDS_BOOTSTRAP`, or the JSON in `GRPC_XDS_BOOTSTRAP_CONFIG`.
   */
  readonly bootstrap?: string | Readonly<Record<string, unknown>>;
  /** xDS node identity. `id` default: the bootstrap's, else `WORKLOAD-HOSTNAME-PID`. */
  readonly node?: {
    readonly id?: string;
    /** Default: `WEFT_REGION`, `WEFT_ZONE`, `WEFT_SUBZONE`, else the bootstrap's. */
    readonly locality?: MeshLocality;
  };
  /** Sent as node metadata (Istio's keys WORKLOAD_NAME, NAMESPACE, SERVICE_ACCOUNT, LABELS). */
  readonly workload?: {
    /** Default: `WEFT_WORKLOAD`, else `''`. */
    readonly name?: string;
    /** Default: `WEFT_NAMESPACE`, else `default`. */
    readonly namespace?: string;
    /** Default: `default`. */
    readonly serviceAccount?: string;
    /** Default: `{}`. */
    readonly labels?: Readonly<Record<string, string>>;
  };
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: Logger;
  /** xDS wire protocol. Default: per server, `delta` when it lists the `weft_delta` feature, else `sotw`. */
  readonly transport?: XdsTransport;
  /** How long `ready()` waits for the control plane's first accepted response, in ms. Default 15000. */
  readonly readyTimeoutMs?: number;
  /**
   * An admin listener (Envoy-admin-like views: /ready, /stats, /clusters, /config_dump, /metrics).
   * `false` or absent: none, unless `WEFT_ADMIN_PORT` is set. `port` 0 = ephemeral (read
   * `mesh.admin.port`); `host` default `WEFT_ADMIN_HOST`, else `127.0.0.1` (loopback).
   */
  readonly admin?: false | { readonly port?: number; readonly host?: string };
  /** Environment to read defaults from. Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The service-level breaker (opossum) of every upstream cluster, HTTP and gRPC alike: opens on
   * the error rate of whole requests, fails fast with WEFT_BREAKER_OPEN (503, UO), lets one probe
   * through after `resetTimeoutMs`. `false` turns it off. Default: on, with the defaults of
   * ServiceBreakerOptions.
   */
  readonly serviceBreaker?: ServiceBreakerOptions | false;
  /**
   * Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds,
   * istio_request_bytes, istio_response_bytes) on the admin listener's /metrics. Default: on
   * when there is an admin listener. `maxSeries`: label sets per metric before new ones fold
   * into an "overflow" series (default 1000).
   */
  readonly istioMetrics?: boolean | { readonly maxSeries?: number };
  /**
   * One JSON line per request (Envoy's field names), client and mesh.serve() side:
   * `'stdout'` or `{ path }` (appended). `false` or absent: none, unless `WEFT_ACCESS_LOG` is
   * set (`stdout` or a file path).
   */
  readonly accessLog?: false | 'stdout' | { readonly path: string };
  /**
   * Distributed tracing (OpenTelemetry; W3C and B3 propagation). `false` turns it off. Default: on
   * with the global tracer provider when one is registered, else with the SDK's own OTLP exporter
   * when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else off. See TracingOptions.
   */
  readonly tracing?: TracingOptions | false;
  /**
   * The workload's SPIFFE certificate from the mesh CA, for mTLS (DestinationRule
   * `tls.mode: ISTIO_MUTUAL`). `false` turns it off. Default: from `WEFT_JOIN_TOKEN` /
   * `WEFT_JOIN_TOKEN_FILE`, else none. See IdentityOptions.
   */
  readonly identity?: IdentityOptions | false;
  /**
   * The control plane's mTLS port (Istio's 15012). Once the workload has its first certificate
   * (from the join token, over the plaintext port), renewals go there with the current
   * certificate and no token, and the xDS stream moves there. `caFile`: PEM roots that anchor
   * the control plane's certificate; default: the trust bundle that came with the first
   * certificate (trust on first use). Needs `identity`. `false` turns it off. Default:
   * `WEFT_XDS_TLS_ADDRESS` (+ `WEFT_XDS_TLS_CA_FILE`), else none.
   */
  readonly controlPlaneTls?: ControlPlaneTlsOptions | false;
}

/** See MeshOptions.controlPlaneTls. */
export interface ControlPlaneTlsOptions {
  /** `host:port` of the control plane's mTLS xDS port. */
  readonly address: string;
  /** PEM file of the roots to trust for the control plane's certificate. */
  readonly caFile?: string;
}

/** The workload as the SDK announces it. */
export interface ResolvedWorkload {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Validated MeshOptions: no optional fields, frozen. */
export interface ResolvedMeshOptions {
  /** With node id, locality, metadata and user agent applied. */
  readonly bootstrap: ResolvedBootstrap;
  readonly workload: ResolvedWorkload;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly transport: XdsTransport | undefined;
  readonly readyTimeoutMs: number;
  /** Undefined: no admin listener. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  /** `false` when turned off. */
  readonly serviceBreaker: ResolvedServiceBreakerOptions | false;
  /** `false`: off (also when there is no admin listener). */
  readonly istioMetrics: { readonly maxSeries: number } | false;
  /** Undefined: no access log. */
  readonly accessLog: AccessLogTarget | undefined;
  readonly tracing: ResolvedTracingOptions;
  /** Undefined: no workload certificate (mTLS clusters fail with WEFT_TLS_NO_CERTIFICATE). */
  readonly identity: ResolvedIdentityOptions | undefined;
  /** Undefined: the plaintext xDS port only. */
  readonly controlPlaneTls: ResolvedControlPlaneTls | undefined;
  /** Where the bootstrap came from, for messages: `controlPlane`, `WEFT_CONTROL_PLANE`, a path… */
  readonly source: string;
}

const TOP_KEYS = new Set([
  'controlPlane',
  'bootstrap',
  'node',
  'workload',
  'clock',
  'logger',
  'transport',
  'readyTimeoutMs',
  'admin',
  'env',
  'serviceBreaker',
  'istioMetrics',
  'accessLog',
  'tracing',
  'identity',
  'controlPlaneTls',
]);
const ADMIN_KEYS = new Set(['port', 'host']);
const NODE_KEYS = new Set(['id', 'locality']);
const LOCALITY_KEYS = new Set(['region', 'zone', 'subZone']);
const WORKLOAD_KEYS = new Set(['name', 'namespace', 'serviceAccount', 'labels']);
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

type Json = Readonly<Record<string, unknown>>;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects issues while reading user input. */
class Issues {
  readonly list: ConfigIssue[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  object(v: unknown, path: string): Json | undefined {
    if (v === undefined) return undefined;
    if (isObject(v)) return v;
    this.add(path, `expected object, got ${typeName(v)}`);
    return undefined;
  }
  unknown(obj: Json, allowed: ReadonlySet<string>, prefix: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key)) this.add(prefix === '' ? key : `${prefix}.${key}`, 'unknown field');
    }
  }
  string(v: unknown, path: string, nonEmpty = false): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.add(path, `expected string, got ${typeName(v)}`);
      return undefined;
    }
    if (nonEmpty && v === '') {
      this.add(path, 'must not be empty');
      return undefined;
    }
    return v;
  }
  hostPort(v: unknown, path: string): string | undefined {
    const s = this.string(v, path);
    if (s === undefined) return undefined;
    const m = HOST_PORT.exec(s);
    const port = m?.[1] === undefined ? 0 : Number(m[1]);
    if (port < 1 || port > 65535) {
      this.add(path, `expected host:port (port 1-65535), got ${JSON.stringify(s)}`);
      return undefined;
    }
    return s;
  }
}

/** The admin listener's address from `options.admin`, else WEFT_ADMIN_PORT / WEFT_ADMIN_HOST. */
function resolveAdmin(
  r: Issues,
  input: unknown,
  env: Readonly<Record<string, unknown>>,
): { readonly host: string; readonly port: number } | undefined {
  if (input === false) return undefined;
  const portOf = (v: unknown, path: string): number | undefined => {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
    r.add(
      path,
      `expected a port 0-65535, got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`,
    );
    return undefined;
  };
  const envHost = r.string(env['WEFT_ADMIN_HOST'], 'env.WEFT_ADMIN_HOST', true);
  if (input === undefined) {
    const envPort = env['WEFT_ADMIN_PORT'];
    if (envPort === undefined || envPort === '') return undefined;
    const port = portOf(envPort, 'env.WEFT_ADMIN_PORT');
    return port === undefined ? undefined : { host: envHost ?? '127.0.0.1', port };
  }
  const o = r.object(input, 'admin');
  if (o === undefined) return undefined;
  r.unknown(o, ADMIN_KEYS, 'admin');
  const port = o['port'] === undefined ? 0 : portOf(o['port'], 'admin.port');
  const host = r.string(o['host'], 'admin.host', true) ?? envHost ?? '127.0.0.1';
  return port === undefined ? undefined : Object.freeze({ host, port });
}

/** `istioMetrics`: on by default (it only shows with an admin listener). */
function resolveIstioMetrics(r: Issues, input: unknown): { readonly maxSeries: number } | false {
  if (input === false) return false;
  if (input === undefined || input === true) return { maxSeries: DEFAULT_MAX_SERIES };
  const o = r.object(input, 'istioMetrics');
  if (o === undefined) return false;
  r.unknown(o, new Set(['maxSeries']), 'istioMetrics');
  const max = o['maxSeries'] ?? DEFAULT_MAX_SERIES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
    r.add(
      'istioMetrics.maxSeries',
      `expected an integer >= 1, got ${typeof max === 'number' ? max : typeName(max)}`,
    );
    return false;
  }
  return { maxSeries: max };
}

/** `accessLog`, else WEFT_ACCESS_LOG (`stdout` or a path; `''` / `off`: none). */
function resolveAccessLog(
  r: Issues,
  input: unknown,
  env: Readonly<Record<string, unknown>>,
): AccessLogTarget | undefined {
  if (input === false) return undefined;
  if (input === undefined) {
    const v = r.string(env['WEFT_ACCESS_LOG'], 'env.WEFT_ACCESS_LOG');
    if (v === undefined || v === '' || v === 'off') return undefined;
    return v === 'stdout' ? 'stdout' : Object.freeze({ path: v });
  }
  if (input === 'stdout') return 'stdout';
  const o = r.object(input, 'accessLog');
  if (o === undefined) return undefined;
  r.unknown(o, new Set(['path']), 'accessLog');
  const path = r.string(o['path'], 'accessLog.path', true);
  if (path === undefined) {
    if (o['path'] === undefined) r.add('accessLog.path', "required (or accessLog: 'stdout')");
    return undefined;
  }
  return Object.freeze({ path });
}

function methodsOf(v: unknown, names: readonly string[]): boolean {
  return isObject(v) && names.every((n) => typeof v[n] === 'function');
}

/** Placeholder id of a bootstrap built from `controlPlane` (replaced by the real default). */
const SYNTHESIZED_NODE_ID = 'weft-sdk-synthesized';

/** A bootstrap with only a server: what `controlPlane: 'host:port'` stands for. */
function bootstrapFor(serverUri: string, transport: XdsTransport | undefined): Json {
  return {
    xds_servers: [
      {
        server_uri: serverUri,
        channel_creds: [{ type: 'insecure' }],
        server_features: transport === 'delta' ? ['xds_v3', 'weft_delta'] : ['xds_v3'],
      },
    ],
    node: { id: SYNTHESIZED_NODE_ID },
  };
}

/**
 * Validates every option (and the environment) at once, then loads the bootstrap. Throws one
 * ConfigError (WEFT_INVALID_CONFIG) listing every issue with its path; bootstrap issues are
 * prefixed with `bootstrap` and name the file or variable.
 */
export async function resolveMeshOptions(options: MeshOptions = {}): Promise<ResolvedMeshOptions> {
  const r = new Issues();
  const o = r.object(options, '(options)') ?? {};
  r.unknown(o, TOP_KEYS, '');
  const envInput = r.object(o['env'], 'env');
  const env: Readonly<Record<string, unknown>> = envInput ?? process.env;

  const controlPlane = r.hostPort(o['controlPlane'], 'controlPlane');
  const bootstrapInput = o['bootstrap'];
  if (
    bootstrapInput !== undefined &&
    typeof bootstrapInput !== 'string' &&
    !isObject(bootstrapInput)
  ) {
    r.add(
      'bootstrap',
      `expected a file path or a bootstrap object, got ${typeName(bootstrapInput)}`,
    );
  }
  if (o['controlPlane'] !== undefined && bootstrapInput !== undefined) {
    r.add('bootstrap', 'give controlPlane or bootstrap, not both');
  }

  const node = r.object(o['node'], 'node') ?? {};
  r.unknown(node, NODE_KEYS, 'node');
  const nodeId = r.string(node['id'], 'node.id', true);
  const locIn = r.object(node['locality'], 'node.locality') ?? {};
  r.unknown(locIn, LOCALITY_KEYS, 'node.locality');
  const locality: Record<string, string | undefined> = {
    region:
      r.string(locIn['region'], 'node.locality.region') ??
      r.string(env['WEFT_REGION'], 'env.WEFT_REGION'),
    zone:
      r.string(locIn['zone'], 'node.locality.zone') ?? r.string(env['WEFT_ZONE'], 'env.WEFT_ZONE'),
    subZone:
      r.string(locIn['subZone'], 'node.locality.subZone') ??
      r.string(env['WEFT_SUBZONE'], 'env.WEFT_SUBZONE'),
  };

  const wl = r.object(o['workload'], 'workload') ?? {};
  r.unknown(wl, WORKLOAD_KEYS, 'workload');
  const labelsIn = r.object(wl['labels'], 'workload.labels') ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsIn)) {
    const s = r.string(v, `workload.labels.${k}`);
    if (s !== undefined) labels[k] = s;
  }
  const workload: ResolvedWorkload = Object.freeze({
    name:
      r.string(wl['name'], 'workload.name') ??
      r.string(env['WEFT_WORKLOAD'], 'env.WEFT_WORKLOAD') ??
      '',
    namespace:
      r.string(wl['namespace'], 'workload.namespace', true) ??
      r.string(env['WEFT_NAMESPACE'], 'env.WEFT_NAMESPACE', true) ??
      'default',
    serviceAccount: r.string(wl['serviceAccount'], 'workload.serviceAccount', true) ?? 'default',
    labels: Object.freeze(labels),
  });

  if (o['clock'] !== undefined && !methodsOf(o['clock'], ['now', 'setTimeout', 'clearTimeout'])) {
    r.add('clock', 'expected a Clock (now, setTimeout, clearTimeout)');
  }
  if (o['logger'] !== undefined && !methodsOf(o['logger'], ['debug', 'info', 'warn', 'error'])) {
    r.add('logger', 'expected a Logger (debug, info, warn, error)');
  }
  const transport = o['transport'];
  if (transport !== undefined && transport !== 'sotw' && transport !== 'delta') {
    r.add(
      'transport',
      `expected 'sotw' or 'delta', got ${typeof transport === 'string' ? JSON.stringify(transport) : typeName(transport)}`,
    );
  }
  const readyTimeoutMs = o['readyTimeoutMs'] ?? DEFAULT_READY_TIMEOUT_MS;
  if (
    typeof readyTimeoutMs !== 'number' ||
    !Number.isFinite(readyTimeoutMs) ||
    readyTimeoutMs <= 0
  ) {
    r.add(
      'readyTimeoutMs',
      `expected a positive number of ms, got ${typeof readyTimeoutMs === 'number' ? readyTimeoutMs : typeName(readyTimeoutMs)}`,
    );
  }
  const admin = resolveAdmin(r, o['admin'], env);
  const istioMetrics = resolveIstioMetrics(r, o['istioMetrics']);
  const accessLog = resolveAccessLog(r, o['accessLog'], env);
  const serviceBreaker = resolveServiceBreakerOptions(
    o['serviceBreaker'],
    'serviceBreaker',
    r.list,
  );
  const tracing = resolveTracingOptions(o['tracing'], env, r.list);
  const identity = resolveIdentityOptions(o['identity'], env, r.list);
  const controlPlaneTls = resolveControlPlaneTls(r, o['controlPlaneTls'], env);
  if (controlPlaneTls !== undefined && identity === undefined)
    r.add(
      o['controlPlaneTls'] === undefined ? 'env.WEFT_XDS_TLS_ADDRESS' : 'controlPlaneTls',
      'needs identity (a join token: identity.token or WEFT_JOIN_TOKEN) for the first certificate',
    );
  const envControlPlane =
    controlPlane === undefined && bootstrapInput === undefined
      ? r.hostPort(
          env['WEFT_CONTROL_PLANE'] === '' ? undefined : env['WEFT_CONTROL_PLANE'],
          'env.WEFT_CONTROL_PLANE',
        )
      : undefined;
  if (r.list.length > 0) throw new ConfigError('createMesh options', r.list);

  // Load the bootstrap from the one source in force.
  const t = transport as XdsTransport | undefined;
  let base: ResolvedBootstrap;
  let source = 'environment';
  try {
    if (controlPlane !== undefined) {
      source = 'controlPlane';
      base = parseBootstrap(bootstrapFor(controlPlane, t), source);
    } else if (typeof bootstrapInput === 'string') {
      source = bootstrapInput;
      base = await loadBootstrap({ path: bootstrapInput });
    } else if (isObject(bootstrapInput)) {
      source = 'options.bootstrap';
      base = parseBootstrap(bootstrapInput, source);
    } else if (envControlPlane !== undefined) {
      source = 'WEFT_CONTROL_PLANE';
      base = parseBootstrap(bootstrapFor(envControlPlane, t), source);
    } else {
      const vars = ['WEFT_BOOTSTRAP', 'GRPC_XDS_BOOTSTRAP', 'GRPC_XDS_BOOTSTRAP_CONFIG'];
      if (!vars.some((v) => typeof env[v] === 'string' && env[v] !== '')) {
        throw new ConfigError('createMesh options', [
          {
            path: 'controlPlane',
            message:
              'no control plane: pass controlPlane or bootstrap, or set WEFT_CONTROL_PLANE or GRPC_XDS_BOOTSTRAP',
          },
        ]);
      }
      source = 'environment';
      base = await loadBootstrap({ env: env as NodeJS.ProcessEnv });
    }
  } catch (err) {
    if (!(err instanceof ConfigError) || err.code === 'WEFT_INVALID_CONFIG') throw err;
    throw new ConfigError(
      'createMesh options',
      err.issues.map((i) => ({ path: `bootstrap(${source}).${i.path}`, message: i.message })),
    );
  }

  const baseLocality = base.node.locality;
  const metadata: Record<string, unknown> = { ...base.node.metadata };
  if (workload.name !== '') metadata['WORKLOAD_NAME'] = workload.name;
  metadata['NAMESPACE'] = workload.namespace;
  metadata['SERVICE_ACCOUNT'] = workload.serviceAccount;
  if (Object.keys(workload.labels).length > 0) metadata['LABELS'] = workload.labels;
  const overrides: BootstrapOverrides = {
    node: {
      id:
        nodeId ??
        (base.node.id !== '' && base.node.id !== SYNTHESIZED_NODE_ID
          ? base.node.id
          : `${workload.name === '' ? 'weft' : workload.name}-${hostname()}-${process.pid}`),
      locality: {
        region: locality['region'] ?? baseLocality.region,
        zone: locality['zone'] ?? baseLocality.zone,
        subZone: locality['subZone'] ?? baseLocality.subZone,
      },
      metadata: Object.freeze(metadata),
      userAgentName: SDK_USER_AGENT_NAME,
      userAgentVersion: SDK_VERSION,
    },
  };
  const n = base.node;
  const ov = overrides.node ?? {};
  const bootstrap: ResolvedBootstrap = Object.freeze({
    ...base,
    node: Object.freeze({
      ...n,
      ...ov,
      locality: Object.freeze({ ...n.locality, ...ov.locality }),
    }),
  });
  return Object.freeze({
    bootstrap,
    workload,
    clock: (o['clock'] as Clock | undefined) ?? systemClock,
    logger: (o['logger'] as Logger | undefined) ?? silentLogger,
    transport: t,
    readyTimeoutMs: readyTimeoutMs as number,
    admin,
    serviceBreaker,
    istioMetrics: admin === undefined ? false : istioMetrics,
    accessLog,
    tracing,
    identity,
    controlPlaneTls,
    source,
  });
}

/** `controlPlaneTls`, else WEFT_XDS_TLS_ADDRESS / WEFT_XDS_TLS_CA_FILE; undefined: none. */
function resolveControlPlaneTls(
  r: Issues,
  input: unknown,
  env: Readonly<Record<string, unknown>>,
): ResolvedControlPlaneTls | undefined {
  if (input === false) return undefined;
  if (input === undefined) {
    const envAddress = env['WEFT_XDS_TLS_ADDRESS'];
    if (envAddress === undefined || envAddress === '') return undefined;
    const address = r.hostPort(envAddress, 'env.WEFT_XDS_TLS_ADDRESS');
    const caFile = r.string(env['WEFT_XDS_TLS_CA_FILE'], 'env.WEFT_XDS_TLS_CA_FILE', true);
    return address === undefined ? undefined : Object.freeze({ address, caFile });
  }
  const o = r.object(input, 'controlPlaneTls');
  if (o === undefined) return undefined;
  r.unknown(o, new Set(['address', 'caFile']), 'controlPlaneTls');
  if (o['address'] === undefined) {
    r.add('controlPlaneTls.address', 'required: host:port of the mTLS xDS port');
    return undefined;
  }
  const address = r.hostPort(o['address'], 'controlPlaneTls.address');
  const caFile = r.string(o['caFile'], 'controlPlaneTls.caFile', true);
  return address === undefined ? undefined : Object.freeze({ address, caFile });
}
