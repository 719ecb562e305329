import type { CommandDeps } from '../context.js';
import { forcedWarning } from '../fleet-checks.js';
import { formatOutput, type OutputFormat } from '../output.js';
import { rollbackDeployment, type RollbackResult } from '../rollback-core.js';

export type { RollbackResult } from '../rollback-core.js';

export interface RollbackOptions {
  name: string;
  /** A fleet-repository revision (commit, tag, `HEAD~2`) to restore the deployment from. */
  to?: string;
  /** Write it even when the orchestrator will refuse what is restored. */
  force?: boolean;
  output: OutputFormat;
}

/**
 * `margo rollback NAME [--to REVISION]`: ONE commit to the fleet repository (rollbackDeployment,
 * shared with the console). Git keeps both the change and its undo.
 */
export async function run(opts: RollbackOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  const { problems, ...out } = await rollbackDeployment(conn, {
    name: opts.name,
    ...(opts.to ? { to: opts.to } : {}),
    ...(opts.force ? { force: true } : {}),
  });
  if (problems.length) deps.io.err(forcedWarning(`the rollback of deployment ${opts.name}`, problems));
  deps.io.out(
    formatOutput(out as RollbackResult, opts.output, (r) =>
      r.commit
        ? `deployment ${r.name} rolled back ${opts.to ? `to ${opts.to} (${r.from.slice(0, 12)})` : `(reverted ${r.from.slice(0, 12)})`}${r.present ? '' : ', now removed'} (commit ${r.commit.slice(0, 12)})\n`
        : `deployment ${r.name} already matches ${r.from.slice(0, 12)}; nothing to commit\n`,
    ),
  );
  return 0;
}
