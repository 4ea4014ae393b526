// Access logs: one JSON line per request with Envoy's field names (Istio's JSON access log
// format), written off the request path: lines are buffered and handed to a non-blocking
// fs.WriteStream in one write every ACCESS_LOG_FLUSH_MS or every 64 KiB (like Envoy's file flush
// interval); past a high-water mark lines are dropped and counted.
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
/** Buffered characters that trigger a write before the flush interval. */
export const ACCESS_LOG_FLUSH_CHARS = 64 * 1024;
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
  private pending: string[] = [];
  private pendingChars = 0;
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
    const line = JSON.stringify(entry);
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= ACCESS_LOG_FLUSH_CHARS) this.flush();
    else this.timer ??= this.clock.setTimeout(this.flush, ACCESS_LOG_FLUSH_MS);
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
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    this.written += lines.length;
    this.stream.write(`${lines.join('\n')}\n`);
  };
}
