// Wires an XdsClient to scripted ADS servers for the ADS tests, and builds responses.
import { once } from 'node:events';
import FakeTimers from '@sinonjs/fake-timers';
import type { Clock as FakeClock } from '@sinonjs/fake-timers';
import type { Clock } from '../../src/clock.js';
import type { LogFields, Logger } from '../../src/logger.js';
import type { AnyMessage } from '../../src/protos/xds-protos.js';
import { loadXdsProtos } from '../../src/protos/xds-protos.js';
import { XdsClient } from '../../src/xds-client.js';
import type { XdsClientEvents } from '../../src/xds-client-events.js';
import type { XdsResourceStatus, XdsTypeStatus } from '../../src/xds-client-status.js';
import type { XdsClientOptions, XdsTransport } from '../../src/xds-client-options.js';
import { ScriptedAdsServer, withTimeout } from './scripted-ads-server.js';
import { testBootstrap } from './test-bootstrap.js';
import { createTestResourceTypes } from './test-resource-types.js';

/** A logger that keeps every line, so tests can await a log event instead of sleeping. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  private waiters: (() => void)[] = [];
  debug(message: string, fields?: LogFields): void {
    this.add('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.add('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.add('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.add('error', message, fields);
  }
  private add(level: string, message: string, fields: LogFields | undefined): void {
    this.lines.push({ level, message, fields });
    for (const w of this.waiters.splice(0)) w();
  }
  count(message: string): number {
    return this.lines.filter((l) => l.message === message).length;
  }
  /** Resolves once `message` has been logged at least `n` times in total. */
  async waitFor(message: string, n: number, timeoutMs = 8000): Promise<void> {
    const deadline = withTimeout(
      new Promise<never>(() => undefined),
      timeoutMs,
      `${n}× log "${message}"`,
    );
    deadline.catch(() => undefined);
    while (this.count(message) < n) {
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), deadline]);
    }
  }
}

export interface FixtureOptions {
  readonly transport: XdsTransport;
  /** Number of scripted servers (bootstrap order). Default 1. */
  readonly servers?: number;
  readonly serverFeatures?: readonly string[];
  readonly clock?: Clock;
  readonly extra?: Partial<XdsClientOptions>;
}

export interface AdsFixture {
  readonly client: XdsClient;
  readonly server: ScriptedAdsServer;
  readonly servers: ScriptedAdsServer[];
  readonly types: ReturnType<typeof createTestResourceTypes>;
  readonly logger: RecordingLogger;
  close(): Promise<void>;
}

export async function createAdsFixture(options: FixtureOptions): Promise<AdsFixture> {
  const protos = loadXdsProtos();
  const types = createTestResourceTypes(protos);
  const servers: ScriptedAdsServer[] = [];
  for (let i = 0; i < (options.servers ?? 1); i++) servers.push(await ScriptedAdsServer.start());
  const logger = new RecordingLogger();
  const client = new XdsClient({
    bootstrap: testBootstrap(
      servers.map((s) => ({
        uri: s.address,
        features: ['xds_v3', ...(options.serverFeatures ?? [])],
      })),
    ),
    resourceTypes: [types.cds, types.eds, types.lds, types.rds],
    transport: options.transport,
    logger,
    backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...options.extra,
  });
  return {
    client,
    server: servers[0]!,
    servers,
    types,
    logger,
    async close() {
      await client.close();
      for (const s of servers) await s.close();
    },
  };
}

/** Awaits the next event of the client, generously. */
export async function nextEvent<K extends keyof XdsClientEvents>(
  client: XdsClient,
  name: K,
  timeoutMs = 8000,
): Promise<XdsClientEvents[K][0]> {
  const [event] = (await once(client as never, name, {
    signal: AbortSignal.timeout(timeoutMs),
  })) as [XdsClientEvents[K][0]];
  return event;
}

/** A SotW DiscoveryResponse. */
export function sotwResponse(
  typeUrl: string,
  version: string,
  nonce: string,
  resources: readonly AnyMessage[],
): Record<string, unknown> {
  return { version_info: version, nonce, type_url: typeUrl, resources };
}

/** A Delta DiscoveryResponse; a resource without `body` is the "does not exist" form. */
export function deltaResponse(
  typeUrl: string,
  nonce: string,
  resources: readonly { name: string; version: string; body?: AnyMessage }[],
  removed: readonly string[] = [],
  systemVersion = '',
): Record<string, unknown> {
  return {
    system_version_info: systemVersion,
    nonce,
    type_url: typeUrl,
    resources: resources.map((r) => ({
      name: r.name,
      version: r.version,
      ...(r.body === undefined ? {} : { resource: r.body }),
    })),
    removed_resources: removed,
  };
}

/**
 * A fake clock for the client's timers only (the network stays real). fake-timers' clock has
 * `now` as a number, so it is adapted to our Clock interface; advance it with `fake.tickAsync(ms)`.
 */
export function fakeClock(): { clock: Clock; fake: FakeClock } {
  const fake = FakeTimers.createClock();
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs) as unknown as object,
    clearTimeout: (handle) => {
      fake.clearTimeout(handle as never);
    },
  };
  return { clock, fake };
}

/** status().types[typeUrl], failing the test if the type is not listed. */
export function typeStatus(client: XdsClient, typeUrl: string): XdsTypeStatus {
  const status: XdsTypeStatus | undefined = client.status().types[typeUrl];
  if (status === undefined) throw new Error(`status() lists no ${typeUrl}`);
  return status;
}

/** status() of one resource, or undefined. */
export function resourceStatus(
  client: XdsClient,
  typeUrl: string,
  name: string,
): XdsResourceStatus | undefined {
  const status: XdsResourceStatus | undefined = typeStatus(client, typeUrl).resources[name];
  return status;
}
