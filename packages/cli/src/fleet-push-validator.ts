import type { PushFinding, PushValidator } from '@margo-gitops/git';
import { checkRolloutFile, rolloutNameOf } from '@margo-gitops/orchestrator';

/**
 * The fleet repository's push validator: every added or changed `rollouts/<name>.json` must be a
 * rollout state the orchestrator can read (ROLLOUT_STATE_INVALID, JSON syntax errors at their line
 * and column) for the deployment it is named after (ORCH_FLEET_NAME_MISMATCH). A refused push
 * stores nothing; deleting a state file is allowed. Other fleet documents are checked when the
 * orchestrator reads them.
 */
export const validateFleetPush: PushValidator = async (ctx) => {
  const findings: PushFinding[] = [];
  for (const c of ctx.changes) {
    if (c.status === 'deleted' || rolloutNameOf(c.path) === undefined) continue;
    findings.push(...checkRolloutFile(c.path, (await ctx.readBlob(c.oid)).toString('utf8')));
  }
  return findings;
};
