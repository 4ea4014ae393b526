// The control-plane process: config directory (+ workload registry) → model → per-view
// snapshots → ADS, with a debounced directory watch and the admin API. DESIGN.md "Configuration",
// "Workload registry", "The `weft` command".
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Registry } from 'prom-client';
import { experimental } from '@grpc/grpc-js';
import {
  ConfigError,
  silentLogger,
  systemClock,
  loadXdsProtos,
  WeftError,
  type Clock,
  type ConfigIssue,
  type Logger,
  parseServerListenerName,
} from '@weft/xds-client';
import { AdminServer } from './admin/admin-server.js';
import { CA_SERVICE_NAME, createCaServiceImplementation } from './ca/ca-service.js';
import { withRootCaSecret } from './ca/root-ca-secret.js';
import {
  MeshCa,
  type CaDocument,
  type CertificateIssuedEvent,
  type CertificateRefusedEvent,
} from './ca/mesh-ca.js';
import { CaMetrics } from './metrics/ca-metrics.js';
import {
  ControlPlaneCertificate,
  type ServingCertificateStatus,
} from './ca/control-plane-certificate.js';
import {
  CertificateFileWriter,
  type CertificateFilesStatus,
  type CertificateFilesTarget,
} from './ca/certificate-files.js';
import { checkIdentityName } from './ca/join-token.js';
import { createConfigDumpDocument, type ConfigDumpDocument } from './admin/config-dump.js';
import {
  createControlPlaneChannels,
  type ControlPlaneChannelEvent,
} from './control-plane-channels.js';
import { ConfigFileCache } from './config/config-file-cache.js';
import { loadConfigDir } from './config/load-config-dir.js';
import type { MeshModel } from './config/mesh-model.js';
import type { ClientKind, ClientView, LocatedIssue, TranslationNote } from './contracts.js';
import { Debouncer } from './control-plane-debouncer.js';
import {
  createRejection,
  summarizeModel,
  summarizeSnapshot,
  type ConfigAppliedEvent,
  type ConfigDocument,
  type ConfigRejection,
  type ReloadResult,
  type SnapshotBuildEvent,
} from './control-plane-status.js';
import { defaultMeshTranslator, type MeshTranslator } from './control-plane-translator.js';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics.js';
import { mergeRegisteredEndpoints } from './registry/merge-registered-endpoints.js';
import type {
  EndpointDeregisteredEvent,
  EndpointRegisteredEvent,
  RegistryDocument,
} from './registry/registered-endpoint.js';
import { REGISTRY_SERVICE_NAME, RegistryService } from './registry/registry-service.js';
import {
  DEFAULT_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  WorkloadRegistry,
} from './registry/workload-registry.js';
import { AdsServer, peerCertificateOf, type MtlsRefusedEvent } from './server/ads-server.js';
import type { AckEvent, ClientStatus, NackEvent, PushEvent } from './server/client-status.js';
import { SnapshotCache, viewKey, type BuildResources } from './snapshot/snapshot-cache.js';
import { buildInboundListener } from './translate/build-inbound-listener.js';

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

/** Events of {@link ControlPlane}. */
export interface ControlPlaneEvents {
  /** A valid config was loaded and is being served (also emitted when nothing changed). */
  'config-applied': [event: ConfigAppliedEvent];
  /** A config was rejected; the last good one keeps serving. */
  'config-rejected': [rejection: ConfigRejection];
  /** A response was written to a client. */
  push: [event: PushEvent];
  /** A client ACKed a response. */
  ack: [event: AckEvent];
  /** A client NACKed a response (logged as an error: a NACK is a control-plane bug until shown otherwise). */
  nack: [event: NackEvent];
  /** An xDS stream sent its first request (node known). */
  connect: [client: ClientStatus];
  /** An identified xDS stream ended. */
  disconnect: [client: ClientStatus];
  /** The snapshots of every view were built for a loaded config (before apply or rejection). */
  'snapshot-build': [event: SnapshotBuildEvent];
  /** @experimental The directory watcher saw a change (before debouncing). */
  watch: [filename: string | null];
  /** A workload registered an endpoint (or re-registered it with changes). */
  'endpoint-registered': [event: EndpointRegisteredEvent];
  /** A registered endpoint left: deregistered, stream closed, lease expired, replaced or shutdown. */
  'endpoint-deregistered': [event: EndpointDeregisteredEvent];
  /** The mesh CA signed a workload certificate (never carries keys or tokens). */
  'certificate-issued': [event: CertificateIssuedEvent];
  /** The mesh CA refused a certificate request (reason, message, token id). */
  'certificate-refused': [event: CertificateRefusedEvent];
  /** The mTLS xDS port refused a call (no / bad client certificate, node identity mismatch). */
  'mtls-refused': [event: MtlsRefusedEvent];
}

