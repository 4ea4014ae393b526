// The client's resource cache and watcher registry, shared by every server connection and both
// transports. It knows values and watchers, not nonces (STYLE rule 24; gRFC A57, A88).
import type { Clock, TimerHandle } from '../clock.js';
import { WeftError } from '../errors/weft-error.js';
import type { Logger } from '../logger.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import type { XdsResourceType } from '../resource-types/xds-resource-type.js';
import type {
  XdsResourceErrorStatus,
  XdsResourceState,
  XdsResourceStatus,
} from '../xds-client-status.js';
import type { ResourceWatcher } from './resource-watcher.js';

/** The name that subscribes to every resource of a type (xDS protocol doc, "wildcard"). */
export const WILDCARD_NAME = '*';

/** One watcher registration; `delivered` stops the initial cached delivery after a newer notification. */
interface Registration {
  readonly watcher: ResourceWatcher<unknown>;
  active: boolean;
  delivered: boolean;
}

interface Entry {
  readonly name: string;
  readonly registrations: Set<Registration>;
  hasValue: boolean;
  value: unknown;
  raw: AnyMessage | undefined;
  version: string;
  /** URI of the server the value came from: versions mean something only to that server. */
  source: string | undefined;
  state: XdsResourceState;
  lastUpdatedMs: number;
  error: XdsResourceErrorStatus | undefined;
  timer: TimerHandle | undefined;
}

/** Per-type cache and counters. */
export interface TypeCache {
  readonly type: XdsResourceType<unknown>;
  readonly entries: Map<string, Entry>;
  readonly wildcard: Set<Registration>;
  /** Whether any watch was ever placed (status lists only those types). */
  used: boolean;
  acks: number;
  nacks: number;
}

/** The subscription of one type as the transports must send it. */
export interface Subscription {
  readonly wildcard: boolean;
  /** Explicitly watched names, sorted. */
  readonly names: readonly string[];
}

export interface ResourceStoreOptions {
  readonly types: readonly XdsResourceType<unknown>[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly resourceDoesNotExistTimeoutMs: number;
  /** Called when the set of names to request for a type changed. */
  readonly onSubscriptionChanged: (typeUrl: string) => void;
}

/** Cache + watchers for every registered type. */
export class ResourceStore {
  private readonly caches = new Map<string, TypeCache>();

  constructor(private readonly options: ResourceStoreOptions) {
    for (const type of options.types) {
      // Duplicate URLs are rejected by resolveXdsClientOptions before we get here.
      this.caches.set(type.typeUrl, {
        type,
        entries: new Map(),
        wildcard: new Set(),
        used: false,
        acks: 0,
        nacks: 0,
      });
    }
  }

  /** The cache of a registered type, or undefined for a type URL nobody registered. */
  cache(typeUrl: string): TypeCache | undefined {
    return this.caches.get(typeUrl);
  }

  /** Every registered type's cache. */
  allCaches(): IterableIterator<TypeCache> {
    return this.caches.values();
  }

