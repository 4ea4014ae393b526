// The callback shape undici's Pool calls internally (onConnect/onHeaders/onData/onComplete/onError),
// and an adapter for callers that pass the newer controller-style handler. Speaking the pool's
// own shape means fetch and request() handlers pass through with no conversion.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

/** undici's callback handler (its "legacy" DispatchHandler methods). */
export interface LegacyHandler {
  onConnect(abort: (err?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | string[] | null): void;
  onError(err: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  onBodySent?(chunkSize: number, totalBytesSent: number): void;
  onRequestSent?(): void;
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** Raw header pairs → undici's object form (values of repeated names become arrays). */
function parseRawHeaders(
  raw: readonly (Buffer | string)[] | null,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (raw === null) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase();
    const value = String(raw[i + 1]);
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [previous, value];
  }
  return out;
}

class AdaptedController implements Controller {
  paused = false;
  aborted = false;
  reason: Error | null = null;
  resumeFn: (() => void) | null = null;
  constructor(private readonly abortFn: (err?: Error) => void) {}
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeFn?.();
  }
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.abortFn(reason);
  }
}

/** Wraps a controller-style handler so it can be driven by callbacks (like undici's UnwrapHandler). */
class ControllerHandlerAdapter implements LegacyHandler {
  private controller: AdaptedController = new AdaptedController(() => undefined);
  constructor(private readonly handler: Handler) {}
  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.controller = new AdaptedController(abort);
    this.handler.onRequestStart?.(this.controller, context);
  }
  onResponseStarted(): void {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- undici still calls it; pass it on
    this.handler.onResponseStarted?.();
  }
  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    this.controller.resumeFn = resume;
    this.handler.onResponseStart?.(
      this.controller,
      statusCode,
      parseRawHeaders(rawHeaders),
      statusText,
    );
    return !this.controller.paused;
  }
  onData(chunk: Buffer): boolean {
    this.handler.onResponseData?.(this.controller, chunk);
    return !this.controller.paused;
  }
  onComplete(trailers: Buffer[] | string[] | null): void {
    this.handler.onResponseEnd?.(this.controller, parseRawHeaders(trailers));
  }
  onError(err: Error): void {
    this.handler.onResponseError?.(this.controller, err);
  }
  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(
      this.controller,
      statusCode,
      parseRawHeaders(rawHeaders),
      socket,
    );
  }
}

/** The handler in callback form: itself when it already is, else adapted. */
export function toLegacyHandler(handler: Handler): LegacyHandler {
  if (typeof handler.onRequestStart === 'function') return new ControllerHandlerAdapter(handler);
  return handler as LegacyHandler;
}
