// `weft bootstrap`: writes an xDS bootstrap file in gRPC's format (GRPC_XDS_BOOTSTRAP), so one
// file serves Weft SDKs and gRPC proxyless clients alike.
import { writeFile } from 'node:fs/promises';
import { formatBootstrap, parseBootstrap } from '@weft/xds-client';
import type { CliIo, ExitCode } from '../cli-io.js';

export const BOOTSTRAP_HELP = `Usage: weft bootstrap --xds-server HOST:PORT [--xds-server HOST:PORT]… --node-id ID
                      [--region R] [--zone Z] [--sub-zone S] [--delta] [--out FILE]

Writes a bootstrap (gRPC's format) to FILE or stdout. Servers are tried in order (fallback).
  --delta   ask Weft clients to use Delta xDS (gRPC clients ignore it and use State-of-the-World)
`;

/** Parsed flags of `weft bootstrap`. */
export interface BootstrapFlags {
  readonly xdsServers: readonly string[];
  readonly nodeId?: string | undefined;
  readonly region?: string | undefined;
  readonly zone?: string | undefined;
  readonly subZone?: string | undefined;
  readonly delta: boolean;
  readonly out?: string | undefined;
}

/** Runs `weft bootstrap`. */
export async function runBootstrap(flags: BootstrapFlags, io: CliIo): Promise<ExitCode> {
  if (flags.xdsServers.length === 0 || flags.nodeId === undefined) {
    io.stderr.write('weft bootstrap: --xds-server and --node-id are required\n\n' + BOOTSTRAP_HELP);
    return 2;
  }
  const raw = {
    xds_servers: flags.xdsServers.map((uri) => ({
      server_uri: uri,
      channel_creds: [{ type: 'insecure' }],
      server_features: flags.delta ? ['xds_v3', 'weft_delta'] : ['xds_v3'],
    })),
    node: {
      id: flags.nodeId,
      locality: {
        region: flags.region ?? '',
        zone: flags.zone ?? '',
        sub_zone: flags.subZone ?? '',
      },
    },
  };
  // Round-trip through the validator: the CLI never writes a file the clients would reject.
  const text =
    JSON.stringify(formatBootstrap(parseBootstrap(raw, 'weft bootstrap flags')), null, 2) + '\n';
  if (flags.out === undefined) io.stdout.write(text);
  else await writeFile(flags.out, text);
  return 0;
}
