/**
 * Annotations margo-gitops puts on an ApplicationDeployment: the orchestrator writes them when it
 * renders a device's desired state, the agent reads them. One definition for both sides.
 */

/** Names of deployments to install first (comma or whitespace separated; written sorted). */
export const DEPENDS_ON_ANNOTATION = 'margo-gitops.io/depends-on';
/** The catalog version the deployment was rendered from (telemetry names it). */
export const APP_VERSION_ANNOTATION = 'margo-gitops.io/application-version';
/** The rollout revision the deployment was rendered from. */
export const REVISION_ANNOTATION = 'margo-gitops.io/revision';
/** `"true"`: `docker compose down -v` on removal (volumes are kept otherwise). */
export const REMOVE_VOLUMES_ANNOTATION = 'margo-gitops.io/remove-volumes';