const DEFAULT_KINDS: readonly ClientKind[] = ['weft', 'grpc', 'envoy'];
const EMPTY_LOCALITY = Object.freeze({ region: '', zone: '', subZone: '' });

interface ResolvedControlPlaneOptions {
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

function resolveOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
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

function toConfigIssue(issue: LocatedIssue): ConfigIssue {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const path = [where, issue.resource, issue.field === '' ? undefined : issue.field]
    .filter((p): p is string => p !== undefined)
    .join(': ');
  return { path, message: issue.message };
}

/**
 * A running control plane. Create with {@link startControlPlane}; `close()` stops watching,
 * ends every xDS stream and the admin server; `reload()` afterwards fails with WEFT_CLOSED.
 */
export class ControlPlane extends EventEmitter<ControlPlaneEvents> {
  readonly #options: ResolvedControlPlaneOptions;
  readonly #cache: SnapshotCache;
  readonly #protos = loadXdsProtos();
  readonly #ads: AdsServer;
  /** The mTLS xDS port; null without a CA or with `xdsTlsPort: false`. */
  readonly #adsTls: AdsServer | null;
  readonly #servingCertificate: ControlPlaneCertificate | null;
  readonly #admin: AdminServer;
  readonly #debouncer: Debouncer;
  readonly #registry: WorkloadRegistry;
  readonly #registryService: RegistryService;
  /** Rebuilds snapshots from the last loaded config when registrations change (no YAML read). */
  readonly #registryDebouncer: Debouncer;
  readonly #metrics: ControlPlaneMetrics;
  readonly #ca: MeshCa | null;
  readonly #caMetrics: CaMetrics | null;
  readonly #certificateFiles: CertificateFileWriter | null;
  /** Trust domain the certificate files were last written for. */
  #certificateFilesTrustDomain: string | null = null;
  readonly #channels = createControlPlaneChannels();
  readonly #notes = new Map<string, readonly TranslationNote[]>();
  /** Parsed YAML per file, so a reload re-parses only what changed. */
  readonly #fileCache = new ConfigFileCache();
  #watcher: FSWatcher | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** The served model: the config merged with registrations. */
  #model: MeshModel | null = null;
  /** The last applied config as loaded, before registrations were merged in. */
  #configModel: MeshModel | null = null;
  #files: readonly string[] = [];
  #appliedAtMs: number | null = null;
  #lastRejection: ConfigRejection | null = null;
  #applied = 0;
  #rejected = 0;
  #closed = false;

