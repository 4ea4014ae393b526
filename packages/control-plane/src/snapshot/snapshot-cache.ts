// Snapshots per client view, built lazily from the owner's build function and swapped whole
// on config change after a consistency check. https://github.com/envoyproxy/go-control-plane/blob/main/pkg/cache/v3/simple.go
import { EventEmitter } from 'node:events';
import { silentLogger, WeftError, type Logger, type XdsProtos } from '@weft/xds-client';
import type { ClientView, XdsResourceSet } from '../contracts.js';
import { EncodedResourceCache, type EncodedResourceCacheStats } from './encoded-resource-cache.js';
import { LISTENER_TYPE_URL } from '@weft/xds-client';
import type { InboundWorkload } from '../translate/inbound-policies.js';
import {
  createSnapshot,
  encodeSnapshotResource,
  withExtraResources,
  type Snapshot,
  type SnapshotResource,
} from './snapshot.js';

/** Builds the resources for one client view. MUST be pure: called again for every view on update. */
export type BuildResources = (view: ClientView) => XdsResourceSet;

/**
 * Builds a per-client Listener on request (inbound `grpc/server?...` names), or undefined when
 * `name` is not one. MUST be pure for a given config.
 */
export type BuildInboundListener = (
  name: string,
  workload: InboundWorkload,
  view: ClientView,
) => Readonly<Record<string, unknown>> | undefined;

/** Checks a built resource set; returns problems (empty = fine). Like go-control-plane's `Consistent()`. */
export type CheckResources = (resources: XdsResourceSet, view: ClientView) => readonly string[];

/** Options of {@link SnapshotCache}. */
export interface SnapshotCacheOptions {
  readonly protos: XdsProtos;
  /** Run on every built set before it is served; default: no check. */
  readonly check?: CheckResources;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** Outcome of {@link SnapshotCache.update}. */
export type SnapshotUpdateResult =
  | { readonly ok: true; readonly generation: number }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Events of {@link SnapshotCache}. */
export interface SnapshotCacheEvents {
  /** A new generation was accepted; every cached view has a new snapshot. */
  change: [generation: number];
}

/** The key of a view: JSON of kind + locality. */
export function viewKey(view: ClientView): string {
  return JSON.stringify([
    view.kind,
    view.locality.region,
    view.locality.zone,
    view.locality.subZone,
    view.certificateProvider ?? '',
  ]);
}

/**
 * Snapshots keyed by {@link ClientView}. `update(build)` rebuilds every cached view (plus the
 * probe views) and runs the check on each; any problem rejects the whole update and the last
 * good generation keeps serving. Views first seen later are built lazily from the last
 * accepted build function.
 */
export class SnapshotCache extends EventEmitter<SnapshotCacheEvents> {
  readonly #protos: XdsProtos;
  readonly #check: CheckResources | undefined;
  readonly #logger: Logger;
  #build: BuildResources | undefined;
  #buildInbound: BuildInboundListener | undefined;
  /** Inbound Listeners of the current generation by (kind, workload, name). */
  #inbound = new Map<string, SnapshotResource | null>();
  #generation = 0;
  #snapshots = new Map<string, Snapshot>();
  readonly #views = new Map<string, ClientView>();
  /** Encodings shared by every view and kept across generations while still in use. */
  readonly #encoded = new EncodedResourceCache();

