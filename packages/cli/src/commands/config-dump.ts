// `weft config-dump NODE_ID`: what one connected client holds (listeners, routes, clusters,
// endpoints, secrets), read from the admin API's /config_dump?node=ID (like istioctl proxy-config all).
import type { CliIo, ExitCode } from '../cli-io.js';
import { formatTable } from './status.js';

export const CONFIG_DUMP_HELP = `Usage: weft config-dump NODE_ID [--admin URL] [-o table|json]

Shows what one connected client holds, as the control plane knows it from the client's ACKs
and NACKs: listeners, routes (virtual host, domains, match, clusters and weights), clusters
(load balancing, circuit breakers, outlier detection), endpoints (address, locality, priority,
health) and secrets, each with its version and ACKED / NACKED / REQUESTED status. NACKed
resources are listed below the tables with the client's error.

  NODE_ID       the client's node id (see 'weft status')
  --admin URL   control plane admin API (env WEFT_ADMIN, default http://127.0.0.1:15014)
  -o FORMAT     table (default) or json (the admin API's /config_dump document, resources decoded)
`;

/** A decoded resource: snake_case fields as in the .proto files. */
type Decoded = Readonly<Record<string, unknown>>;

/** One resource as /config_dump reports it. */
interface ResourceRow {
  readonly name: string;
  readonly version: string;
  readonly clientStatus: string;
  readonly configStatus: string;
  readonly resource: Decoded | null;
  readonly error: { readonly version: string; readonly message: string } | null;
}

/** One connected client (stream) as /config_dump reports it. */
interface ClientDump {
  readonly nodeId: string;
  readonly kind: string;
  readonly userAgent: string;
  readonly protocol: string;
  readonly types: Readonly<Record<string, { readonly resources: readonly ResourceRow[] }>>;
}

/** Runs `weft config-dump`. */
export async function runConfigDump(
  flags: {
    readonly nodeId: string;
    readonly admin?: string | undefined;
    readonly output?: string | undefined;
  },
  io: CliIo,
): Promise<ExitCode> {
  const admin = (flags.admin ?? io.env['WEFT_ADMIN'] ?? 'http://127.0.0.1:15014').replace(
    /\/$/,
    '',
  );
  const output = flags.output ?? 'table';
  if (output !== 'table' && output !== 'json') {
    io.stderr.write(
      `weft config-dump: -o: expected table or json, got ${JSON.stringify(output)}\n`,
    );
    return 2;
  }
  const url = `${admin}/config_dump?node=${encodeURIComponent(flags.nodeId)}`;
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(url);
    body = await res.json();
  } catch (err) {
    io.stderr.write(`weft config-dump: cannot read ${url}: ${(err as Error).message}\n`);
    return 1;
  }
  if (res.status === 404 && isRecord(body) && Array.isArray(body['connected'])) {
    const connected = body['connected'] as string[];
    io.stderr.write(
      `weft config-dump: no client with node id ${JSON.stringify(flags.nodeId)} is connected to ${admin}; ` +
        (connected.length === 0
          ? 'no clients are connected\n'
          : `connected: ${connected.join(', ')}\n`),
    );
    return 1;
  }
  if (!res.ok || !isRecord(body) || !Array.isArray(body['clients'])) {
    io.stderr.write(
      `weft config-dump: ${url} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}\n`,
    );
    return 1;
  }
  if (output === 'json') {
    io.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  const clients = body['clients'] as ClientDump[];
  clients.forEach((c, i) => {
    if (i > 0) io.stdout.write('\n');
    io.stdout.write(formatClient(c));
  });
  return 0;
}

