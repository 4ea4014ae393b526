// The `weft` command's front: parses arguments (node:util parseArgs) and hands off to a command.
import { parseArgs } from 'node:util';
import type { CliIo, ExitCode } from './cli-io.js';
import { CONTROL_PLANE_HELP, runControlPlane } from './commands/control-plane.js';
import { VALIDATE_HELP, runValidate } from './commands/validate.js';
import { STATUS_HELP, runStatus } from './commands/status.js';
import { BOOTSTRAP_HELP, runBootstrap } from './commands/bootstrap.js';
import { CONFIG_DUMP_HELP, runConfigDump } from './commands/config-dump.js';
import { runCert } from './commands/cert.js';

export const WEFT_HELP = `Usage: weft COMMAND [options]

Commands:
  control-plane   serve Istio YAML from a directory as xDS (ADS) with an admin API
  validate DIR    check a config directory; prints file:line: resource: field: message
  status          connected clients, their ACKed versions and NACKs (like istioctl proxy-status)
  config-dump ID  what one client holds: listeners, routes, clusters, endpoints (like istioctl proxy-config all)
  bootstrap       write a gRPC/Weft xDS bootstrap file for a workload
  cert            mesh CA: join tokens, workload certificates, inspect a chain, rotate the root

Later releases: sidecar (see the project's issues).
Run 'weft COMMAND --help' for a command's options.
`;

const LATER = new Map<string, string>([
  ['sidecar', 'weft sidecar arrives with the sidecar-lite package (issue "SDK data plane")'],
]);

function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(WEFT_HELP);
    return command === undefined ? 2 : 0;
  }
  try {
    switch (command) {
      case 'control-plane': {
        if (wantsHelp(rest)) return printHelp(io, CONTROL_PLANE_HELP);
        const { values } = parseArgs({
          args: [...rest],
          options: {
            config: { type: 'string' },
            etcd: { type: 'string' },
            'xds-port': { type: 'string' },
            'xds-tls-port': { type: 'string' },
            'admin-port': { type: 'string' },
            'lease-ttl-ms': { type: 'string' },
            host: { type: 'string' },
            'log-level': { type: 'string' },
            'ca-dir': { type: 'string' },
            'no-ca': { type: 'boolean' },
            'cert-files': { type: 'string', multiple: true },
          },
          strict: true,
          allowPositionals: false,
        });
        return await runControlPlane(
          {
            config: values.config,
            etcd: values.etcd,
            xdsPort: values['xds-port'],
            xdsTlsPort: values['xds-tls-port'],
            adminPort: values['admin-port'],
            leaseTtlMs: values['lease-ttl-ms'],
            host: values.host,
            logLevel: values['log-level'],
            caDir: values['ca-dir'],
            noCa: values['no-ca'] ?? false,
            certFiles: values['cert-files'] ?? [],
          },
          io,
        );
      }
      case 'validate': {
        if (wantsHelp(rest)) return printHelp(io, VALIDATE_HELP);
        const { positionals } = parseArgs({
          args: [...rest],
          options: {},
          strict: true,
          allowPositionals: true,
        });
        const dir = positionals[0];
        if (dir === undefined || positionals.length > 1) {
          io.stderr.write('weft validate: expected exactly one DIR\n\n' + VALIDATE_HELP);
          return 2;
        }
        return await runValidate(dir, io);
      }
      case 'status': {
        if (wantsHelp(rest)) return printHelp(io, STATUS_HELP);
        const { values } = parseArgs({
          args: [...rest],
          options: { admin: { type: 'string' }, output: { type: 'string', short: 'o' } },
          strict: true,
        });
        return await runStatus({ admin: values.admin, output: values.output }, io);
      }
      case 'config-dump': {
        if (wantsHelp(rest)) return printHelp(io, CONFIG_DUMP_HELP);
        const { values, positionals } = parseArgs({
          args: [...rest],
          options: { admin: { type: 'string' }, output: { type: 'string', short: 'o' } },
          strict: true,
          allowPositionals: true,
        });
        const nodeId = positionals[0];
        if (nodeId === undefined || nodeId === '' || positionals.length > 1) {
          io.stderr.write('weft config-dump: expected exactly one NODE_ID\n\n' + CONFIG_DUMP_HELP);
          return 2;
        }
        return await runConfigDump({ nodeId, admin: values.admin, output: values.output }, io);
      }
      case 'bootstrap': {
        if (wantsHelp(rest)) return printHelp(io, BOOTSTRAP_HELP);
        const { values } = parseArgs({
          args: [...rest],
          options: {
            'xds-server': { type: 'string', multiple: true },
            'node-id': { type: 'string' },
            region: { type: 'string' },
            zone: { type: 'string' },
            'sub-zone': { type: 'string' },
            delta: { type: 'boolean' },
            out: { type: 'string' },
            namespace: { type: 'string' },
            'service-account': { type: 'string' },
            'cert-dir': { type: 'string' },
          },
          strict: true,
        });
        return await runBootstrap(
          {
            xdsServers: values['xds-server'] ?? [],
            nodeId: values['node-id'],
            region: values.region,
            zone: values.zone,
            subZone: values['sub-zone'],
            delta: values.delta ?? false,
            out: values.out,
            namespace: values.namespace,
            serviceAccount: values['service-account'],
            certDir: values['cert-dir'],
          },
          io,
        );
      }
      case 'cert':
        return await runCert(rest, io);
      default: {
        const later = LATER.get(command);
        if (later !== undefined) {
          io.stderr.write(`weft ${command}: not in this release. ${later}\n`);
          return 2;
        }
        io.stderr.write(`weft: unknown command ${JSON.stringify(command)}\n\n${WEFT_HELP}`);
        return 2;
      }
    }
  } catch (err) {
    // parseArgs reports unknown or malformed flags by throwing a TypeError with a clear message.
    if (
      err instanceof TypeError &&
      'code' in err &&
      String(err.code).startsWith('ERR_PARSE_ARGS')
    ) {
      io.stderr.write(`weft ${command}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

function printHelp(io: CliIo, text: string): ExitCode {
  io.stdout.write(text);
  return 0;
}
