// Remembers each config file's parsed YAML documents, keyed by the file's content hash, so a reload
// re-parses only the files that changed. Spec: DESIGN.md "Configuration: what users write".
import { createHash } from 'node:crypto';
import type { LocatedIssue } from '../contracts.js';
import type { SourceDocument } from './yaml-documents.js';

/** What one file parsed into: its documents and its syntax problems. Must not be mutated. */
export interface ParsedConfigFile {
  readonly documents: readonly SourceDocument[];
  readonly issues: readonly LocatedIssue[];
}

/** Counters of a {@link ConfigFileCache}, cumulative since it was created. */
export interface ConfigFileCacheStats {
  /** Files held now (those seen by the latest load). */
  readonly files: number;
  /** Files parsed because they were new or their bytes changed. */
  readonly parsed: number;
  /** Files whose earlier parse was reused because their bytes were unchanged. */
  readonly reused: number;
}

interface Entry {
  readonly digest: string;
  readonly parsed: ParsedConfigFile;
}

/**
 * Parsed config files by absolute path, each valid only for the exact bytes it was parsed from (a
 * SHA-1 of the content, so an edit that keeps size and mtime is still seen). Pass one to
 * `loadConfigDir` via `{ fileCache }`; it belongs to its owner (one per control plane, one
 * directory each) and is never shared through a module. Entries for files the latest load did
 * not see are dropped, so it holds at most one parse per file of the directory.
 */
export class ConfigFileCache {
  readonly #entries = new Map<string, Entry>();
  #parsed = 0;
  #reused = 0;

  /** Counters for tests, logs and benchmarks. */
  get stats(): ConfigFileCacheStats {
    return { files: this.#entries.size, parsed: this.#parsed, reused: this.#reused };
  }

  /**
   * @internal The parse of `bytes` at `path`: the cached one when the bytes are unchanged, else
   * `parse()` (MUST be pure in `bytes`), which is then remembered.
   */
  lookup(path: string, bytes: Uint8Array, parse: () => ParsedConfigFile): ParsedConfigFile {
    const digest = createHash('sha1').update(bytes).digest('hex');
    const entry = this.#entries.get(path);
    if (entry?.digest === digest) {
      this.#reused += 1;
      return entry.parsed;
    }
    const parsed = parse();
    this.#parsed += 1;
    this.#entries.set(path, { digest, parsed });
    return parsed;
  }

  /** @internal Drops every entry whose path is not in `paths` (files removed or unreadable). */
  retain(paths: ReadonlySet<string>): void {
    for (const path of [...this.#entries.keys()]) if (!paths.has(path)) this.#entries.delete(path);
  }

  /** Forgets every file. */
  clear(): void {
    this.#entries.clear();
  }
}
