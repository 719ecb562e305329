import {
  buildDeploymentStatus as specBuild,
  emitDeploymentStatusObject,
  stringifyJsonExact,
} from '@margo-gitops/spec';
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
  /**
   * The version (exact decimal string, e.g. the verified signed manifest's `version`) of the
   * desired state the device applied when it wrote this status: rc.3's `adoptedManifestVersion`.
   * Left out of the document when not given (there is no honest default: versions start at 1).
   */
  adoptedManifestVersion?: string;
}

/**
 * Builds the DeploymentStatus object written to `status:deployments/<deploymentId>.json` in the
 * current shape (rc.2/rc.3 `DeploymentStatusManifest`: no apiVersion/kind; deploymentId,
 * deviceId, adoptedManifestVersion, status, components; spec's builder: overall state = most
 * severe component state; errors carry `source`). Adds `x-margo-gitops-extensions`
 * {deploymentName, commit}. No time stamps, so that an unchanged state gives identical bytes (and
 * no commit). Write it with `statusFileContent` (adoptedManifestVersion is a BigInt).
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
    ...(r.adoptedManifestVersion !== undefined ? { adoptedManifestVersion: r.adoptedManifestVersion } : {}),
    flavour: 'n',
    components,
    ...(r.error ? { error: { ...r.error, source: r.error.source ?? r.name } } : {}),
  });
  if (r.state) built.state = r.state;
  const doc = emitDeploymentStatusObject(built, 'n');
  doc['x-margo-gitops-extensions'] = { deploymentName: r.name, ...(r.commit ? { commit: r.commit } : {}) };
  return doc;
}

/** Status file bytes: two-space JSON with a final newline (BigInt values as exact JSON numbers). */
export function statusFileContent(doc: unknown): string {
  return stringifyJsonExact(doc, 2) + '\n';
}
