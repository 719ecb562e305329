import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../context.js';
import { deploymentPath } from '../fleet-docs.js';
import { readFleetTree, readServerCatalog, type ServerCatalog } from '../fleet-check-io.js';
import {
  checkDeployment,
  dependentProblems,
  forcedWarning,
  refusal,
  type FleetProblem,
} from '../fleet-checks.js';
import { commitChange, type Checkout } from '../git-remote.js';
import { formatOutput, type OutputFormat } from '../output.js';

export interface RollbackOptions {
  name: string;
  /** A fleet-repository revision (commit, tag, `HEAD~2`) to restore the deployment from. */
  to?: string;
  /** Write it even when the orchestrator will refuse what is restored. */
  force?: boolean;
  output: OutputFormat;
}

export interface RollbackResult {
  name: string;
  /** The commit whose change was undone (without --to) or the revision restored (with --to). */
  from: string;
  commit: string | null;
  /** Whether the deployment exists after the rollback. */
  present: boolean;
}

async function fileAt(co: Checkout, rev: string, path: string): Promise<string | undefined> {
  try {
    return (await co.git(['show', `${rev}:${path}`])).stdout;
  } catch (e) {
    if (isMargoError(e)) return undefined;
    throw e;
  }
}

/**
 * `margo rollback NAME [--to REVISION]`: ONE commit to the fleet repository. Without --to it reverts
 * the last commit that touched deployments/<name>.yaml (only that file); with --to it restores the
 * file as it was at REVISION. Git keeps both the change and its undo.
 */
export async function run(opts: RollbackOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  const file = deploymentPath(opts.name);
  let from = '';
  let present = false;
  /** The change the first attempt set out to undo. */
  let undoing: string | undefined;
  let problems: FleetProblem[] = [];
  let server: ServerCatalog | undefined;
  const message = () =>
    opts.to
      ? `rollback ${opts.name} to ${opts.to}\n\nRestores ${file} as of ${from}.`
      : `rollback ${opts.name}\n\nThis reverts ${file} in commit ${from}.`;
  const res = await commitChange(conn, 'fleet', message, async (co) => {
    let content: string | undefined;
    if (opts.to) {
      const rev = await co
        .git(['rev-parse', '--verify', '--quiet', `${opts.to}^{commit}`])
        .catch(() => undefined);
      if (!rev)
        throw new MargoError(
          'CLI_REVISION_NOT_FOUND',
          `revision "${opts.to}" (from --to) is not in the fleet repository`,
          { data: { revision: opts.to } },
        );
      from = rev.stdout.trim();
      content = await fileAt(co, from, file);
      if (content === undefined) {
        throw new MargoError(
          'CLI_REVISION_NOT_FOUND',
          `deployment "${opts.name}" does not exist at revision ${opts.to}`,
          { data: { revision: opts.to, name: opts.name } },
        );
      }
    } else {
      const last = (await co.git(['log', '-n', '1', '--format=%H', 'HEAD', '--', file])).stdout.trim();
      if (!last)
        throw new MargoError(
          'CLI_DEPLOYMENT_NOT_FOUND',
          `no deployment "${opts.name}" in the fleet history`,
          { data: { name: opts.name } },
        );
      // A retry after a lost race must not undo someone else's newer change to this deployment.
      if (undoing !== undefined && undoing !== last)
        throw new MargoError(
          'CLI_PUSH_CONFLICT',
          `deployment "${opts.name}" was changed by someone else while rolling back (commit ${last.slice(0, 12)}); nothing was written`,
          {
            hint: 'Look at the deployment again (`margo status NAME`) and run the rollback again if you still want it.',
          },
        );
      undoing = last;
      from = last;
      const parent = await co.git(['rev-parse', '--verify', '--quiet', `${last}^`]).catch(() => undefined);
      if (!parent)
        throw new MargoError(
          'CLI_NOTHING_TO_ROLLBACK',
          `deployment "${opts.name}" has no earlier change to roll back to`,
          { data: { name: opts.name } },
        );
      content = await fileAt(co, parent.stdout.trim(), file);
    }
    const path = join(co.dir, file);
    if (content === undefined) await rm(path, { force: true });
    else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
    present = content !== undefined;
    // What is restored is checked like a deploy (the catalog or the fleet may have moved since).
    const fleet = await readFleetTree(co.dir);
    if (present) server ??= await readServerCatalog(conn);
    problems = present
      ? checkDeployment({ name: opts.name, fleet, ...server! })
      : dependentProblems(fleet, opts.name);
    if (problems.length && !opts.force) throw refusal(`rolling back deployment ${opts.name}`, problems)!;
  });
  if (problems.length) deps.io.err(forcedWarning(`the rollback of deployment ${opts.name}`, problems));
  const out: RollbackResult = { name: opts.name, from, commit: res.commit ?? null, present };
  deps.io.out(
    formatOutput(out, opts.output, (r) =>
      r.commit
        ? `deployment ${r.name} rolled back ${opts.to ? `to ${opts.to} (${r.from.slice(0, 12)})` : `(reverted ${r.from.slice(0, 12)})`}${r.present ? '' : ', now removed'} (commit ${r.commit.slice(0, 12)})\n`
        : `deployment ${r.name} already matches ${r.from.slice(0, 12)}; nothing to commit\n`,
    ),
  );
  return 0;
}
