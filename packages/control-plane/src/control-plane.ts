// The control-plane process: config directory (+ workload registry) → model → per-view
// snapshots → ADS, with a debounced directory watch and the admin API. DESIGN.md "Configuration",
// "Workload registry", "The `weft` command".
import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import {
  ConfigError,
  loadXdsProtos,
  WeftError,
  type ConfigIssue,
  parseServerListenerName,
} from '@weft/xds-client';
import { AdminServer } from './admin/admin-server.js';
import { withRootCaSecret } from './ca/root-ca-secret.js';
import type { MeshCa, CaDocument } from './ca/mesh-ca.js';
import type { ServingCertificateStatus } from './ca/control-plane-certificate.js';
import type { CertificateFilesStatus } from './ca/certificate-files.js';
import { createConfigDumpDocument, type ConfigDumpDocument } from './admin/config-dump.js';
import {
  createControlPlaneChannels,
  type ControlPlaneChannelEvent,
} from './control-plane-channels.js';
import { ConfigDirWatcher } from './config/config-dir-watcher.js';
import { ConfigFileCache } from './config/config-file-cache.js';
import { loadConfigDir } from './config/load-config-dir.js';
import type { MeshModel } from './config/mesh-model.js';
import type { ClientKind, ClientView, LocatedIssue, TranslationNote } from './contracts.js';
import { ControlPlaneCa } from './control-plane-ca.js';
import { Debouncer } from './control-plane-debouncer.js';
import type { ControlPlaneEvents } from './control-plane-events.js';
import {
  resolveOptions,
  type ControlPlaneOptions,
  type ResolvedControlPlaneOptions,
} from './control-plane-options.js';
import {
  createRejection,
  summarizeModel,
  summarizeSnapshot,
  type ConfigAppliedEvent,
  type ConfigDocument,
  type ConfigRejection,
  type ReloadResult,
} from './control-plane-status.js';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics.js';
import { mergeRegisteredEndpoints } from './registry/merge-registered-endpoints.js';
import type { RegistryDocument } from './registry/registered-endpoint.js';
import { REGISTRY_SERVICE_NAME, RegistryService } from './registry/registry-service.js';
import { WorkloadRegistry } from './registry/workload-registry.js';
import { AdsServer } from './server/ads-server.js';
import type { ClientStatus } from './server/client-status.js';
import { SnapshotCache, viewKey, type BuildResources } from './snapshot/snapshot-cache.js';
import { buildInboundListener } from './translate/build-inbound-listener.js';

const DEFAULT_KINDS: readonly ClientKind[] = ['weft', 'grpc', 'envoy'];
const EMPTY_LOCALITY = Object.freeze({ region: '', zone: '', subZone: '' });

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
  readonly #admin: AdminServer;
  readonly #debouncer: Debouncer;
  readonly #registry: WorkloadRegistry;
  readonly #registryService: RegistryService;
  /** Rebuilds snapshots from the last loaded config when registrations change (no YAML read). */
  readonly #registryDebouncer: Debouncer;
  readonly #metrics: ControlPlaneMetrics;
  /** The mesh CA, certificate files and the mTLS port's certificate; null without `caDir`. */
  readonly #caSide: ControlPlaneCa | null;
  readonly #channels = createControlPlaneChannels();
  readonly #notes = new Map<string, readonly TranslationNote[]>();
  /** Parsed YAML per file, so a reload re-parses only what changed. */
  readonly #fileCache = new ConfigFileCache();
  readonly #watcher: ConfigDirWatcher;
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
    this.#caSide =
      options.caDir === null
        ? null
        : new ControlPlaneCa({
            dir: options.caDir,
            mtlsPort: options.xdsTlsPort !== null,
            certificateFiles: options.certificateFiles,
            clock,
            logger,
            publish: (name, ...args) => this.#publish(name, ...args),
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
        ...(this.#caSide?.plaintextServices() ?? []),
      ],
    });
    this.#adsTls =
      this.#caSide === null || options.xdsTlsPort === null
        ? null
        : this.#caSide.createMtlsAdsServer(
            {
              cache: this.#cache,
              host: options.host,
              port: options.xdsTlsPort,
              logger,
              clock,
              nextStreamId,
              csdsSource,
            },
            this.#registryService,
          );
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
    this.#caSide?.registerMetrics(options.metricsRegistry, clock);
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
        ...(this.#caSide === null
          ? {}
          : {
              ca: () => this.caDocument(),
              caWorkload: (spiffeId: string) => this.#caSide?.ca.workloadCertificate(spiffeId),
            }),
      },
    });
    this.#watcher = new ConfigDirWatcher({
      configDir: options.configDir,
      clock,
      logger,
      retryMs: Math.max(options.debounceMs, 100),
      onChange: (filename) => {
        this.emit('watch', filename);
        this.#debouncer.signal();
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
          this.#watcher.rearm();
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
    return this.#caSide?.servingCertificate?.status();
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
    return this.#caSide?.ca ?? null;
  }

  /**
   * Re-reads the CA directory (a rotated root, trusted roots added or retired) without a restart;
   * throws the directory's ConfigError, and keeps signing with the last good CA, if it is bad.
   */
  reloadCa(): void {
    if (this.#caSide === null)
      throw new WeftError('WEFT_UNSUPPORTED', 'this control plane has no CA (caDir)');
    // The ROOTCA Secret follows the bundle (a rotation's overlap reaches clients at once).
    if (this.#caSide.reload()) this.#rebuild('ca');
  }

  /** The admin `/ca` document, or null without a CA. */
  caDocument(): (CaDocument & { certificateFiles?: CertificateFilesStatus[] }) | null {
    return this.#caSide?.document() ?? null;
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
    const serving = this.#caSide?.servingCertificate?.status();
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
    if (this.#options.watch) this.#watcher.start();
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
    this.#watcher.close();
    this.#registryService.close();
    this.#registry.close();
    this.#caSide?.servingCertificate?.close();
    await Promise.all([this.#ads.close(), this.#adsTls?.close(), this.#admin.close()]);
    this.#metrics.unregister();
    this.#caSide?.close();
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
    const trustBundlePem = this.#caSide?.ca.trustBundlePem();
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
    this.#caSide?.applySettings(model.settings);
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
