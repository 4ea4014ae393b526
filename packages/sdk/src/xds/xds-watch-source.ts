// What the dependency manager watches through: the XdsClient in production, an in-memory fake in
// tests. Same signature as XdsClient.watch (STYLE rule 23; gRFC A88 watcher callbacks).
import type { ResourceWatcher, XdsResourceType } from '@weft/xds-client';

/** A source of xDS resource watches. `watch` returns the function that cancels the watch. */
export interface XdsWatchSource {
  watch<T>(type: XdsResourceType<T>, name: string, watcher: ResourceWatcher<T>): () => void;
}
