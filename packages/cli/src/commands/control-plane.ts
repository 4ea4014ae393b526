// `weft control-plane`: runs the control plane (ADS + admin HTTP) until SIGINT/SIGTERM.
import { startControlPlane, type CertificateFilesTarget } from '@weft/control-plane';
import { ConfigError, createJsonLogger, type LogLevel } from '@weft/xds-client';
import type { CliIo, ExitCode } from '../cli-io.js';
import { defaultCaDir } from './cert.js';

export const CONTROL_PLANE_HELP = `Usage: weft control-plane --config DIR [--xds-port 15010] [--xds-tls-port 15012]
                          [--admin-port 15014]
                          [--lease-ttl-ms 10000] [--host 127.0.0.1] [--log-level info]
                          [--ca-dir ~/.weft/ca | --no-ca] [--cert-files NS/SA=DIR]…

Serves the Istio-style YAML in DIR as xDS (ADS, State-of-the-World and Delta) to Weft SDKs,
Weft sidecars and gRPC proxyless clients. DIR is watched: a valid edit is pushed to every
client (debounced), an invalid one is rejected and the last good config keeps serving.

  --config DIR        directory of YAML files (env WEFT_CONFIG_DIR)
  --etcd URLS         distributed config store (not in this release: use --config)
  --xds-port N        ADS gRPC port; 0 picks a free one (env WEFT_XDS_PORT, default 15010)
  --xds-tls-port N    mTLS xDS port (with the mesh CA): ADS, registry and CA over TLS with the
                      control plane's own certificate; ADS needs a workload certificate, the CA
                      renews by certificate without a token; 0 picks a free one, off: none
                      (env WEFT_XDS_TLS_PORT, default 15012, or 0 when --xds-port is 0)
  --admin-port N      admin HTTP port: /healthz /ready /config /clients /registry /metrics
                      (env WEFT_ADMIN_PORT, default 15014)
  --lease-ttl-ms N    workload-registry lease: a registered workload silent this long leaves EDS
                      (env WEFT_LEASE_TTL_MS, default 10000, at least 300)
  --host ADDR         address to bind (default 127.0.0.1)
  --log-level LEVEL   debug | info | warn | error (default info)
  --ca-dir DIR        mesh CA directory: a root is generated there on first start, or an existing
                      root / intermediate is loaded; serves weft.ca.v1.CertificateService on the
                      xDS port and /ca on the admin port (env WEFT_CA_DIR, default ~/.weft/ca)
  --no-ca             run without the mesh CA
  --cert-files NS/SA=DIR
                      keep key.pem, cert-chain.pem and root-cert.pem for that identity in DIR,
                      renewed at half-life (for gRPC's file-watcher certificate provider);
                      repeatable
`;

/** Parsed flags of `weft control-plane`. */
export interface ControlPlaneFlags {
  readonly config?: string | undefined;
  readonly etcd?: string | undefined;
  readonly xdsPort?: string | undefined;
  readonly xdsTlsPort?: string | undefined;
  readonly adminPort?: string | undefined;
  readonly leaseTtlMs?: string | undefined;
  readonly host?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly caDir?: string | undefined;
  readonly noCa?: boolean;
  /** `NS/SA=DIR` entries of --cert-files. */
  readonly certFiles?: readonly string[];
}

