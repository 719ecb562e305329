/**
 * The revision of a deployment: what a rollout moves devices from and to, and what the
 * `margo-gitops.io/revision` annotation of a rendered ApplicationDeployment carries, so the
 * orchestrator can tell which revision a device reports about.
 */
import { createHash } from 'node:crypto';
import type { DeploymentIntent } from '@margo-gitops/spec';
import { canonicalJson } from '@margo-gitops/trust';

export { REVISION_ANNOTATION } from '@margo-gitops/spec';

/**
 * First 16 hex digits of sha256 over the canonical JSON of the intent without the fields that do
 * not change what a device runs (`rollout`, `description`, `targets`: target changes are followed
 * inside a rollout, and `application.version`: the range) plus the resolved application version.
 * Editing only the `rollout:` block, the description or the targets starts no new rollout; a new
 * catalog version picked by a range does.
 *
 * @example
 * revisionOf(intent, '1.1.0'); // '3f0c9a1d2b7e6c54'
 */
export function revisionOf(intent: DeploymentIntent, resolvedVersion: string): string {
  const { rollout: _r, description: _d, targets: _t, application, ...rest } = intent;
  const body = { ...rest, application: { id: application.id }, resolvedVersion };
  return createHash('sha256')
    .update(canonicalJson(JSON.parse(JSON.stringify(body))))
    .digest('hex')
    .slice(0, 16);
}

/** The revision annotation of a rendered ApplicationDeployment's text; undefined when absent. */
export function revisionInText(text: string): string | undefined {
  const m = /^\s*margo-gitops\.io\/revision:\s*["']?([0-9a-f]{16})["']?\s*$/m.exec(text);
  return m?.[1];
}