  /** @internal Use {@link startControlPlane}. */
  constructor(options: ResolvedControlPlaneOptions) {
    super();
    this.#options = options;
    const { translator, logger, clock } = options;
    this.#cache = new SnapshotCache({
      protos: this.#protos,
      logger,
      check: (resources) => translator.check(resources),
    });
    this.#registry = new WorkloadRegistry({ leaseTtlMs: options.leaseTtlMs, clock, logger });
    this.#registry.on('registered', (event) => this.#publish('endpoint-registered', event));
    this.#registry.on('deregistered', (event) => this.#publish('endpoint-deregistered', event));
    this.#registry.on('changed', () => this.#registryDebouncer.signal());
    this.#registryService = new RegistryService({ registry: this.#registry, logger });
    // Throws a ConfigError naming the bad CA file before anything is bound.
    this.#ca = options.caDir === null ? null : MeshCa.open({ dir: options.caDir, clock, logger });
    this.#ca?.on('issued', (event) => this.#publish('certificate-issued', event));
    this.#ca?.on('refused', (event) => this.#publish('certificate-refused', event));
    this.#certificateFiles =
      this.#ca === null || options.certificateFiles.length === 0
        ? null
        : new CertificateFileWriter({
            ca: this.#ca,
            targets: options.certificateFiles,
            clock,
            logger,
          });
    // Stream ids are unique across both ports (metrics and CSDS key on them).
    let streamIds = 0;
    const nextStreamId = (): number => ++streamIds;
    const csdsSource = () => this.#allClientConfigs();
    this.#ads = new AdsServer({
      cache: this.#cache,
      host: options.host,
      port: options.xdsPort,
      logger,
      clock,
      nextStreamId,
      csdsSource,
      services: [
        { name: REGISTRY_SERVICE_NAME, implementation: this.#registryService.implementation() },
        ...(this.#ca === null
          ? []
          : [{ name: CA_SERVICE_NAME, implementation: createCaServiceImplementation(this.#ca) }]),
      ],
    });
    const ca = this.#ca;
    this.#servingCertificate =
      ca === null || options.xdsTlsPort === null
        ? null
        : new ControlPlaneCertificate({ ca, clock, logger });
    this.#adsTls =
      ca === null || this.#servingCertificate === null || options.xdsTlsPort === null
        ? null
        : new AdsServer({
            cache: this.#cache,
            host: options.host,
            port: options.xdsTlsPort,
            logger,
            clock,
            nextStreamId,
            csdsSource,
            mtls: {
              // Requested, not required, at the TLS layer: the CA serves token requests too.
              credentials: experimental.createCertificateProviderServerCredentials(
                this.#servingCertificate,
                this.#servingCertificate,
                false,
              ),
              verifyPeer: (certificate) => ca.verifyPeer(certificate),
            },
            services: [
              {
                name: REGISTRY_SERVICE_NAME,
                // The certificate is required (guarded by the server); endpoints must be its identity.
                implementation: this.#registryService.implementation({
                  peer: (call) => {
                    const verdict = ca.verifyPeer(peerCertificateOf(call));
                    // Unverifiable now (e.g. expired on the CA clock): matches no endpoint.
                    return verdict.ok
                      ? verdict.peer
                      : { spiffeId: `(${verdict.reason})`, namespace: '', serviceAccount: '' };
                  },
                  onIdentityMismatch: (message, peerSpiffeId) => {
                    this.#publish('mtls-refused', {
                      service: REGISTRY_SERVICE_NAME,
                      reason: 'identity-mismatch',
                      message,
                      peerSpiffeId,
                    });
                  },
                }),
              },
              {
                name: CA_SERVICE_NAME,
                implementation: createCaServiceImplementation(ca, { mtls: true }),
                clientCertificate: 'optional',
              },
            ],
          });
    for (const ads of [this.#ads, this.#adsTls]) {
      if (ads === null) continue;
      ads.on('push', (event) => this.#publish('push', event));
      ads.on('ack', (event) => this.#publish('ack', event));
      ads.on('nack', (event) => this.#publish('nack', event));
      ads.on('connect', (client) => this.#publish('connect', client));
      ads.on('disconnect', (client) => this.#publish('disconnect', client));
      ads.on('refused', (event) => this.#publish('mtls-refused', event));
    }
    // Subscribed before any user listener, and throws (name taken) before anything is bound.
    this.#metrics = new ControlPlaneMetrics({ registry: options.metricsRegistry, clock });
    this.#metrics.attach(this);
    this.#caMetrics =
      this.#ca === null
        ? null
        : new CaMetrics({ registry: options.metricsRegistry, ca: this.#ca, clock });
    this.#admin = new AdminServer({
      host: options.host,
      port: options.adminPort,
      logger,
      metricsRegistry: options.metricsRegistry,
      source: {
        ready: () => this.#cache.hasConfig,
        config: () => this.configDocument(),
        clients: () => this.clients(),
        registry: () => this.registryDocument(),
        configDump: (nodeId) => this.configDump(nodeId),
        ...(this.#ca === null
          ? {}
          : {
              ca: () => this.caDocument(),
              caWorkload: (spiffeId: string) => this.#ca?.workloadCertificate(spiffeId),
            }),
      },
    });
    this.#registryDebouncer = new Debouncer({
      clock,
      quietMs: options.debounceMs,
      maxMs: options.debounceMaxMs,
      fire: () => {
        if (this.#closed) return;
        const run = this.#queue.then(() => this.#rebuildForRegistry());
        this.#queue = run.catch((err: unknown) => {
          logger.error('registry rebuild failed', { error: WeftError.from(err).message });
        });
      },
    });
    this.#debouncer = new Debouncer({
      clock,
      quietMs: options.debounceMs,
      maxMs: options.debounceMaxMs,
      fire: () => {
        // Node's recursive fs.watch on Linux stops reporting a file once an editor (or a
        // ConfigMap symlink swap) has replaced it by rename: re-arm before every reload, and
        // before reading, so a write that lands during the reload is still seen.
        if (this.#options.watch && !this.#closed) {
          this.#watcher?.close();
          this.#watcher = undefined;
          this.#startWatching();
        }
        void this.reload().catch((err: unknown) => {
          logger.error('config reload failed', { error: WeftError.from(err).message });
        });
      },
    });
  }

  /** Bound ADS port. */
  get xdsPort(): number {
    return this.#ads.port;
  }

  /** Bound mTLS xDS port; null when there is none (no CA, or `xdsTlsPort: false`). */
  get xdsTlsPort(): number | null {
    return this.#adsTls === null ? null : this.#adsTls.port;
  }

  /** The mTLS port's serving certificate (no key); undefined without one. */
  get servingCertificate(): ServingCertificateStatus | undefined {
    return this.#servingCertificate?.status();
  }

  /** Bound admin port. */
  get adminPort(): number {
    return this.#admin.port;
  }

  /** Generation of the snapshot being served (increments per applied config). */
  get version(): number {
    return this.#cache.generation;
  }

  /** The registry holding this control plane's `weft_cp_*` metrics (served on admin `/metrics`). */
  get metricsRegistry(): Registry {
    return this.#options.metricsRegistry;
  }

  /** The last rejected config, or null. */
  get lastRejection(): ConfigRejection | null {
    return this.#lastRejection;
  }

  /** The admin `/registry` document: registered endpoints, their leases and how they are served. */
  registryDocument(): RegistryDocument {
    return this.#registry.document();
  }

  /** The mesh CA (null without `caDir`): join tokens, trust bundle, signing. */
  get ca(): MeshCa | null {
    return this.#ca;
  }

  /**
   * Re-reads the CA directory (a rotated root, trusted roots added or retired) without a restart;
   * throws the directory's ConfigError, and keeps signing with the last good CA, if it is bad.
   */
  reloadCa(): void {
    if (this.#ca === null)
      throw new WeftError('WEFT_UNSUPPORTED', 'this control plane has no CA (caDir)');
    const before = this.#ca.trustBundlePem().join('');
    this.#ca.reload();
    this.#certificateFiles?.refreshAll();
    // A new certificate from the (maybe rotated) root, and the new bundle for client certificates.
    this.#servingCertificate?.refresh();
    // The ROOTCA Secret follows the bundle (a rotation's overlap reaches clients at once).
    if (this.#ca.trustBundlePem().join('') !== before) this.#rebuild('ca');
  }

  /** The admin `/ca` document, or null without a CA. */
  caDocument(): (CaDocument & { certificateFiles?: CertificateFilesStatus[] }) | null {
    const doc = this.#ca?.document();
    if (doc === undefined) return null;
    return this.#certificateFiles === null
      ? doc
      : { ...doc, certificateFiles: this.#certificateFiles.status() };
  }

  /** Connected xDS clients. */
  clients(): ClientStatus[] {
    return [...this.#ads.clients(), ...(this.#adsTls?.clients() ?? [])].sort(
      (a, b) => a.streamId - b.streamId,
    );
  }

  /** The admin `/config_dump?node=ID` document; undefined when no client with that id is connected. */
  configDump(nodeId: string): ConfigDumpDocument | undefined {
    return createConfigDumpDocument(this.#protos, nodeId, this.#allClientConfigs());
  }

  #allClientConfigs(): ReturnType<AdsServer['clientConfigs']> {
    return [...this.#ads.clientConfigs(), ...(this.#adsTls?.clientConfigs() ?? [])].sort(
      (a, b) => a.streamId - b.streamId,
    );
  }

  /** The admin `/config` document. */
  configDocument(): ConfigDocument {
    const notes = new Map<string, TranslationNote>();
    for (const list of this.#notes.values()) for (const n of list) notes.set(JSON.stringify(n), n);
    const serving = this.#servingCertificate?.status();
    return {
      configDir: this.#options.configDir,
      xdsPort: this.xdsPort,
      xdsTlsPort: this.xdsTlsPort,
      ...(serving === undefined ? {} : { servingCertificate: serving }),
      version: this.version,
      ready: this.#cache.hasConfig,
      files: this.#files,
      appliedAtMs: this.#appliedAtMs,
      model: this.#model === null ? null : summarizeModel(this.#model),
      snapshots: this.#cache.views().map((view) => summarizeSnapshot(view, this.#cache.get(view))),
      notes: [...notes.values()],
      lastRejection: this.#lastRejection,
      counters: { applied: this.#applied, rejected: this.#rejected },
    };
  }

  /** Loads the directory now; a rejected config leaves the served one in place. Calls are serialised. */
  async reload(): Promise<ReloadResult> {
    if (this.#closed) throw new WeftError('WEFT_CLOSED', 'control plane is closed');
    const run = this.#queue.then(() => this.#reloadNow());
    this.#queue = run.catch(() => undefined);
    return await run;
  }

  /** @internal Initial load and binding; rejects with ConfigError if the first config is invalid. */
  async start(): Promise<void> {
    // Watch before the first load so a change made during it is not missed.
    if (this.#options.watch) this.#startWatching();
    const first = await this.#reloadNow();
    if (!first.ok) {
      await this.close();
      const { rejection } = first;
      const issues =
        rejection.details.length > 0
          ? rejection.details.map(toConfigIssue)
          : rejection.issues.map((message) => ({ path: this.#options.configDir, message }));
      throw new ConfigError(`config directory ${this.#options.configDir}`, issues);
    }
    try {
      await this.#ads.listen();
      await this.#adsTls?.listen();
      await this.#admin.listen();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#options.logger.info('control plane started', {
      configDir: this.#options.configDir,
      xdsPort: this.xdsPort,
      xdsTlsPort: this.xdsTlsPort,
      adminPort: this.adminPort,
      version: this.version,
    });
  }

  /** Stops watching, ends xDS streams, closes both servers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#debouncer.close();
    this.#registryDebouncer.close();
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#registryService.close();
    this.#registry.close();
    this.#servingCertificate?.close();
    await Promise.all([this.#ads.close(), this.#adsTls?.close(), this.#admin.close()]);
    this.#metrics.unregister();
    this.#caMetrics?.unregister();
    this.#certificateFiles?.close();
  }

  async #reloadNow(): Promise<ReloadResult> {
    const { clock, configDir } = this.#options;
    const loaded = await loadConfigDir(configDir, { fileCache: this.#fileCache });
    if (!loaded.ok)
      return this.#reject(createRejection('invalid-config', loaded.issues, [], clock.now()));
    return this.#apply(loaded.model, loaded.files, 'config');
  }

  /** Serves the last applied config with the current registrations; nothing before the first config. */
  #rebuildForRegistry(): void {
    if (this.#closed || this.#configModel === null) return;
    this.#apply(this.#configModel, this.#files, 'registry');
  }

  /** Queues a rebuild of the last applied config (e.g. for a new trust bundle). */
  #rebuild(trigger: ConfigAppliedEvent['trigger']): void {
    const run = this.#queue.then(() => {
      if (this.#closed || this.#configModel === null) return;
      this.#apply(this.#configModel, this.#files, trigger);
    });
    this.#queue = run.catch((err: unknown) => {
      this.#options.logger.error('rebuild failed', { trigger, error: WeftError.from(err).message });
    });
  }

  /** Merges registrations into `configModel`, builds every view's snapshot and serves them. */
  #apply(
    configModel: MeshModel,
    files: readonly string[],
    trigger: ConfigAppliedEvent['trigger'],
  ): ReloadResult {
    const { logger, clock, translator } = this.#options;
    const merged = mergeRegisteredEndpoints(configModel, this.#registry.entries());
    const model = merged.model;
    const notes = new Map<string, readonly TranslationNote[]>();
    const trustBundlePem = this.#ca?.trustBundlePem();
    const build: BuildResources = (view) => {
      const out = translator.translate(model, view);
      notes.set(viewKey(view), out.notes);
      return withRootCaSecret(out.resources, view, trustBundlePem);
    };
    const probes: ClientView[] = DEFAULT_KINDS.map((kind) => ({ kind, locality: EMPTY_LOCALITY }));
    const buildStartMs = clock.now();
    const result = this.#cache.update(
      (view) => {
        const resources = build(view);
        // Views built lazily later keep reporting their notes.
        this.#notes.set(viewKey(view), notes.get(viewKey(view)) ?? []);
        return resources;
      },
      probes,
      (name, workload, view) => {
        const at = parseServerListenerName(name);
        if (at === undefined) return undefined;
        return buildInboundListener({
          name,
          ...at,
          workload,
          model,
          kind: view.kind,
          ...(view.certificateProvider === undefined
            ? {}
            : { certificateProvider: view.certificateProvider }),
        });
      },
    );
    const appliedAtMs = clock.now();
    this.#publish('snapshot-build', { durationMs: appliedAtMs - buildStartMs, ok: result.ok });
    if (!result.ok)
      return this.#reject(createRejection('inconsistent', [], result.problems, clock.now()));
    for (const key of [...this.#notes.keys()]) if (!notes.has(key)) this.#notes.delete(key);
    this.#model = model;
    this.#configModel = configModel;
    this.#ca?.setMeshDefaults(model.settings);
    // The mTLS port's certificate: issued once the trust domain is known, again when it changes.
    if (
      this.#servingCertificate !== null &&
      this.#servingCertificate
        .status()
        ?.spiffeId.startsWith(`spiffe://${model.settings.trustDomain}/`) !== true
    )
      this.#servingCertificate.refresh();
    // Written once the trust domain is known, and again when MeshConfig changes it.
    if (
      this.#certificateFiles !== null &&
      this.#certificateFilesTrustDomain !== model.settings.trustDomain
    ) {
      this.#certificateFilesTrustDomain = model.settings.trustDomain;
      this.#certificateFiles.refreshAll();
    }
    this.#registry.setPlacements(merged.placements);
    this.#files = files;
    this.#appliedAtMs = appliedAtMs;
    this.#applied += 1;
    const event: ConfigAppliedEvent = {
      version: result.generation,
      files,
      notes: [...notes.values()].flat(),
      atMs: appliedAtMs,
      trigger,
    };
    logger.info('config applied', {
      version: result.generation,
      files: files.length,
      registrations: merged.placements.size,
      trigger,
    });
    this.#publish('config-applied', event);
    return { ok: true, version: result.generation, files };
  }

  #reject(rejection: ConfigRejection): ReloadResult {
    this.#lastRejection = rejection;
    this.#rejected += 1;
    this.#options.logger.error('config rejected; the last good config keeps serving', {
      reason: rejection.reason,
      issues: rejection.issues,
      servingVersion: this.version,
    });
    this.#publish('config-rejected', rejection);
    return { ok: false, rejection };
  }

  /**
   * Publishes on the event's diagnostics channel (if it has one) and emits it. A listener that
   * throws is logged, never thrown into the server or the reload that caused the event.
   */
  #publish<K extends keyof ControlPlaneEvents>(name: K, ...args: ControlPlaneEvents[K]): void {
    if (name in this.#channels) {
      const ch = this.#channels[name as ControlPlaneChannelEvent];
      if (ch.hasSubscribers) ch.publish(args[0]);
    }
    try {
      (this.emit as (event: K, ...rest: ControlPlaneEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.#options.logger.error('control plane event listener threw', {
        event: name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #startWatching(): void {
    const { configDir, logger } = this.#options;
    try {
      // Recursive: files in subdirectories count; editors that save by rename show up as 'rename'.
      const watcher = watch(
        configDir,
        { recursive: true, persistent: false },
        (_event, filename) => {
          this.emit('watch', filename);
          this.#debouncer.signal();
        },
      );
      watcher.on('error', (err) => {
        logger.error('config directory watch failed; retrying', { configDir, error: err.message });
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        if (!this.#closed) {
          this.#options.clock
            .setTimeout(
              () => {
                if (!this.#closed && this.#watcher === undefined) this.#startWatching();
              },
              Math.max(this.#options.debounceMs, 100),
            )
            .unref?.();
        }
      });
      this.#watcher = watcher;
    } catch (err) {
      logger.error('cannot watch the config directory; only reload() will apply changes', {
        configDir,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

/**
 * Loads `configDir`, starts the ADS and admin servers and watches the directory. Rejects with a
 * ConfigError listing every issue (`file:line: resource: field: message`) if the first load is
 * invalid; later invalid edits are rejected while the last good config keeps serving.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const controlPlane = new ControlPlane(resolveOptions(options));
  await controlPlane.start();
  return controlPlane;
}
