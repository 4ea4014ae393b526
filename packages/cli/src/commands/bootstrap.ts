// `weft bootstrap`: writes an xDS bootstrap file in gRPC's format (GRPC_XDS_BOOTSTRAP), so one
// file serves Weft SDKs and gRPC proxyless clients alike.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatBootstrap, parseBootstrap } from '@weft/xds-client';
import { CERTIFICATE_PROVIDER_METADATA_KEY } from '@weft/control-plane';
import type { CliIo, ExitCode } from '../cli-io.js';

export const BOOTSTRAP_HELP = `Usage: weft bootstrap --xds-server HOST:PORT [--xds-server HOST:PORT]… --node-id ID
                      [--region R] [--zone Z] [--sub-zone S] [--delta] [--out FILE]
                      [--namespace NS] [--service-account SA] [--cert-dir DIR]

Writes a bootstrap (gRPC's format) to FILE or stdout. Servers are tried in order (fallback).
  --delta             ask Weft clients to use Delta xDS (gRPC clients ignore it and use
                      State-of-the-World)
  --namespace NS      node metadata NAMESPACE (PeerAuthentication / AuthorizationPolicy scope)
  --service-account SA
                      node metadata SERVICE_ACCOUNT
  --cert-dir DIR      mTLS for gRPC clients: a file_watcher certificate provider named "default"
                      reading DIR/key.pem, DIR/cert-chain.pem, DIR/root-cert.pem (keep them fresh
                      with weft control-plane --cert-files NS/SA=DIR) and node metadata
                      ${CERTIFICATE_PROVIDER_METADATA_KEY}=default, which tells the control plane to
                      send this client ISTIO_MUTUAL clusters (without it they stay plaintext, since
                      a gRPC client without the provider would reject them)
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
  readonly namespace?: string | undefined;
  readonly serviceAccount?: string | undefined;
  readonly certDir?: string | undefined;
}

/** Runs `weft bootstrap`. */
export async function runBootstrap(flags: BootstrapFlags, io: CliIo): Promise<ExitCode> {
  if (flags.xdsServers.length === 0 || flags.nodeId === undefined) {
    io.stderr.write('weft bootstrap: --xds-server and --node-id are required\n\n' + BOOTSTRAP_HELP);
    return 2;
  }
  const metadata: Record<string, string> = {};
  if (flags.namespace !== undefined) metadata['NAMESPACE'] = flags.namespace;
  if (flags.serviceAccount !== undefined) metadata['SERVICE_ACCOUNT'] = flags.serviceAccount;
  const certDir = flags.certDir === undefined ? undefined : resolve(flags.certDir);
  if (certDir !== undefined) metadata[CERTIFICATE_PROVIDER_METADATA_KEY] = 'default';
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
      ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    },
    ...(certDir === undefined
      ? {}
      : {
          certificate_providers: {
            default: {
              plugin_name: 'file_watcher',
              config: {
                certificate_file: join(certDir, 'cert-chain.pem'),
                private_key_file: join(certDir, 'key.pem'),
                ca_certificate_file: join(certDir, 'root-cert.pem'),
                refresh_interval: '10s',
              },
            },
          },
        }),
  };
  // Round-trip through the validator: the CLI never writes a file the clients would reject.
  const text =
    JSON.stringify(formatBootstrap(parseBootstrap(raw, 'weft bootstrap flags')), null, 2) + '\n';
  if (flags.out === undefined) io.stdout.write(text);
  else await writeFile(flags.out, text);
  return 0;
}