  /** Adds a watcher; returns the function that removes it. */
  addWatcher(typeUrl: string, name: string, watcher: ResourceWatcher<unknown>): () => void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) {
      throw new WeftError(
        'WEFT_INVALID_CONFIG',
        `resource type ${typeUrl} is not registered with this XdsClient`,
      );
    }
    cache.used = true;
    const registration: Registration = { watcher, active: true, delivered: false };
    let changed = false;
    if (name === WILDCARD_NAME) {
      changed = cache.wildcard.size === 0;
      cache.wildcard.add(registration);
      const known = [...cache.entries.values()];
      queueMicrotask(() => {
        if (!registration.active) return;
        for (const entry of known) {
          if (cache.entries.get(entry.name) === entry && entry.hasValue) {
            this.call(registration, (w) => w.onChanged(entry.value));
          }
        }
      });
    } else {
      let entry = cache.entries.get(name);
      if (entry === undefined) {
        entry = this.newEntry(name);
        cache.entries.set(name, entry);
      }
      changed = entry.registrations.size === 0;
      entry.registrations.add(registration);
      const subscribed = entry;
      // A new watcher learns the cached state asynchronously, unless a newer event reached it first.
      queueMicrotask(() => {
        if (!registration.active || registration.delivered) return;
        if (subscribed.hasValue) this.call(registration, (w) => w.onChanged(subscribed.value));
        else if (subscribed.state === 'DOES_NOT_EXIST') {
          this.call(registration, (w) => w.onResourceError(doesNotExist(cache.type, name)));
        } else if (subscribed.state === 'NACKED' && subscribed.error !== undefined) {
          const message = subscribed.error.message;
          this.call(registration, (w) => w.onResourceError(invalid(cache.type, name, message)));
        }
      });
    }
    if (changed) this.options.onSubscriptionChanged(typeUrl);
    return () => {
      if (!registration.active) return;
      registration.active = false;
      this.removeRegistration(cache, name, registration);
    };
  }

  private removeRegistration(cache: TypeCache, name: string, registration: Registration): void {
    let changed = false;
    if (name === WILDCARD_NAME) {
      cache.wildcard.delete(registration);
      if (cache.wildcard.size === 0) {
        changed = true;
        // Resources held only because of the wildcard go with it.
        for (const entry of [...cache.entries.values()]) {
          if (entry.registrations.size === 0) this.deleteEntry(cache, entry);
        }
      }
    } else {
      const entry = cache.entries.get(name);
      if (entry === undefined) return;
      entry.registrations.delete(registration);
      if (entry.registrations.size === 0) {
        changed = true;
        if (cache.wildcard.size === 0) this.deleteEntry(cache, entry);
      }
    }
    if (changed) this.options.onSubscriptionChanged(cache.type.typeUrl);
  }

  private deleteEntry(cache: TypeCache, entry: Entry): void {
    this.stopTimer(entry);
    cache.entries.delete(entry.name);
  }

  private newEntry(name: string): Entry {
    return {
      name,
      registrations: new Set(),
      hasValue: false,
      value: undefined,
      raw: undefined,
      version: '',
      source: undefined,
      state: 'REQUESTED',
      lastUpdatedMs: this.options.clock.now(),
      error: undefined,
      timer: undefined,
    };
  }

  /** What to request for a type. */
  subscription(typeUrl: string): Subscription {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return { wildcard: false, names: [] };
    const names: string[] = [];
    for (const entry of cache.entries.values())
      if (entry.registrations.size > 0) names.push(entry.name);
    return { wildcard: cache.wildcard.size > 0, names: names.sort() };
  }

  /** Whether a resource of this name is wanted (named watch or wildcard). */
  isWanted(typeUrl: string, name: string): boolean {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return false;
    if (cache.wildcard.size > 0) return true;
    return (cache.entries.get(name)?.registrations.size ?? 0) > 0;
  }

  /** Names held or wanted (for SotW deletion checks). */
  knownNames(typeUrl: string): string[] {
    const cache = this.caches.get(typeUrl);
    return cache === undefined ? [] : [...cache.entries.keys()];
  }

  /** name → version of every value that came from `serverUri` (Delta initial_resource_versions). */
  versionsFrom(typeUrl: string, serverUri: string): Record<string, string> {
    const out: Record<string, string> = {};
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return out;
    for (const entry of cache.entries.values()) {
      if (entry.hasValue && entry.source === serverUri) out[entry.name] = entry.version;
    }
    return out;
  }

  /** Fallback condition of gRFC A71: is some watched resource still unanswered ("does not exist" counts as answered)? */
  hasUncachedWatch(): boolean {
    for (const cache of this.caches.values()) {
      if (cache.wildcard.size > 0 && cache.entries.size === 0) return true;
      for (const entry of cache.entries.values()) {
        if (entry.registrations.size > 0 && !entry.hasValue && entry.state === 'REQUESTED')
          return true;
      }
    }
    return false;
  }

  /** Applies a valid resource. Notifies only if it differs from the cached value. */
  applyValid(
    typeUrl: string,
    name: string,
    value: unknown,
    raw: AnyMessage,
    version: string,
    serverUri: string,
  ): void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return;
    let entry = cache.entries.get(name);
    if (entry === undefined) {
      entry = this.newEntry(name);
      cache.entries.set(name, entry);
    }
    this.stopTimer(entry);
    const changed = !entry.hasValue || !cache.type.isEqual(entry.value, value);
    entry.raw = raw;
    entry.version = version;
    entry.source = serverUri;
    entry.error = undefined;
    if (changed || entry.state !== 'ACKED') entry.lastUpdatedMs = this.options.clock.now();
    entry.state = 'ACKED';
    if (!changed) return;
    entry.hasValue = true;
    entry.value = value;
    this.notify(cache, entry, (w) => w.onChanged(value));
  }

  /** Records a rejected resource: the previous value (if any) stays in force. */
  applyInvalid(typeUrl: string, name: string, message: string, failedVersion: string): void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return;
    let entry = cache.entries.get(name);
    if (entry === undefined) {
      entry = this.newEntry(name);
      cache.entries.set(name, entry);
    }
    this.stopTimer(entry);
    const now = this.options.clock.now();
    entry.state = 'NACKED';
    entry.lastUpdatedMs = now;
    entry.error = { message, failedVersion, atMs: now };
    const err = invalid(cache.type, name, message);
    if (entry.hasValue) this.notify(cache, entry, (w) => w.onAmbientError(err));
    else this.notify(cache, entry, (w) => w.onResourceError(err));
  }

  /** The server says (or implies) the resource does not exist: drop it and tell its watchers. */
  applyDoesNotExist(typeUrl: string, name: string): void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return;
    const entry = cache.entries.get(name);
    if (entry === undefined) return;
    this.stopTimer(entry);
    if (entry.state === 'DOES_NOT_EXIST') return;
    entry.state = 'DOES_NOT_EXIST';
    entry.hasValue = false;
    entry.value = undefined;
    entry.raw = undefined;
    entry.version = '';
    entry.source = undefined;
    entry.error = undefined;
    entry.lastUpdatedMs = this.options.clock.now();
    this.notify(cache, entry, (w) => w.onResourceError(doesNotExist(cache.type, name)));
    if (entry.registrations.size === 0) cache.entries.delete(name);
  }

  /** Whether the resource is currently held with a value. */
  hasValue(typeUrl: string, name: string): boolean {
    return this.caches.get(typeUrl)?.entries.get(name)?.hasValue ?? false;
  }

  /** Counts an ACK or NACK for metrics. */
  count(typeUrl: string, outcome: 'ack' | 'nack'): void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return;
    if (outcome === 'ack') cache.acks++;
    else cache.nacks++;
  }

  /**
   * Starts the does-not-exist timer of every watched name of the type that has no answer yet
   * (gRFC A57: only while the stream is up, from when the request is sent).
   */
  armDoesNotExistTimers(typeUrl: string): void {
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return;
    for (const entry of cache.entries.values()) {
      if (entry.registrations.size === 0 || entry.hasValue || entry.state !== 'REQUESTED') continue;
      if (entry.timer !== undefined) continue;
      entry.timer = this.options.clock.setTimeout(() => {
        entry.timer = undefined;
        if (cache.entries.get(entry.name) !== entry) return;
        this.options.logger.warn('xds resource does not exist (timeout)', {
          type: cache.type.shortName,
          name: entry.name,
          timeoutMs: this.options.resourceDoesNotExistTimeoutMs,
        });
        this.applyDoesNotExist(typeUrl, entry.name);
      }, this.options.resourceDoesNotExistTimeoutMs);
    }
  }

  /** Stops every does-not-exist timer (the stream went down, or the client closes). */
  stopAllTimers(): void {
    for (const cache of this.caches.values()) {
      for (const entry of cache.entries.values()) this.stopTimer(entry);
    }
  }

  private stopTimer(entry: Entry): void {
    if (entry.timer !== undefined) {
      this.options.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }

  /** Tells every watcher of every type about stream trouble; values stay in force. */
  notifyAmbientAll(err: WeftError): void {
    for (const cache of this.caches.values()) {
      const seen = new Set<Registration>();
      for (const entry of cache.entries.values()) {
        for (const r of entry.registrations) seen.add(r);
      }
      for (const r of cache.wildcard) seen.add(r);
      for (const r of seen) this.call(r, (w) => w.onAmbientError(err));
    }
  }

  /** Per-name status of one type. */
  resourceStatus(typeUrl: string): Record<string, XdsResourceStatus> {
    const out: Record<string, XdsResourceStatus> = {};
    const cache = this.caches.get(typeUrl);
    if (cache === undefined) return out;
    for (const entry of [...cache.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      out[entry.name] = {
        state: entry.state,
        version: entry.version,
        lastUpdatedMs: entry.lastUpdatedMs,
        ...(entry.raw === undefined ? {} : { raw: entry.raw }),
        ...(entry.error === undefined ? {} : { error: entry.error }),
      };
    }
    return out;
  }

  private notify(cache: TypeCache, entry: Entry, fn: (w: ResourceWatcher<unknown>) => void): void {
    for (const r of [...entry.registrations, ...cache.wildcard]) this.call(r, fn);
  }

  private call(registration: Registration, fn: (w: ResourceWatcher<unknown>) => void): void {
    if (!registration.active) return;
    registration.delivered = true;
    try {
      fn(registration.watcher);
    } catch (error) {
      this.options.logger.error('xds watcher threw', { error: String(error) });
    }
  }
}

function doesNotExist(type: XdsResourceType<unknown>, name: string): WeftError {
  return new WeftError(
    'WEFT_RESOURCE_DOES_NOT_EXIST',
    `${type.shortName} resource ${name} does not exist`,
  );
}

function invalid(type: XdsResourceType<unknown>, name: string, message: string): WeftError {
  return new WeftError(
    'WEFT_INVALID_RESOURCE',
    `${type.shortName} resource ${name} rejected: ${message}`,
  );
}
