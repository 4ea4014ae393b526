// envoy.service.status.v3.ClientStatusDiscoveryService (CSDS) on the ADS port: what each
// connected client holds, per resource, from the server's ACK/NACK bookkeeping.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/status/v3/csds.proto
import {
  status as grpcStatus,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { silentLogger, type AnyMessage, type Logger } from '@weft/xds-client';
import type { ClientConfigSnapshot, ResourceConfigEntry } from './client-resources.js';
import type { NodeMessage } from './client-identity.js';

/** Fully qualified name of the CSDS service. */
export const CSDS_SERVICE_NAME = 'envoy.service.status.v3.ClientStatusDiscoveryService';

/** envoy.type.matcher.v3.StringMatcher as proto-loader delivers it (oneofs named). */
interface StringMatcherMessage {
  readonly match_pattern?: string;
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  readonly safe_regex?: { readonly regex?: string } | null;
  readonly ignore_case?: boolean;
}

/** envoy.service.status.v3.ClientStatusRequest as proto-loader delivers it. */
export interface ClientStatusRequestMessage {
  readonly node_matchers?: readonly {
    readonly node_id?: StringMatcherMessage | null;
    readonly node_metadatas?: readonly unknown[];
  }[];
  readonly node?: NodeMessage | null;
  readonly exclude_resource_contents?: boolean;
}

interface TimestampMessage {
  readonly seconds: number;
  readonly nanos: number;
}

/** envoy.service.status.v3.ClientConfig.GenericXdsConfig as written. */
export interface GenericXdsConfigMessage {
  readonly type_url: string;
  readonly name: string;
  readonly version_info: string;
  readonly xds_config?: AnyMessage;
  readonly last_updated?: TimestampMessage;
  readonly config_status: string;
  readonly client_status: string;
  readonly error_state?: {
    readonly failed_configuration?: AnyMessage;
    readonly last_update_attempt: TimestampMessage;
    readonly details: string;
    readonly version_info: string;
  };
}

/** envoy.service.status.v3.ClientStatusResponse as written. */
export interface ClientStatusResponseMessage {
  readonly config: readonly {
    readonly node: NodeMessage;
    readonly generic_xds_configs: readonly GenericXdsConfigMessage[];
  }[];
}

/** A request CSDS cannot answer: INVALID_ARGUMENT with this message. */
class CsdsRequestError extends Error {}

/** Options of {@link CsdsService}. */
export interface CsdsServiceOptions {
  /** The connected clients' configs, e.g. `() => adsServer.clientConfigs()`. Must not throw. */
  readonly source: () => readonly ClientConfigSnapshot[];
  /** Rejected requests are logged here; default silent. */
  readonly logger?: Logger;
}

/**
 * Answers FetchClientStatus (unary) and StreamClientStatus (one response per request) with one
 * ClientConfig per connected client matching any of the request's `node_matchers` (OR; none =
 * every client). Only `node_id` matchers are supported: `node_metadatas` is INVALID_ARGUMENT.
 */
export class CsdsService {
  readonly #source: () => readonly ClientConfigSnapshot[];
  readonly #logger: Logger;

  constructor(options: CsdsServiceOptions) {
    this.#source = options.source;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The grpc-js implementation to add under {@link CSDS_SERVICE_NAME}. */
  implementation(): UntypedServiceImplementation {
    return {
      FetchClientStatus: (
        call: ServerUnaryCall<ClientStatusRequestMessage, ClientStatusResponseMessage>,
        callback: sendUnaryData<ClientStatusResponseMessage>,
      ) => {
        try {
          callback(null, this.respond(call.request));
        } catch (err) {
          callback(this.#status(err));
        }
      },
      StreamClientStatus: (
        call: ServerDuplexStream<ClientStatusRequestMessage, ClientStatusResponseMessage>,
      ) => {
        call.on('data', (request: ClientStatusRequestMessage) => {
          try {
            call.write(this.respond(request));
          } catch (err) {
            call.emit('error', this.#status(err));
          }
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    };
  }

  /** The response to one request; throws {@link CsdsRequestError} for an unsupported matcher. */
  respond(request: ClientStatusRequestMessage): ClientStatusResponseMessage {
    const matches = compileNodeMatchers(request.node_matchers ?? []);
    const exclude = request.exclude_resource_contents === true;
    const clients = this.#source().filter((c) => matches(c.nodeId));
    this.#logger.debug('CSDS request', {
      matchers: request.node_matchers?.length ?? 0,
      clients: clients.length,
    });
    return {
      config: clients.map((c) => ({
        node: c.node,
        generic_xds_configs: c.types.flatMap((t) =>
          t.resources.map((r) => genericXdsConfig(r, exclude)),
        ),
      })),
    };
  }

  #status(err: unknown): { code: number; details: string } {
    if (err instanceof CsdsRequestError) {
      this.#logger.warn('CSDS request rejected', { error: err.message });
      return { code: grpcStatus.INVALID_ARGUMENT, details: err.message };
    }
    const details = err instanceof Error ? err.message : String(err);
    this.#logger.error('CSDS request failed', { error: details });
    return { code: grpcStatus.INTERNAL, details };
  }
}

function timestamp(ms: number): TimestampMessage {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function genericXdsConfig(r: ResourceConfigEntry, exclude: boolean): GenericXdsConfigMessage {
  return {
    type_url: r.typeUrl,
    name: r.name,
    version_info: r.version,
    ...(r.any !== null && !exclude ? { xds_config: r.any } : {}),
    ...(r.updatedAtMs !== null ? { last_updated: timestamp(r.updatedAtMs) } : {}),
    config_status: r.configStatus,
    client_status: r.clientStatus,
    ...(r.error !== null
      ? {
          error_state: {
            ...(exclude ? {} : { failed_configuration: r.error.any }),
            last_update_attempt: timestamp(r.error.atMs),
            details: r.error.message,
            version_info: r.error.version,
          },
        }
      : {}),
  };
}

/** OR of the matchers' node_id StringMatchers; no matcher matches every node. */
export function compileNodeMatchers(
  matchers: ClientStatusRequestMessage['node_matchers'] & object,
): (nodeId: string) => boolean {
  const tests = matchers.map((m, i) => {
    const path = `node_matchers[${i}]`;
    if ((m.node_metadatas ?? []).length > 0)
      throw new CsdsRequestError(`${path}.node_metadatas: not supported (match on node_id)`);
    if (m.node_id === undefined || m.node_id === null) return () => true;
    return compileStringMatcher(m.node_id, `${path}.node_id`);
  });
  if (tests.length === 0) return () => true;
  return (nodeId) => tests.some((t) => t(nodeId));
}

function compileStringMatcher(m: StringMatcherMessage, path: string): (s: string) => boolean {
  const ignoreCase = m.ignore_case === true;
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  const text = (key: 'exact' | 'prefix' | 'suffix' | 'contains'): string => norm(m[key] ?? '');
  switch (m.match_pattern) {
    case 'exact': {
      const want = text('exact');
      return (s) => norm(s) === want;
    }
    case 'prefix': {
      const want = text('prefix');
      return (s) => norm(s).startsWith(want);
    }
    case 'suffix': {
      const want = text('suffix');
      return (s) => norm(s).endsWith(want);
    }
    case 'contains': {
      const want = text('contains');
      return (s) => norm(s).includes(want);
    }
    case 'safe_regex': {
      const source = m.safe_regex?.regex ?? '';
      let re: RegExp;
      try {
        // Envoy's regex matchers match the whole value.
        re = new RegExp(`^(?:${source.replaceAll('(?P<', '(?<')})$`);
      } catch (err) {
        throw new CsdsRequestError(
          `${path}.safe_regex.regex: invalid: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return (s) => re.test(s);
    }
    case undefined:
      throw new CsdsRequestError(`${path}: no match pattern`);
    default:
      throw new CsdsRequestError(`${path}: ${m.match_pattern} is not supported`);
  }
}