  /** Creates an empty cache: until the first `update`, every view gets an empty snapshot. */
  constructor(options: SnapshotCacheOptions) {
    super();
    this.#protos = options.protos;
    this.#check = options.check;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Generation of the config being served; 0 before the first accepted update. */
  get generation(): number {
    return this.#generation;
  }

  /** Whether any update has been accepted. */
  get hasConfig(): boolean {
    return this.#build !== undefined;
  }

  /** Counters of the encoding reuse between views and generations. */
  get encodingStats(): EncodedResourceCacheStats {
    return this.#encoded.stats;
  }

  /** Views that currently have a snapshot. */
  views(): ClientView[] {
    return [...this.#views.values()];
  }

  /**
   * The snapshot for a view, building it on first use. A lazy build that fails (which the
   * update-time probes are meant to prevent) is logged and served as an empty snapshot.
   */
  get(view: ClientView): Snapshot {
    const key = viewKey(view);
    const existing = this.#snapshots.get(key);
    if (existing !== undefined) return existing;
    let snapshot: Snapshot;
    const built = this.#buildOne(this.#build, view, this.#generation);
    if (built.ok) snapshot = built.snapshot;
    else {
      this.#logger.error('snapshot build failed for a new view; serving an empty snapshot', {
        view: key,
        problems: built.problems,
      });
      snapshot = createSnapshot(this.#protos, new Map(), this.#generation);
    }
    this.#snapshots.set(key, snapshot);
    this.#views.set(key, view);
    return snapshot;
  }

  /**
   * Replaces the build function. Every cached view and every `probeViews` entry is rebuilt and
   * checked; all must pass or nothing changes. Emits 'change' on success.
   */
  update(
    build: BuildResources,
    probeViews: readonly ClientView[] = [],
    buildInbound?: BuildInboundListener,
  ): SnapshotUpdateResult {
    const views = new Map(this.#views);
    for (const v of probeViews) views.set(viewKey(v), v);
    const generation = this.#generation + 1;
    const next = new Map<string, Snapshot>();
    const problems: string[] = [];
    this.#encoded.beginBuild();
    for (const [key, view] of views) {
      const built = this.#buildOne(build, view, generation);
      if (built.ok) next.set(key, built.snapshot);
      else problems.push(...built.problems.map((p) => `${view.kind}: ${p}`));
    }
    if (problems.length > 0) {
      this.#encoded.abortBuild();
      return { ok: false, problems: [...new Set(problems)] };
    }
    this.#encoded.commitBuild();
    this.#build = build;
    this.#buildInbound = buildInbound;
    this.#inbound = new Map();
    this.#generation = generation;
    this.#snapshots = next;
    for (const [key, view] of views) this.#views.set(key, view);
    this.emit('change', generation);
    return { ok: true, generation };
  }

  /**
   * The view's snapshot plus the per-client inbound Listeners named in `names` (other names are
   * ignored). Built on first request and cached by (view, namespace, labels, name) until the
   * next generation; a build that fails is logged and left out (the client sees no such Listener).
   */
  withInbound(view: ClientView, workload: InboundWorkload, names: readonly string[]): Snapshot {
    const base = this.get(view);
    const build = this.#buildInbound;
    if (build === undefined || names.length === 0) return base;
    const extra: SnapshotResource[] = [];
    for (const name of names) {
      const key = JSON.stringify([
        viewKey(view),
        workload.namespace,
        Object.entries(workload.labels).sort(),
        name,
      ]);
      let r = this.#inbound.get(key);
      if (r === undefined) {
        r = null;
        try {
          const plain = build(name, workload, view);
          if (plain !== undefined)
            r = encodeSnapshotResource(this.#protos, LISTENER_TYPE_URL, name, plain);
        } catch (err) {
          this.#logger.error('inbound listener build failed', {
            name,
            namespace: workload.namespace,
            error: WeftError.from(err).message,
          });
        }
        this.#inbound.set(key, r);
      }
      if (r !== null) extra.push(r);
    }
    return withExtraResources(base, LISTENER_TYPE_URL, extra);
  }

  #buildOne(
    build: BuildResources | undefined,
    view: ClientView,
    generation: number,
  ): { ok: true; snapshot: Snapshot } | { ok: false; problems: readonly string[] } {
    if (build === undefined)
      return { ok: true, snapshot: createSnapshot(this.#protos, new Map(), generation) };
    try {
      const resources = build(view);
      const problems = this.#check?.(resources, view) ?? [];
      if (problems.length > 0) return { ok: false, problems };
      return {
        ok: true,
        snapshot: createSnapshot(this.#protos, resources, generation, {
          encodedCache: this.#encoded,
        }),
      };
    } catch (err) {
      return { ok: false, problems: [WeftError.from(err).message] };
    }
  }
}
