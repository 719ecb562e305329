import { Option, type Command } from 'commander';
import type { ConnectionFlags } from './client-config.js';
import type { CommandDeps } from './context.js';
import { parseOutputFormat, OUTPUT_FORMATS } from './output.js';
import type { Runners } from './program.js';

/** What a group of commands needs from buildProgram: the runners and how to call them. */
export interface CommandCtx {
  runners: Runners;
  deps: (flags: ConnectionFlags) => CommandDeps;
  /** Receives the exit code. */
  done: (code: number) => void;
  /** The connection flags of a command's parsed options. */
  conn: (o: ConnectionFlags) => ConnectionFlags;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];

export function outputOption(): Option {
  return new Option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`)
    .default('table')
    .argParser((v) => parseOutputFormat(v));
}

export function withConnection(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'margo server URL (env MARGO_SERVER; default: the current context)')
    .option(
      '--token <token>',
      'API token (env MARGO_TOKEN or MARGO_TOKEN_FILE; default: the current context)',
    )
    .option('--context <name>', 'client context from ~/.config/margo/config.json (env MARGO_CONTEXT)');
}
