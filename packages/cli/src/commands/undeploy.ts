import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../context.js';
import { deploymentPath } from '../fleet-docs.js';
import { readFleetTree } from '../fleet-check-io.js';
import { dependentProblems, forcedWarning, refusal, type FleetProblem } from '../fleet-checks.js';
import { commitChange } from '../git-remote.js';
import { formatOutput, type OutputFormat } from '../output.js';

export interface UndeployOptions {
  name: string;
  /** Remove it even when other deployments depend on it. */
  force?: boolean;
  output: OutputFormat;
}

/** `margo undeploy NAME`: removes deployments/<name>.yaml in one commit; devices then remove the workload. */
export async function run(opts: UndeployOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  const file = deploymentPath(opts.name);
  let problems: FleetProblem[] = [];
  const res = await commitChange(conn, 'fleet', `undeploy ${opts.name}`, async (co) => {
    const path = join(co.dir, file);
    if (
      !(await stat(path).then(
        () => true,
        () => false,
      ))
    ) {
      throw new MargoError(
        'CLI_DEPLOYMENT_NOT_FOUND',
        `no deployment "${opts.name}" in the fleet repository`,
        { data: { name: opts.name } },
      );
    }
    await rm(path);
    problems = dependentProblems(await readFleetTree(co.dir), opts.name);
    if (problems.length && !opts.force) throw refusal(`removing deployment ${opts.name}`, problems)!;
  });
  if (problems.length) deps.io.err(forcedWarning(`the removal of deployment ${opts.name}`, problems));
  deps.io.out(
    formatOutput(
      { name: opts.name, removed: true, commit: res.commit ?? null },
      opts.output,
      (r) =>
        `deployment ${r.name} removed (commit ${String(r.commit).slice(0, 12)}); undo with: margo rollback ${r.name}\n`,
    ),
  );
  return 0;
}
