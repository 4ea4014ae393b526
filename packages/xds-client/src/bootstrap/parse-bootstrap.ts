// Validates a bootstrap object in gRPC's GRPC_XDS_BOOTSTRAP format into a frozen ResolvedBootstrap,
// collecting every issue. Spec: gRFC A27 (bootstrap), A29 (certificate_providers), A36, A47, A65.
import type { ConfigIssue } from '../errors/weft-error.js';
import { ConfigError } from '../errors/weft-error.js';
import type {
  ResolvedBootstrap,
  ResolvedLocality,
  ResolvedNode,
  ResolvedXdsServer,
} from './resolved-bootstrap.js';
import { DEFAULT_USER_AGENT_NAME, WEFT_XDS_CLIENT_VERSION } from './version.js';

/**
 * Top-level keys gRPC knows. Anything else is an issue (STYLE rule 17), but every key gRPC reads
 * is accepted so one file serves Weft and gRPC clients.
 */
const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set([
  'xds_servers',
  'node',
  'certificate_providers',
  'server_listener_resource_name_template',
  'client_default_listener_resource_name_template',
  'authorities',
]);
const SERVER_KEYS: ReadonlySet<string> = new Set([
  'server_uri',
  'channel_creds',
  'server_features',
]);
/** gRPC reads id, cluster, locality, metadata; Weft also takes its own user agent and features. */
const NODE_KEYS: ReadonlySet<string> = new Set([
  'id',
  'cluster',
  'locality',
  'metadata',
  'user_agent_name',
  'user_agent_version',
  'client_features',
]);
const LOCALITY_KEYS: ReadonlySet<string> = new Set(['region', 'zone', 'sub_zone']);
/** channel_creds types Weft can use, in gRPC's spelling; others are skipped as gRPC does. */
const SUPPORTED_CREDS: ReadonlySet<string> = new Set(['insecure', 'tls']);
const KNOWN_CREDS: ReadonlySet<string> = new Set(['insecure', 'tls', 'google_default']);
const FILE_WATCHER_KEYS = ['certificate_file', 'private_key_file', 'ca_certificate_file'] as const;

type Json = Readonly<Record<string, unknown>>;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads typed values at paths and records `path: expected X, got Y` issues. */
class Reader {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  object(v: unknown, path: string): Json | undefined {
    if (isObject(v)) return v;
    this.add(path, `expected object, got ${typeName(v)}`);
    return undefined;
  }

  /** A string field; `fallback` when absent, or an issue when `fallback` is undefined. */
  string(obj: Json, key: string, path: string, fallback?: string): string {
    const v = obj[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v === 'string') return v;
    this.add(path, v === undefined ? 'required' : `expected string, got ${typeName(v)}`);
    return fallback ?? '';
  }

  strings(obj: Json, key: string, path: string): string[] {
    const v = obj[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.add(path, `expected array, got ${typeName(v)}`);
      return [];
    }
    return v.flatMap((s: unknown, i) => {
      if (typeof s === 'string') return [s];
      this.add(`${path}[${i}]`, `expected string, got ${typeName(s)}`);
      return [];
    });
  }

  unknownKeys(obj: Json, allowed: ReadonlySet<string>, path: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key)) this.add(path === '' ? key : `${path}.${key}`, 'unknown field');
    }
  }
}

function parseServer(v: unknown, path: string, r: Reader): ResolvedXdsServer | undefined {
  const obj = r.object(v, path);
  if (obj === undefined) return undefined;
  r.unknownKeys(obj, SERVER_KEYS, path);
  const serverUri = r.string(obj, 'server_uri', `${path}.server_uri`);
  if (serverUri === '' && typeof obj['server_uri'] === 'string') {
    r.add(`${path}.server_uri`, 'must not be empty');
  }
  const credsPath = `${path}.channel_creds`;
  const creds = obj['channel_creds'];
  let chosen: { type: 'insecure' | 'tls'; config: Json } | undefined;
  if (!Array.isArray(creds)) {
    r.add(credsPath, creds === undefined ? 'required' : `expected array, got ${typeName(creds)}`);
  } else {
    creds.forEach((c: unknown, i) => {
      const cp = `${credsPath}[${i}]`;
      const co = r.object(c, cp);
      if (co === undefined) return;
      r.unknownKeys(co, new Set(['type', 'config']), cp);
      const type = r.string(co, 'type', `${cp}.type`);
      const config = co['config'] === undefined ? {} : r.object(co['config'], `${cp}.config`);
      if (type !== '' && !KNOWN_CREDS.has(type)) r.add(`${cp}.type`, `unknown type ${type}`);
      if (chosen === undefined && SUPPORTED_CREDS.has(type) && config !== undefined) {
        chosen = { type: type as 'insecure' | 'tls', config };
      }
    });
    if (chosen === undefined && r.issues.every((i) => !i.path.startsWith(credsPath))) {
      r.add(credsPath, 'needs an entry of type insecure or tls');
    }
  }
  return {
    serverUri,
    channelCredentials: chosen?.type ?? 'insecure',
    serverFeatures: r.strings(obj, 'server_features', `${path}.server_features`),
    channelCredentialsConfig: chosen?.config ?? {},
  };
}

