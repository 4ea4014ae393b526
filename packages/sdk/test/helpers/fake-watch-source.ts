// An in-memory XdsWatchSource: tests set, delete and fail resources; watchers hear about it
// synchronously, and a new watcher gets the cached value asynchronously (as from the XdsClient).
import type { ResourceWatcher, WeftError, XdsResourceType } from '@weft/xds-client';
import type { XdsWatchSource } from '../../src/xds/xds-watch-source.js';

type AnyWatcher = ResourceWatcher<unknown>;

export class FakeWatchSource implements XdsWatchSource {
  private readonly values = new Map<string, unknown>();
  private readonly errors = new Map<string, WeftError>();
  private readonly watchers = new Map<string, Set<AnyWatcher>>();
  /** Every watch call made, as `short name`. */
  readonly log: string[] = [];

  watch<T>(type: XdsResourceType<T>, name: string, watcher: ResourceWatcher<T>): () => void {
    const key = `${type.shortName} ${name}`;
    this.log.push(key);
    let set = this.watchers.get(key);
    if (set === undefined) this.watchers.set(key, (set = new Set()));
    const w = watcher as AnyWatcher;
    set.add(w);
    queueMicrotask(() => {
      if (!set.has(w)) return;
      if (this.values.has(key)) w.onChanged(this.values.get(key));
      else {
        const err = this.errors.get(key);
        if (err !== undefined) w.onResourceError(err);
      }
    });
    return () => {
      set.delete(w);
    };
  }

  set<T>(type: XdsResourceType<T>, name: string, value: T): void {
    const key = `${type.shortName} ${name}`;
    this.values.set(key, value);
    this.errors.delete(key);
    for (const w of this.watchers.get(key) ?? []) w.onChanged(value);
  }

  fail<T>(type: XdsResourceType<T>, name: string, err: WeftError): void {
    const key = `${type.shortName} ${name}`;
    this.values.delete(key);
    this.errors.set(key, err);
    for (const w of this.watchers.get(key) ?? []) w.onResourceError(err);
  }

  ambient(err: WeftError): void {
    for (const set of this.watchers.values()) for (const w of set) w.onAmbientError(err);
  }

  /** Names of `shortName` resources with at least one watcher, sorted. */
  watched(shortName: string): string[] {
    const out: string[] = [];
    for (const [key, set] of this.watchers) {
      if (set.size > 0 && key.startsWith(`${shortName} `))
        out.push(key.slice(shortName.length + 1));
    }
    return out.sort();
  }
}

/** Lets queued microtasks and immediates run (cached values reach new watchers). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}
