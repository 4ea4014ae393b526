// @weft/cli: the `weft` command. A thin front over the control plane, sidecar and admin clients.
export { runCli, WEFT_HELP } from './run-cli.js';
export type { CliIo, ExitCode } from './cli-io.js';
