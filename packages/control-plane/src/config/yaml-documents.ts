// Reads every YAML file of a config directory into located documents: each knows its file and can
// map a field path back to a line. Spec: DESIGN.md "Configuration: what users write".
import { readdir, readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import type { LocatedIssue } from '../contracts.js';
import type { ConfigFileCache, ParsedConfigFile } from './config-file-cache.js';

/** A path into a YAML document: map keys and sequence indexes. */
export type FieldPath = readonly (string | number)[];

/** One YAML document of one file. */
export interface SourceDocument {
  /** Relative to the config directory, `/`-separated. */
  readonly file: string;
  /** The document as plain data. */
  readonly value: unknown;
  /** 1-based line of `path` in the file: the deepest existing key or item along it. */
  lineOf(path: FieldPath): number;
}

/** All documents of a directory, the files read, and the syntax problems found. */
export interface ReadResult {
  readonly files: string[];
  readonly documents: SourceDocument[];
  readonly issues: LocatedIssue[];
}

/** Renders a field path the way issues show it: `spec.http[0].route[1].weight`. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Lists `*.yaml` / `*.yml` under `dir`, recursively, sorted, relative with `/` separators. */
async function listYamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const full = join(entry.parentPath, entry.name);
    files.push(
      full
        .slice(dir.length)
        .replace(/^[\\/]+/, '')
        .split(sep)
        .join('/'),
    );
  }
  return files.sort();
}

function locator(doc: Document.Parsed, lines: LineCounter): (path: FieldPath) => number {
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  return (path) => {
    let node: unknown = doc.contents;
    let line = isScalar(node) || isMap(node) || isSeq(node) ? lineAt(node.range?.[0] ?? 0) : 1;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        if (isScalar(pair.key) && pair.key.range) line = lineAt(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (!(isScalar(item) || isMap(item) || isSeq(item))) break;
        if (item.range) line = lineAt(item.range[0]);
        node = item;
      } else break;
    }
    return line;
  };
}

/** Parses one file's text (multi-document). A broken document becomes issues and is skipped. */
function parseYamlFile(file: string, text: string): ParsedConfigFile {
  const issues: LocatedIssue[] = [];
  const documents: SourceDocument[] = [];
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  if (!Array.isArray(docs)) return { documents, issues }; // an empty stream: nothing to load
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const firstLine = error.message.split('\n')[0] ?? error.message;
        issues.push({
          file,
          line: error.linePos?.[0].line ?? lineCounter.linePos(error.pos[0]).line,
          field: '',
          message: `invalid YAML: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}`,
        });
      }
      continue;
    }
    if (doc.contents === null) continue; // an empty document (`---` alone)
    documents.push({
      file,
      value: doc.toJS({ maxAliasCount: 100 }),
      lineOf: locator(doc, lineCounter),
    });
  }
  return { documents, issues };
}

/** Options of {@link readYamlDocuments}. */
export interface ReadYamlOptions {
  /** Reuses the parse of every file whose bytes are unchanged since the cache last saw it; default: parse everything. */
  readonly fileCache?: ConfigFileCache;
}

/**
 * Reads and parses every YAML file under `dir` (multi-document). A syntax error is an issue with
 * its file and line; the broken document is skipped and the others still load.
 */
export async function readYamlDocuments(
  dir: string,
  options: ReadYamlOptions = {},
): Promise<ReadResult> {
  const { fileCache } = options;
  const issues: LocatedIssue[] = [];
  const documents: SourceDocument[] = [];
  let files: string[];
  try {
    files = await listYamlFiles(dir);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    fileCache?.clear();
    return {
      files: [],
      documents,
      issues: [{ file: dir, field: '', message: `cannot read config directory: ${message}` }],
    };
  }
  // Read in parallel (the bytes are all needed, to hash or to parse); parse in file order.
  const reads = await Promise.all(
    files.map((file) =>
      readFile(join(dir, file)).then(
        (bytes) => ({ ok: true as const, bytes }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
    ),
  );
  const seen = new Set<string>();
  for (const [i, file] of files.entries()) {
    const read = reads[i];
    if (read === undefined) continue;
    if (!read.ok) {
      const message = read.err instanceof Error ? read.err.message : String(read.err);
      issues.push({ file, field: '', message: `cannot read file: ${message}` });
      continue;
    }
    const parse = (): ParsedConfigFile => parseYamlFile(file, read.bytes.toString('utf8'));
    let parsed: ParsedConfigFile;
    if (fileCache === undefined) parsed = parse();
    else {
      const path = join(dir, file);
      seen.add(path);
      parsed = fileCache.lookup(path, read.bytes, parse);
    }
    documents.push(...parsed.documents);
    issues.push(...parsed.issues);
  }
  fileCache?.retain(seen);
  return { files, documents, issues };
}
