// Access logs: one JSON line per request with Envoy's field names (Istio's JSON access log
// format), written off the request path: a request only queues its entry; every
// ACCESS_LOG_BATCH_ENTRIES entries are serialized together (JSON.stringify, in a warm loop) and
// encoded (UTF-8) straight into a 64 KiB chunk, and a chunk is handed to a non-blocking
// fs.WriteStream in one write every ACCESS_LOG_FLUSH_MS or when it is full (like Envoy's file
// flush interval); past a high-water mark lines are dropped and counted. No line strings are
// kept: joining a batch of them and encoding the result cost more than making the lines.
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { Clock, Logger, TimerHandle } from '@weft/xds-client';

/** One access log line. `-` where Envoy prints `-` (unknown / not applicable). */
export interface AccessLogEntry {
  /** ISO 8601 start of the request. */
  readonly start_time: string;
  /** `source` (outbound, client side) or `destination` (inbound, mesh.serve). */
  readonly reporter: 'source' | 'destination';
  readonly method: string;
  readonly path: string;
  /** `HTTP/1.1`, `HTTP/2` (gRPC). */
  readonly protocol: string;
  readonly authority: string;
  /** HTTP status; 0 when none was sent or received. */
  readonly response_code: number;
  /** gRPC status code, `-` for HTTP. */
  readonly grpc_status: string;
  readonly response_flags: string;
  readonly bytes_received: number;
  readonly bytes_sent: number;
  /** ms */
  readonly duration: number;
  readonly upstream_host: string;
  readonly upstream_cluster: string;
  readonly route_name: string;
  readonly x_request_id: string;
  /** The trace id of a `traceparent` (W3C) or `x-b3-traceid` header; `-` when none. */
  readonly trace_id: string;
  /** mTLS peers (`spiffe://…`); `-` until the mesh has mTLS. */
  readonly downstream_peer_uri_san: string;
  readonly upstream_peer_uri_san: string;
}

/** Where access log lines go: a file path (appended) or `stdout`. */
export type AccessLogTarget = { readonly path: string } | 'stdout';

/** How long a line may wait in the buffer before it is written, ms. */
export const ACCESS_LOG_FLUSH_MS = 1000;
/** Size of a chunk of lines: a full chunk is written before the flush interval. */
export const ACCESS_LOG_CHUNK_BYTES = 64 * 1024;
/**
 * Entries serialized together once this many wait: cheaper per line than one at a time on each
 * request's path (bench/README.md, sdk/observability), while one batch (~10 µs) stays short.
 */
export const ACCESS_LOG_BATCH_ENTRIES = 16;
/** Bytes waiting in the stream past which new lines are dropped (counted in `dropped`). */
export const ACCESS_LOG_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** Counters of the access log (`mesh.stats().telemetry.accessLog`). */
export interface AccessLogStats {
  readonly written: number;
  readonly dropped: number;
  readonly errors: number;
}

/** The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), else undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const parts = traceparent.trim().split('-');
  const id = parts[1];
  return parts.length >= 4 && id !== undefined && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

/** Buffers lines and writes them in batches on a WriteStream. */
export class AccessLog {
  private readonly stream: WriteStream;
  /** Lines not yet handed to the stream, UTF-8, each ending in `\n`; made on first use. */
  private chunk: Buffer | undefined = undefined;
  private chunkBytes = 0;
  private chunkLines = 0;
  /** Entries not yet serialized (at most ACCESS_LOG_BATCH_ENTRIES). */
  private entries: AccessLogEntry[] = [];
  private timer: TimerHandle | undefined = undefined;
  private written = 0;
  private dropped = 0;
  private errors = 0;
  private closed = false;

  constructor(
    readonly target: AccessLogTarget,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    // fd 1 through fs (libuv thread pool): never blocks the event loop, unlike process.stdout
    // on a file or a pipe-less TTY.
    this.stream =
      target === 'stdout'
        ? createWriteStream('', { fd: 1, autoClose: false })
        : createWriteStream(target.path, { flags: 'a' });
    this.stream.on('error', (err) => {
      this.errors++;
      if (this.errors === 1) {
        this.logger.error('telemetry: access log write failed; lines are dropped', {
          target: target === 'stdout' ? 'stdout' : target.path,
          error: err.message,
        });
      }
    });
  }

  write(entry: AccessLogEntry): void {
    if (
      this.closed ||
      this.errors > 0 ||
      this.stream.writableLength > ACCESS_LOG_HIGH_WATER_BYTES
    ) {
      this.dropped++;
      return;
    }
    this.entries.push(entry);
    if (this.entries.length >= ACCESS_LOG_BATCH_ENTRIES) this.encodeEntries();
    this.timer ??= this.clock.setTimeout(this.flush, ACCESS_LOG_FLUSH_MS);
  }

  private encodeEntries(): void {
    const entries = this.entries;
    this.entries = [];
    // JSON.stringify is V8's own serializer: a hand-written one for this fixed shape measured no
    // faster (bench/README.md, sdk/observability). What cost was the Date and the batching.
    for (const entry of entries) this.append(JSON.stringify(entry));
  }

  private append(line: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair: 4 for 2; JSON.stringify escapes
    // lone surrogates), plus the newline.
    const maxBytes = 3 * line.length + 1;
    if (this.chunkBytes + maxBytes > ACCESS_LOG_CHUNK_BYTES) this.writeChunk();
    if (maxBytes > ACCESS_LOG_CHUNK_BYTES) {
      // A line longer than a chunk (a huge path): written on its own, after what was pending.
      this.written++;
      this.stream.write(`${line}\n`);
      return;
    }
    const chunk = (this.chunk ??= Buffer.allocUnsafe(ACCESS_LOG_CHUNK_BYTES));
    const end = this.chunkBytes + chunk.write(line, this.chunkBytes);
    chunk[end] = 0x0a;
    this.chunkBytes = end + 1;
    this.chunkLines++;
  }

  stats(): AccessLogStats {
    return { written: this.written, dropped: this.dropped, errors: this.errors };
  }

  /** Writes what is pending and ends the stream (a file is closed; fd 1 stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.stream.end(() => {
        resolve();
      });
    });
  }

  private readonly flush = (): void => {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.encodeEntries();
    this.writeChunk();
  };

  private writeChunk(): void {
    const chunk = this.chunk;
    if (chunk === undefined || this.chunkLines === 0) return;
    // The stream keeps the bytes until they are written: the next line starts a new chunk.
    const bytes = chunk.subarray(0, this.chunkBytes);
    this.chunk = undefined;
    this.chunkBytes = 0;
    this.written += this.chunkLines;
    this.chunkLines = 0;
    this.stream.write(bytes);
  }
}
