// Options of startControlPlane: the public ControlPlaneOptions, their defaults and validation
// (every bad field reported at once as a ConfigError).
import { resolve as resolvePath } from 'node:path';
import { Registry } from 'prom-client';
import {
  ConfigError,
  silentLogger,
  systemClock,
  type Clock,
  type ConfigIssue,
  type Logger,
} from '@weft/xds-client';
import type { CertificateFilesTarget } from './ca/certificate-files.js';
import { checkIdentityName } from './ca/join-token.js';
import { defaultMeshTranslator, type MeshTranslator } from './control-plane-translator.js';
import { DEFAULT_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from './registry/workload-registry.js';

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory of YAML files (watched recursively). */
  readonly configDir: string;
  /** ADS port; default 15010; 0 = ephemeral (read `ControlPlane.xdsPort`). */
  readonly xdsPort?: number;
  /**
   * The mTLS xDS port (Istio's 15012): ADS, the registry and the CA over TLS with the control
   * plane's own certificate from its CA; ADS and the registry need a workload certificate, the CA
   * renews by certificate without a token. Needs `caDir`. Default with a CA: 15012, or 0
   * (ephemeral) when `xdsPort` is 0; `false`: none. Read `ControlPlane.xdsTlsPort`.
   */
  readonly xdsTlsPort?: number | false;
  /** Admin HTTP port; default 15014; 0 = ephemeral. */
  readonly adminPort?: number;
  /** Interface both servers bind; default `127.0.0.1`. */
  readonly host?: string;
  /** Quiet period after the last file change before a reload, ms; default 100. */
  readonly debounceMs?: number;
  /** Longest a burst of changes can delay a reload, ms; default 10000. */
  readonly debounceMaxMs?: number;
  /** Whether to watch `configDir`; default true (false: only `reload()` reloads). */
  readonly watch?: boolean;
  /**
   * Workload-registry lease TTL, ms: a registered workload that sends nothing for this long (it
   * heartbeats every TTL / 3) leaves EDS. Default 10000, at least 300. A closed stream leaves at once.
   */
  readonly leaseTtlMs?: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: Logger;
  /** @experimental Model → xDS translation; default: the built-in translator. */
  readonly translator?: MeshTranslator;
  /**
   * prom-client registry the `weft_cp_*` metrics are registered in (and `/metrics` serves);
   * default: a new Registry per control plane, never prom-client's global one. Each name can be
   * registered once per registry, so two control planes need two registries. `close()` removes
   * the metrics again.
   */
  readonly metricsRegistry?: Registry;
  /**
   * Mesh CA directory: a root is generated there on first start (or an existing root /
   * intermediate is loaded from it), and `weft.ca.v1.CertificateService` is served on the xDS
   * port. Default: no CA. See the README "Mesh CA".
   */
  readonly caDir?: string;
  /**
   * Identities whose key.pem / cert-chain.pem / root-cert.pem the control plane writes and renews
   * at half-life (gRPC's file-watcher certificate provider). Needs `caDir`.
   */
  readonly certificateFiles?: readonly CertificateFilesTarget[];
}

export interface ResolvedControlPlaneOptions {
  readonly configDir: string;
  readonly xdsPort: number;
  /** null: no mTLS port. */
  readonly xdsTlsPort: number | null;
  readonly adminPort: number;
  readonly host: string;
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
  readonly watch: boolean;
  readonly leaseTtlMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly translator: MeshTranslator;
  readonly metricsRegistry: Registry;
  readonly caDir: string | null;
  readonly certificateFiles: readonly CertificateFilesTarget[];
}

function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Registry> | null;
  // Structural: `instanceof` fails when two copies of prom-client are installed.
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.registerMetric === 'function' &&
    typeof r.metrics === 'function' &&
    typeof r.contentType === 'string'
  );
}

export function resolveOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
  const issues: ConfigIssue[] = [];
  const port = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 0 || v > 65535)
      issues.push({ path: name, message: `expected a port 0-65535, got ${v}` });
    return v;
  };
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < 0)
      issues.push({ path: name, message: `expected a non-negative number of ms, got ${v}` });
    return v;
  };
  if (typeof options.configDir !== 'string' || options.configDir === '') {
    issues.push({ path: 'configDir', message: 'expected a directory path' });
  }
  const xdsPort = port('xdsPort', options.xdsPort, 15010);
  const hasCa = options.caDir !== undefined;
  let xdsTlsPort: number | null = null;
  if (options.xdsTlsPort !== false) {
    if (options.xdsTlsPort !== undefined && !hasCa)
      issues.push({ path: 'xdsTlsPort', message: 'needs the mesh CA (caDir)' });
    else if (hasCa) xdsTlsPort = port('xdsTlsPort', options.xdsTlsPort, xdsPort === 0 ? 0 : 15012);
  }
  if (xdsTlsPort !== null && xdsTlsPort !== 0 && xdsTlsPort === xdsPort)
    issues.push({ path: 'xdsTlsPort', message: `must differ from xdsPort (${xdsPort})` });
  const resolved: ResolvedControlPlaneOptions = {
    configDir: resolvePath(options.configDir),
    xdsPort,
    xdsTlsPort,
    adminPort: port('adminPort', options.adminPort, 15014),
    host: options.host ?? '127.0.0.1',
    debounceMs: positive('debounceMs', options.debounceMs, 100),
    debounceMaxMs: positive('debounceMaxMs', options.debounceMaxMs, 10_000),
    watch: options.watch ?? true,
    leaseTtlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    translator: options.translator ?? defaultMeshTranslator,
    metricsRegistry: options.metricsRegistry ?? new Registry(),
    caDir: options.caDir === undefined ? null : resolvePath(options.caDir),
    certificateFiles: options.certificateFiles ?? [],
  };
  if (resolved.certificateFiles.length > 0 && resolved.caDir === null)
    issues.push({ path: 'certificateFiles', message: 'needs the mesh CA (caDir)' });
  for (const [i, t] of resolved.certificateFiles.entries())
    for (const field of ['namespace', 'serviceAccount'] as const) {
      const problem = checkIdentityName(field, t[field]);
      if (problem !== null)
        issues.push({ path: `certificateFiles[${i}].${field}`, message: problem });
    }
  if (!Number.isFinite(resolved.leaseTtlMs) || resolved.leaseTtlMs < MIN_LEASE_TTL_MS)
    issues.push({
      path: 'leaseTtlMs',
      message: `expected at least ${MIN_LEASE_TTL_MS} ms, got ${resolved.leaseTtlMs}`,
    });
  if (!isRegistry(resolved.metricsRegistry))
    issues.push({ path: 'metricsRegistry', message: 'expected a prom-client Registry' });
  if (issues.length > 0) throw new ConfigError('control plane options', issues);
  return Object.freeze(resolved);
}
