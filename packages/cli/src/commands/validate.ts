// `weft validate DIR`: prints every problem in a config directory as file:line: resource: field: message.
import { loadConfigDir, formatLocatedIssue } from '@weft/control-plane';
import type { CliIo, ExitCode } from '../cli-io.js';

export const VALIDATE_HELP = `Usage: weft validate DIR

Checks every *.yaml / *.yml file in DIR (Istio VirtualService, DestinationRule, ServiceEntry,
WorkloadEntry, and weft.dev MeshConfig) exactly as the control plane would load it.
Prints every problem as  file:line: Kind/namespace/name: field: message  and exits 1,
or prints a summary and exits 0.
`;

/** Runs `weft validate`. */
export async function runValidate(dir: string, io: CliIo): Promise<ExitCode> {
  const result = await loadConfigDir(dir);
  if (!result.ok) {
    for (const issue of result.issues) io.stderr.write(`${formatLocatedIssue(issue)}\n`);
    io.stderr.write(`${result.issues.length} problem(s) in ${dir}\n`);
    return 1;
  }
  io.stdout.write(`${dir}: ${result.files.length} file(s) valid\n`);
  return 0;
}
