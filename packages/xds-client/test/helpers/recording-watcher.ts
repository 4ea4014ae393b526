// A ResourceWatcher that records every callback and lets a test await the next one.
import type { ResourceWatcher } from '../../src/ads/resource-watcher.js';
import type { WeftError } from '../../src/errors/weft-error.js';
import { withTimeout } from './scripted-ads-server.js';

export type WatchEvent<T> =
  | { readonly kind: 'changed'; readonly value: T }
  | { readonly kind: 'resourceError'; readonly error: WeftError }
  | { readonly kind: 'ambientError'; readonly error: WeftError };

export class RecordingWatcher<T> implements ResourceWatcher<T> {
  readonly events: WatchEvent<T>[] = [];
  private cursor = 0;
  private waiter: (() => void) | undefined;

  onChanged(value: T): void {
    this.push({ kind: 'changed', value });
  }
  onResourceError(error: WeftError): void {
    this.push({ kind: 'resourceError', error });
  }
  onAmbientError(error: WeftError): void {
    this.push({ kind: 'ambientError', error });
  }

  private push(event: WatchEvent<T>): void {
    this.events.push(event);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next event not yet returned by next(). */
  async next(timeoutMs = 8000): Promise<WatchEvent<T>> {
    while (this.cursor >= this.events.length) {
      await withTimeout(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        timeoutMs,
        'a watcher event',
      );
    }
    return this.events[this.cursor++]!;
  }

  /** Events not yet returned by next(). */
  unread(): WatchEvent<T>[] {
    return this.events.slice(this.cursor);
  }

  /** Values passed to onChanged, in order. */
  get values(): T[] {
    return this.events.flatMap((e) => (e.kind === 'changed' ? [e.value] : []));
  }
}

/** The error code of an error event, undefined for a change. */
export function errorCode(event: WatchEvent<unknown>): string | undefined {
  return event.kind === 'changed' ? undefined : event.error.code;
}