/** Parses one `--cert-files NS/SA=DIR`. */
function parseCertFiles(value: string): CertificateFilesTarget {
  const match = /^([^/=]+)\/([^/=]+)=(.+)$/.exec(value);
  if (match === null)
    throw new Error(`--cert-files: expected NS/SA=DIR, got ${JSON.stringify(value)}`);
  return { namespace: match[1] ?? '', serviceAccount: match[2] ?? '', dir: match[3] ?? '' };
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function parsePort(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name}: expected a port number 0-65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

/** Runs `weft control-plane` until the stop signal. */
export async function runControlPlane(flags: ControlPlaneFlags, io: CliIo): Promise<ExitCode> {
  if (flags.etcd !== undefined) {
    io.stderr.write(
      'weft control-plane: --etcd is not available in this release; use --config DIR\n',
    );
    return 2;
  }
  if (flags.noCa === true && flags.caDir !== undefined) {
    io.stderr.write('weft control-plane: --ca-dir and --no-ca exclude each other\n');
    return 2;
  }
  const configDir = flags.config ?? io.env['WEFT_CONFIG_DIR'];
  if (configDir === undefined) {
    io.stderr.write('weft control-plane: --config DIR is required\n\n' + CONTROL_PLANE_HELP);
    return 2;
  }
  const level = (flags.logLevel ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    io.stderr.write(`weft control-plane: --log-level: expected one of ${LOG_LEVELS.join(', ')}\n`);
    return 2;
  }
  let xdsPort: number;
  let xdsTlsPort: number | false | undefined;
  let adminPort: number;
  let leaseTtlMs: number | undefined;
  let certificateFiles: CertificateFilesTarget[];
  try {
    certificateFiles = (flags.certFiles ?? []).map(parseCertFiles);
    if (certificateFiles.length > 0 && flags.noCa === true)
      throw new Error('--cert-files needs the mesh CA (drop --no-ca)');
    xdsPort = parsePort('--xds-port', flags.xdsPort ?? io.env['WEFT_XDS_PORT'], 15010);
    const tls = flags.xdsTlsPort ?? io.env['WEFT_XDS_TLS_PORT'];
    if (tls === 'off' || flags.noCa === true) {
      if (flags.xdsTlsPort !== undefined && flags.xdsTlsPort !== 'off')
        throw new Error('--xds-tls-port needs the mesh CA (drop --no-ca)');
      xdsTlsPort = false;
    } else xdsTlsPort = tls === undefined ? undefined : parsePort('--xds-tls-port', tls, 15012);
    adminPort = parsePort('--admin-port', flags.adminPort ?? io.env['WEFT_ADMIN_PORT'], 15014);
    const ttl = flags.leaseTtlMs ?? io.env['WEFT_LEASE_TTL_MS'];
    if (ttl !== undefined) {
      leaseTtlMs = Number(ttl);
      if (!Number.isInteger(leaseTtlMs) || leaseTtlMs < 300)
        throw new Error(`--lease-ttl-ms: expected an integer ≥ 300, got ${JSON.stringify(ttl)}`);
    }
  } catch (err) {
    io.stderr.write(`weft control-plane: ${(err as Error).message}\n`);
    return 2;
  }
  const logger = createJsonLogger({ component: 'control-plane', level, stream: io.stderr });
  let controlPlane;
  try {
    controlPlane = await startControlPlane({
      configDir,
      xdsPort,
      ...(xdsTlsPort === undefined ? {} : { xdsTlsPort }),
      adminPort,
      ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
      host: flags.host ?? '127.0.0.1',
      logger,
      ...(flags.noCa === true ? {} : { caDir: defaultCaDir(io, flags.caDir) }),
      certificateFiles,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      const what = err.message.startsWith('CA directory') ? 'the mesh CA directory' : configDir;
      io.stderr.write(`weft control-plane: ${what} is not valid:\n`);
      for (const issue of err.issues) io.stderr.write(`  ${issue.path}: ${issue.message}\n`);
      return 1;
    }
    io.stderr.write(`weft control-plane: ${(err as Error).message}\n`);
    return 1;
  }
  // One machine-readable line so scripts and tests can find the ports (both may be ephemeral).
  io.stdout.write(
    JSON.stringify({
      event: 'listening',
      xdsPort: controlPlane.xdsPort,
      xdsTlsPort: controlPlane.xdsTlsPort,
      adminPort: controlPlane.adminPort,
    }) + '\n',
  );
  const signal = await io.stopSignal;
  logger.info('stopping', { signal });
  await controlPlane.close();
  return 0;
}
