// The config directory watch of a ControlPlane: recursive fs.watch, retried after an error,
// re-armed before every reload. DESIGN.md "Configuration".
import { watch, type FSWatcher } from 'node:fs';
import type { Clock, Logger } from '@weft/xds-client';

/** Options of {@link ConfigDirWatcher}. */
export interface ConfigDirWatcherOptions {
  readonly configDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Delay before watching again after a watch error, ms. */
  readonly retryMs: number;
  /** A change in the directory (before debouncing). */
  readonly onChange: (filename: string | null) => void;
}

/** @internal Watches a config directory until `close()`. */
export class ConfigDirWatcher {
  readonly #o: ConfigDirWatcherOptions;
  #watcher: FSWatcher | undefined;
  #closed = false;

  constructor(options: ConfigDirWatcherOptions) {
    this.#o = options;
  }

  /** Starts watching; a directory that cannot be watched is logged (only `reload()` then applies). */
  start(): void {
    const { configDir, logger } = this.#o;
    try {
      // Recursive: files in subdirectories count; editors that save by rename show up as 'rename'.
      const watcher = watch(
        configDir,
        { recursive: true, persistent: false },
        (_event, filename) => {
          this.#o.onChange(filename);
        },
      );
      watcher.on('error', (err) => {
        logger.error('config directory watch failed; retrying', { configDir, error: err.message });
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        if (!this.#closed) {
          this.#o.clock
            .setTimeout(() => {
              if (!this.#closed && this.#watcher === undefined) this.start();
            }, this.#o.retryMs)
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

  /** Closes the current watch and starts a new one. */
  rearm(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.start();
  }

  /** Stops watching for good. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
