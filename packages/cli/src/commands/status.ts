// `weft status`: every client connected to a control plane, with its per-type ACKed version and
// SYNCED / STALE / NACKED state, read from the admin API's /clients (like istioctl proxy-status).
import type { CliIo, ExitCode } from '../cli-io.js';

export const STATUS_HELP = `Usage: weft status [--admin URL] [-o table|json]

Lists the clients connected to a control plane: node id, client kind, locality and, per xDS
type, SYNCED (ACKed what was last sent), STALE (a push not yet ACKed) or NACKED (with error).

  --admin URL   control plane admin API (env WEFT_ADMIN, default http://127.0.0.1:15014)
  -o FORMAT     table (default) or json
`;

/** Per-type state of one client, as the admin API's /clients reports it. */
interface TypeState {
  readonly ackedVersion: string;
  readonly sentVersion: string;
  readonly lastNack: { readonly version: string; readonly message: string } | null;
}

/** One connected client, as the admin API reports it. */
interface ClientRow {
  readonly nodeId: string;
  readonly kind: string;
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string };
  /** By short name: cds, eds, lds, rds, sds. */
  readonly types: Readonly<Record<string, TypeState>>;
}

const TYPE_COLUMNS = ['cds', 'eds', 'lds', 'rds', 'sds'] as const;

/** SYNCED when the last pushed version is ACKed, NACKED when the last answer was a NACK, else STALE. */
export function syncState(t: TypeState): string {
  if (t.lastNack !== null && t.lastNack.version === t.sentVersion) return 'NACKED';
  if (t.sentVersion === '' && t.ackedVersion === '') return '-';
  return t.ackedVersion === t.sentVersion ? 'SYNCED' : 'STALE';
}

/** Runs `weft status`. */
export async function runStatus(
  flags: { readonly admin?: string | undefined; readonly output?: string | undefined },
  io: CliIo,
): Promise<ExitCode> {
  const admin = (flags.admin ?? io.env['WEFT_ADMIN'] ?? 'http://127.0.0.1:15014').replace(
    /\/$/,
    '',
  );
  const output = flags.output ?? 'table';
  if (output !== 'table' && output !== 'json') {
    io.stderr.write(`weft status: -o: expected table or json, got ${JSON.stringify(output)}\n`);
    return 2;
  }
  let body: { clients: ClientRow[] };
  try {
    const res = await fetch(`${admin}/clients`);
    if (!res.ok) throw new Error(`${admin}/clients answered ${res.status}`);
    body = (await res.json()) as { clients: ClientRow[] };
  } catch (err) {
    io.stderr.write(`weft status: cannot read ${admin}/clients: ${(err as Error).message}\n`);
    return 1;
  }
  if (output === 'json') {
    io.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  const header = ['NODE', 'KIND', 'LOCALITY', ...TYPE_COLUMNS.map((c) => c.toUpperCase())];
  const rows = body.clients.map((c) => {
    const locality = [c.locality.region, c.locality.zone, c.locality.subZone]
      .filter((s) => s !== '')
      .join('/');
    return [
      c.nodeId,
      c.kind,
      locality === '' ? '-' : locality,
      ...TYPE_COLUMNS.map((col) => {
        const t = c.types[col];
        return t === undefined ? '-' : syncState(t);
      }),
    ];
  });
  io.stdout.write(formatTable([header, ...rows]));
  for (const c of body.clients) {
    for (const [shortName, t] of Object.entries(c.types)) {
      if (syncState(t) === 'NACKED' && t.lastNack !== null) {
        io.stdout.write(
          `${c.nodeId} NACKED ${shortName} version ${t.lastNack.version}: ${t.lastNack.message}\n`,
        );
      }
    }
  }
  return 0;
}

/** Left-aligned columns separated by two spaces. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map(
      (row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}
