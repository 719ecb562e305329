import { buildDeploymentStatus as specBuild, emitDeploymentStatusObject } from '@margo-gitops/spec';
import type { ComponentStatus, DeploymentState, StatusError } from '@margo-gitops/spec';

export interface DeploymentReport {
  deploymentId: string;
  name: string;
  deviceId: string;
  components: ComponentStatus[];
  /** Overall error when not attributable to one component (invalid document, cycle...). */
  error?: StatusError;
  /** Forces the overall state (e.g. `failed` for a document that could not be read). */
  state?: DeploymentState;
  /** Desired-state commit of the last change to this deployment (applied, failed or refused); unchanged deployments keep theirs. */
  commit?: string;
}

/**
 * Builds the DeploymentStatus object written to `status:deployments/<deploymentId>.json` (spec's
 * builder: overall state = most severe component state; errors carry `source`). Adds
 * `x-margo-gitops-extensions` {deploymentName, commit}. No time stamps, so that an unchanged state
 * gives identical bytes (and no commit).
 */
export function buildDeploymentStatus(r: DeploymentReport): Record<string, unknown> {
  const components = r.components.map((c) => ({
    ...c,
    ...(c.error ? { error: { ...c.error, source: c.error.source ?? c.name } } : {}),
  }));
  const built = specBuild({
    deploymentId: r.deploymentId,
    deviceId: r.deviceId,
    deploymentName: r.name,
    components,
    ...(r.error ? { error: { ...r.error, source: r.error.source ?? r.name } } : {}),
  });
  if (r.state) built.state = r.state;
  const doc = emitDeploymentStatusObject(built);
  doc['x-margo-gitops-extensions'] = { deploymentName: r.name, ...(r.commit ? { commit: r.commit } : {}) };
  return doc;
}

/** Status file bytes: two-space JSON with a final newline. */
export function statusFileContent(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}
