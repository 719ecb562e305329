import type { StatusError } from '@margo-gitops/spec';
import { readDesired, type DesiredDeployment, type RejectedDeployment } from '../desired/read-desired.js';
import { appliedFingerprint, type AppliedDeployment } from '../state/state-store.js';
import { fingerprintOf, type FingerprintExtra } from './fingerprint.js';
import { planActions, type Plan } from './plan-actions.js';

/** A deployment of the desired state that cannot be applied; reported, its last good state kept. */
export interface PlanFailure {
  /** Unknown for a rejected file whose id cannot be read and matches nothing applied: logged only. */
  id?: string;
  name: string;
  error: StatusError;
  /** The rejected file, for the log. */
  file?: string;
  /** Components to report (pending) when the deployment is not tracked yet. */
  components?: string[];
}

export interface DesiredPlan {
  /** Valid deployments with a runtime here, by id (what the actions apply). */
  deployments: Map<string, DesiredDeployment>;
  plan: Plan;
  /** In the order they are to be reported: rejected files, unsupported profiles, dependency cycles. */
  failures: PlanFailure[];
  rejected: RejectedDeployment[];
}

/**
 * From a verified desired state's files and what is applied, the actions to take. Deployments that
 * cannot be applied (invalid document, no runtime for the profile) keep their last good state:
 * they are neither desired nor removable. Pure.
 */
export function planDesired(
  files: Map<string, Buffer>,
  applied: AppliedDeployment[],
  hasRuntime: (profileType: string) => boolean,
  extra: FingerprintExtra = {},
): DesiredPlan {
  const { desired, rejected } = readDesired(files);
  const failures: PlanFailure[] = [];
  const frozen = new Set<string>();
  for (const r of rejected) {
    const a = applied.find((x) => (r.id && x.id === r.id) || x.name === r.name);
    const id = r.id ?? a?.id;
    if (a) frozen.add(a.id);
    failures.push({
      ...(id ? { id } : {}),
      name: r.name,
      file: r.file,
      error: { code: r.code, message: r.message },
    });
  }
  const valid: DesiredDeployment[] = [];
  for (const d of desired) {
    if (!hasRuntime(d.model.profile.type)) {
      const a = applied.find((x) => x.id === d.model.id);
      if (a) frozen.add(a.id);
      failures.push({
        id: d.model.id,
        name: d.model.name,
        components: d.model.profile.components.map((c) => c.name),
        error: {
          code: 'AGENT_PROFILE_UNSUPPORTED',
          message: `this device has no runtime for profile type ${d.model.profile.rawType}`,
        },
      });
      continue;
    }
    valid.push(d);
  }
  const deployments = new Map(valid.map((d) => [d.model.id, d]));
  const plan = planActions(
    valid.map((d) => fingerprintOf(d.model, extra)),
    applied.filter((a) => !frozen.has(a.id)).map(appliedFingerprint),
  );
  for (const p of plan.problems) {
    if (p.code === 'AGENT_DEPENDENCY_CYCLE') {
      failures.push({
        id: p.deploymentId,
        name: p.name,
        components: deployments.get(p.deploymentId)!.model.profile.components.map((c) => c.name),
        error: { code: p.code, message: p.message },
      });
    }
  }
  return { deployments, plan, failures, rejected };
}