function parseLocality(v: unknown, r: Reader): ResolvedLocality {
  const path = 'node.locality';
  const obj = v === undefined ? {} : (r.object(v, path) ?? {});
  r.unknownKeys(obj, LOCALITY_KEYS, path);
  return {
    region: r.string(obj, 'region', `${path}.region`, ''),
    zone: r.string(obj, 'zone', `${path}.zone`, ''),
    subZone: r.string(obj, 'sub_zone', `${path}.sub_zone`, ''),
  };
}

function parseNode(v: unknown, r: Reader): ResolvedNode {
  const obj = (v === undefined ? undefined : r.object(v, 'node')) ?? {};
  if (v === undefined) r.add('node', 'required (node.id is required)');
  r.unknownKeys(obj, NODE_KEYS, 'node');
  const id = r.string(obj, 'id', 'node.id');
  if (id === '' && typeof obj['id'] === 'string') r.add('node.id', 'must not be empty');
  const metadata =
    obj['metadata'] === undefined ? {} : (r.object(obj['metadata'], 'node.metadata') ?? {});
  return {
    id,
    cluster: r.string(obj, 'cluster', 'node.cluster', ''),
    locality: parseLocality(obj['locality'], r),
    metadata,
    userAgentName: r.string(
      obj,
      'user_agent_name',
      'node.user_agent_name',
      DEFAULT_USER_AGENT_NAME,
    ),
    userAgentVersion: r.string(
      obj,
      'user_agent_version',
      'node.user_agent_version',
      WEFT_XDS_CLIENT_VERSION,
    ),
    clientFeatures: r.strings(obj, 'client_features', 'node.client_features'),
  };
}

/** Validates certificate_providers the way grpc-js does (plugin `file_watcher` only). */
function parseCertificateProviders(v: unknown, r: Reader): Json {
  if (v === undefined) return {};
  const obj = r.object(v, 'certificate_providers');
  if (obj === undefined) return {};
  for (const [name, provider] of Object.entries(obj)) {
    const path = `certificate_providers[${JSON.stringify(name)}]`;
    const p = r.object(provider, path);
    if (p === undefined) continue;
    const plugin = r.string(p, 'plugin_name', `${path}.plugin_name`);
    if (plugin !== '' && plugin !== 'file_watcher') {
      r.add(`${path}.plugin_name`, `unknown plugin ${plugin}`);
      continue;
    }
    const config = r.object(p['config'], `${path}.config`);
    if (config === undefined) continue;
    for (const key of [...FILE_WATCHER_KEYS, 'refresh_interval']) {
      if (config[key] !== undefined) r.string(config, key, `${path}.config.${key}`);
    }
    if ((config['certificate_file'] === undefined) !== (config['private_key_file'] === undefined)) {
      r.add(`${path}.config`, 'certificate_file and private_key_file go together');
    }
    if (FILE_WATCHER_KEYS.every((k) => config[k] === undefined)) {
      r.add(
        `${path}.config`,
        'needs certificate_file and private_key_file, or ca_certificate_file',
      );
    }
  }
  return obj;
}

function optionalString(obj: Json, key: string, r: Reader): string | undefined {
  return obj[key] === undefined ? undefined : r.string(obj, key, key);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Validates a parsed bootstrap (gRPC's JSON format) and returns it resolved and deep-frozen.
 * Every problem becomes one issue with a path; all are thrown together as one ConfigError with
 * code WEFT_BOOTSTRAP whose message names `source` (a file path or an environment variable).
 */
export function parseBootstrap(json: unknown, source: string): ResolvedBootstrap {
  const r = new Reader();
  const top = r.object(json, '') ?? {};
  r.unknownKeys(top, TOP_LEVEL_KEYS, '');
  const servers = top['xds_servers'];
  let xdsServers: ResolvedXdsServer[] = [];
  if (!Array.isArray(servers)) {
    r.add(
      'xds_servers',
      servers === undefined ? 'required' : `expected array, got ${typeName(servers)}`,
    );
  } else {
    if (servers.length === 0) r.add('xds_servers', 'must not be empty');
    xdsServers = servers.flatMap((s: unknown, i) => {
      const server = parseServer(s, `xds_servers[${i}]`, r);
      return server === undefined ? [] : [server];
    });
  }
  const node = parseNode(top['node'], r);
  const certificateProviders = parseCertificateProviders(top['certificate_providers'], r);
  const authorities =
    top['authorities'] === undefined ? {} : (r.object(top['authorities'], 'authorities') ?? {});
  const resolved: ResolvedBootstrap = {
    xdsServers,
    node,
    certificateProviders: structuredClone(certificateProviders),
    serverListenerResourceNameTemplate: optionalString(
      top,
      'server_listener_resource_name_template',
      r,
    ),
    clientDefaultListenerResourceNameTemplate: optionalString(
      top,
      'client_default_listener_resource_name_template',
      r,
    ),
    authorities: structuredClone(authorities),
  };
  if (r.issues.length > 0) throw new ConfigError(`bootstrap ${source}`, r.issues, 'WEFT_BOOTSTRAP');
  return deepFreeze(structuredClone(resolved));
}
