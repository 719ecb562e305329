import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import type { Connection } from './client-config.js';
import { deploymentPath } from './fleet-docs.js';
import { readFleetTree, readServerCatalog, type ServerCatalog } from './fleet-check-io.js';
import { checkDeployment, dependentProblems, refusal, type FleetProblem } from './fleet-checks.js';
import { commitChange, type Checkout, type CommitAuthor } from './git-remote.js';

export interface RollbackRequest {
  name: string;
  /** A fleet-repository revision (commit, tag, `HEAD~2`) to restore the deployment from. */
  to?: string;
  /** Write it even when the orchestrator will refuse what is restored. */
  force?: boolean;
  /** Author and committer of the commit (default: the local user, `<user> (margo cli)`). */
  author?: CommitAuthor;
  /** Lines appended to the commit message as trailers (`Key: value`). */
  trailers?: string[];
  onStep?: (step: string) => void;
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
 * What `margo rollback NAME [--to REVISION]` and the console's rollback both do: ONE commit to the
 * fleet repository, pushed through the server's Git endpoint with the caller's token (so the
 * server's push validation sees it like any other push). Without `to` it reverts the last commit
 * that touched deployments/<name>.yaml (only that file); with `to` it restores the file as it was
 * at that revision. What is restored is checked like a deploy (refused unless `force`); a lost race
 * is re-applied on the new head, but never undoes someone else's newer change to the deployment.
 * Returns the problems written anyway with `force`.
 */
export async function rollbackDeployment(
  conn: Connection,
  req: RollbackRequest,
): Promise<RollbackResult & { problems: FleetProblem[] }> {
  const file = deploymentPath(req.name);
  let from = '';
  let present = false;
  /** The change the first attempt set out to undo. */
  let undoing: string | undefined;
  let problems: FleetProblem[] = [];
  let server: ServerCatalog | undefined;
  const trailers = req.trailers?.length ? `\n\n${req.trailers.join('\n')}` : '';
  const message = () =>
    (req.to
      ? `rollback ${req.name} to ${req.to}\n\nRestores ${file} as of ${from}.`
      : `rollback ${req.name}\n\nThis reverts ${file} in commit ${from}.`) + trailers;
  const res = await commitChange(
    conn,
    'fleet',
    message,
    async (co) => {
      let content: string | undefined;
      if (req.to) {
        const rev = await co
          .git(['rev-parse', '--verify', '--quiet', `${req.to}^{commit}`])
          .catch(() => undefined);
        if (!rev)
          throw new MargoError(
            'CLI_REVISION_NOT_FOUND',
            `revision "${req.to}" (from --to) is not in the fleet repository`,
            { data: { revision: req.to } },
          );
        from = rev.stdout.trim();
        content = await fileAt(co, from, file);
        if (content === undefined) {
          throw new MargoError(
            'CLI_REVISION_NOT_FOUND',
            `deployment "${req.name}" does not exist at revision ${req.to}`,
            { data: { revision: req.to, name: req.name } },
          );
        }
      } else {
        const last = (await co.git(['log', '-n', '1', '--format=%H', 'HEAD', '--', file])).stdout.trim();
        if (!last)
          throw new MargoError(
            'CLI_DEPLOYMENT_NOT_FOUND',
            `no deployment "${req.name}" in the fleet history`,
            { data: { name: req.name } },
          );
        // A retry after a lost race must not undo someone else's newer change to this deployment.
        if (undoing !== undefined && undoing !== last)
          throw new MargoError(
            'CLI_PUSH_CONFLICT',
            `deployment "${req.name}" was changed by someone else while rolling back (commit ${last.slice(0, 12)}); nothing was written`,
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
            `deployment "${req.name}" has no earlier change to roll back to`,
            { data: { name: req.name } },
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
        ? checkDeployment({ name: req.name, fleet, ...server! })
        : dependentProblems(fleet, req.name);
      if (problems.length && !req.force) throw refusal(`rolling back deployment ${req.name}`, problems)!;
    },
    { ...(req.author ? { author: req.author } : {}), ...(req.onStep ? { onStep: req.onStep } : {}) },
  );
  return { name: req.name, from, commit: res.commit ?? null, present, problems };
}
