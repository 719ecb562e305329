import type { ComponentStatus, DeploymentState, StatusError } from '@margo-gitops/spec';

/** Severity order used to aggregate component states (Margo rule, `removed` placed last). */
const SEVERITY: DeploymentState[] = ['failed', 'removing', 'installing', 'pending', 'installed', 'removed'];

/**
 * Overall deployment state from its components: the most severe component state wins
 * (failed > removing > installing > pending > installed > removed). No components -> pending.
 * @example aggregateComponentStates(['installed', 'installing']) // 'installing'
 */
export function aggregateComponentStates(states: DeploymentState[]): DeploymentState {
  if (states.length === 0) return 'pending';
  let best = SEVERITY.length - 1;
  for (const s of states) best = Math.min(best, SEVERITY.indexOf(s));
  return SEVERITY[best]!;
}

export interface DeploymentReport {
  deploymentId: string;
  name: string;
  deviceId: string;
  components: ComponentStatus[];
  /** Overall error when not attributable to one component (invalid document, cycle...). */
  error?: StatusError;
  /** Forces the overall state (e.g. `failed` for a document that could not be read). */
  state?: DeploymentState;
  /** Desired-state commit this report refers to. */
  commit?: string;
}

export const STATUS_API_VERSION = 'deployment.margo.org/v1alpha1';

/**
 * Builds the DeploymentStatus JSON written to `status:deployments/<deploymentId>.json`. No time
 * stamps, so that an unchanged state produces identical bytes (and no commit).
 */
export function buildDeploymentStatus(r: DeploymentReport): Record<string, unknown> {
  const state = r.state ?? aggregateComponentStates(r.components.map((c) => c.state));
  const failedComponent = r.components.find((c) => c.state === 'failed' && c.error);
  const error =
    r.error ?? (failedComponent?.error ? { ...failedComponent.error, source: r.name } : undefined);
  return {
    apiVersion: STATUS_API_VERSION,
    kind: 'DeploymentStatus',
    deploymentId: r.deploymentId,
    deviceId: r.deviceId,
    status: {
      state,
      ...(error
        ? { error: { code: error.code, message: error.message, source: error.source ?? r.name } }
        : {}),
    },
    components: r.components.map((c) => ({
      name: c.name,
      state: c.state,
      ...(c.error
        ? { error: { code: c.error.code, message: c.error.message, source: c.error.source ?? c.name } }
        : {}),
      ...(c.progress ? { progress: c.progress } : {}),
    })),
    'x-margo-gitops-extensions': { deploymentName: r.name, ...(r.commit ? { commit: r.commit } : {}) },
  };
}

/** Stable serialisation for status files (sorted keys are not needed: builders emit a fixed order). */
export function statusFileContent(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}