/** The tables for one client. */
export function formatClient(c: ClientDump): string {
  const out: string[] = [
    `NODE ${c.nodeId} (${[c.kind, c.protocol, c.userAgent].filter((s) => s !== '').join(', ')})\n`,
  ];
  const section = (title: string, header: string[], rows: string[][]): void => {
    out.push(`\n${title}\n`);
    out.push(rows.length === 0 ? '(none)\n' : formatTable([header, ...rows]));
  };
  const resources = (short: string): readonly ResourceRow[] => c.types[short]?.resources ?? [];

  section(
    'LISTENERS',
    ['NAME', 'ROUTE CONFIG', 'HTTP FILTERS', 'VERSION', 'STATUS'],
    resources('lds').map((r) => {
      const hcm = record(record(record(r.resource)['api_listener'])['api_listener']);
      const rds = record(hcm['rds'])['route_config_name'];
      const filters = list(hcm['http_filters'])
        .map((f) => text(record(f)['name'], ''))
        .join(',');
      return [
        r.name,
        r.resource === null ? '-' : typeof rds === 'string' ? rds : 'inline',
        r.resource === null ? '-' : filters || '-',
        short(r.version),
        statusOf(r),
      ];
    }),
  );

  const routeRows: string[][] = [];
  for (const r of resources('rds')) {
    if (r.resource === null) {
      routeRows.push([r.name, '-', '-', '-', '-', short(r.version), statusOf(r)]);
      continue;
    }
    for (const vh of list(r.resource['virtual_hosts'])) {
      const v = record(vh);
      const domains = list(v['domains']).map(String).join(',');
      for (const route of list(v['routes'])) {
        const rt = record(route);
        routeRows.push([
          r.name,
          text(v['name'], ''),
          domains,
          formatMatch(record(rt['match'])),
          formatAction(rt),
          short(r.version),
          statusOf(r),
        ]);
      }
    }
  }
  section(
    'ROUTES',
    ['ROUTE CONFIG', 'VIRTUAL HOST', 'DOMAINS', 'MATCH', 'CLUSTERS (WEIGHT)', 'VERSION', 'STATUS'],
    routeRows,
  );

  section(
    'CLUSTERS',
    ['NAME', 'TYPE', 'LB', 'CIRCUIT BREAKERS', 'OUTLIER DETECTION', 'VERSION', 'STATUS'],
    resources('cds').map((r) => {
      const cl = record(r.resource);
      if (r.resource === null) return [r.name, '-', '-', '-', '-', short(r.version), statusOf(r)];
      return [
        r.name,
        text(cl['type'], cl['cluster_type'] !== undefined ? 'CUSTOM' : 'STATIC'),
        formatLb(cl),
        formatBreakers(record(cl['circuit_breakers'])),
        formatOutlier(cl['outlier_detection']),
        short(r.version),
        statusOf(r),
      ];
    }),
  );

  const endpointRows: string[][] = [];
  for (const r of resources('eds')) {
    const localities = list(record(r.resource)['endpoints']);
    if (r.resource === null || localities.length === 0) {
      endpointRows.push([r.name, '-', '-', '-', '-', '-', short(r.version), statusOf(r)]);
      continue;
    }
    for (const l of localities) {
      const loc = record(l);
      const locality = record(loc['locality']);
      const where =
        [locality['region'], locality['zone'], locality['sub_zone']]
          .filter((s) => typeof s === 'string' && s !== '')
          .join('/') || '-';
      for (const e of list(loc['lb_endpoints'])) {
        const ep = record(e);
        const sock = record(record(record(ep['endpoint'])['address'])['socket_address']);
        endpointRows.push([
          r.name,
          `${text(sock['address'], '?')}:${text(sock['port_value'], '?')}`,
          where,
          text(loc['priority'], '0'),
          text(ep['health_status'], 'UNKNOWN'),
          text(record(ep['load_balancing_weight'])['value']),
          short(r.version),
          statusOf(r),
        ]);
      }
    }
  }
  section(
    'ENDPOINTS',
    ['CLUSTER', 'ENDPOINT', 'LOCALITY', 'PRIORITY', 'HEALTH', 'WEIGHT', 'VERSION', 'STATUS'],
    endpointRows,
  );

  const secrets = resources('sds');
  if (secrets.length > 0)
    section(
      'SECRETS',
      ['NAME', 'VERSION', 'STATUS'],
      secrets.map((r) => [r.name, short(r.version), statusOf(r)]),
    );

  const nacks: string[] = [];
  for (const [type, t] of Object.entries(c.types))
    for (const r of t.resources)
      if (r.error !== null)
        nacks.push(
          `${c.nodeId} NACKED ${type} ${r.name} version ${short(r.error.version)}: ${r.error.message}\n`,
        );
  if (nacks.length > 0) out.push('\n', ...nacks);
  return out.join('');
}

/** ACKED, NACKED, REQUESTED or DOES_NOT_EXIST; `/STALE` while a newer push is unanswered. */
function statusOf(r: ResourceRow): string {
  return r.configStatus === 'STALE' ? `${r.clientStatus}/STALE` : r.clientStatus;
}

/** Versions are 16-char content hashes; 8 tell them apart in a table (-o json has them whole). */
function short(version: string): string {
  return version === '' ? '-' : version.slice(0, 8);
}

function formatMatch(m: Decoded): string {
  const parts: string[] = [];
  if (typeof m['prefix'] === 'string') parts.push(`prefix ${m['prefix']}`);
  else if (typeof m['path'] === 'string') parts.push(`path ${m['path']}`);
  else if (m['safe_regex'] !== undefined)
    parts.push(`regex ${String(record(m['safe_regex'])['regex'])}`);
  else if (typeof m['path_separated_prefix'] === 'string')
    parts.push(`prefix ${m['path_separated_prefix']}`);
  for (const h of list(m['headers'])) {
    const header = record(h);
    const sm = record(header['string_match']);
    const kind = Object.keys(sm).find((k) => k !== 'match_pattern' && k !== 'ignore_case');
    const value =
      kind === undefined
        ? header['present_match'] === true
          ? 'present'
          : '?'
        : `${kind}=${typeof sm[kind] === 'string' ? sm[kind] : JSON.stringify(sm[kind])}`;
    parts.push(`header ${String(header['name'])} ${value}`);
  }
  return parts.join(' ') || '-';
}

function formatAction(rt: Decoded): string {
  const action = rt['route'];
  if (action === undefined) {
    if (rt['redirect'] !== undefined) return 'redirect';
    if (rt['direct_response'] !== undefined)
      return `direct response ${String(record(rt['direct_response'])['status'])}`;
    return '-';
  }
  const a = record(action);
  if (typeof a['cluster'] === 'string') return `${a['cluster']} (100)`;
  const weighted = list(record(a['weighted_clusters'])['clusters']);
  if (weighted.length > 0)
    return weighted
      .map((w) => {
        const c = record(w);
        return `${String(c['name'])} (${text(record(c['weight'])['value'], '0')})`;
      })
      .join(', ');
  if (typeof a['cluster_header'] === 'string') return `header ${a['cluster_header']}`;
  return '-';
}

function formatLb(cl: Decoded): string {
  const policies = list(record(cl['load_balancing_policy'])['policies']);
  if (policies.length > 0) {
    const type = text(
      record(record(record(policies[0])['typed_extension_config'])['typed_config'])['@type'],
      '',
    );
    return type.slice(type.lastIndexOf('.') + 1) || 'custom';
  }
  return text(cl['lb_policy'], 'ROUND_ROBIN');
}

function formatBreakers(cb: Decoded): string {
  const t = record(list(cb['thresholds'])[0]);
  const fields: [string, string][] = [
    ['max_connections', 'conn'],
    ['max_pending_requests', 'pending'],
    ['max_requests', 'req'],
    ['max_retries', 'retries'],
  ];
  const parts = fields.flatMap(([field, label]) => {
    const v = record(t[field])['value'];
    return v === undefined ? [] : [`${label}=${text(v)}`];
  });
  return parts.join(' ') || '-';
}

function formatOutlier(od: unknown): string {
  if (od === undefined) return '-';
  const o = record(od);
  const parts: string[] = [];
  const value = (key: string): unknown => record(o[key])['value'];
  if (value('consecutive_5xx') !== undefined) parts.push(`5xx=${String(value('consecutive_5xx'))}`);
  if (value('consecutive_gateway_failure') !== undefined)
    parts.push(`gateway=${String(value('consecutive_gateway_failure'))}`);
  if (o['interval'] !== undefined) parts.push(`interval=${formatDuration(o['interval'])}`);
  if (o['base_ejection_time'] !== undefined)
    parts.push(`ejection=${formatDuration(o['base_ejection_time'])}`);
  if (value('max_ejection_percent') !== undefined)
    parts.push(`max=${String(value('max_ejection_percent'))}%`);
  return parts.join(' ') || 'on';
}

/** google.protobuf.Duration ({seconds: '10', nanos}) as `10s` / `1.5s` / `250ms`. */
function formatDuration(d: unknown): string {
  const r = record(d);
  const ms = Number(r['seconds'] ?? 0) * 1000 + Number(r['nanos'] ?? 0) / 1e6;
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/** A scalar as text; anything else (absent, object) is `fallback`. */
function text(v: unknown, fallback = '-'): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : fallback;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function record(v: unknown): Decoded {
  return isRecord(v) ? v : {};
}

function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
