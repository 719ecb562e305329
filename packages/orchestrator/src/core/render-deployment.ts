import {
  APP_VERSION_ANNOTATION,
  CURRENT_DEPLOYMENT_HEADER,
  DEPENDS_ON_ANNOTATION,
  REVISION_ANNOTATION,
  emitCurrentApplicationDeployment,
  type ApplicationDeployment,
  type DeploymentProfile,
} from '@margo-gitops/spec';
import type { ResolvedParameter } from './resolve-parameters.js';

export { APP_VERSION_ANNOTATION, DEPENDS_ON_ANNOTATION };

/**
 * The path, relative to the package folder, that a Compose location names; undefined for absolute
 * URLs (`https://`, `oci://`, `file:///`) and absolute paths, which are kept as written.
 */
export function packageRelativePath(location: string): string | undefined {
  if (/^file:/i.test(location) && !/^file:\/\//i.test(location))
    return location.slice(5).replace(/^\.\//, '');
  if (/^[a-z][a-z0-9+.-]*:/i.test(location) || location.startsWith('/')) return undefined;
  return location.replace(/^\.\//, '');
}

export interface RenderInput {
  deploymentId: string;
  name: string;
  namespace: string;
  applicationId: string;
  applicationVersion: string;
  /** The profile with every component in OCI form (oci-components' `ociProfile`). */
  profile: DeploymentProfile;
  parameters: Record<string, ResolvedParameter>;
  dependsOn: string[];
  deviceId: string;
  /** The deployment's revision (only for deployments in a rollout): annotation `margo-gitops.io/revision`. */
  revision?: string;
}

/**
 * Renders one Margo ApplicationDeployment in the current shape (Workload Management API
 * 1.0.0-rc.2/rc.3: top-level `id`, `metadata.deviceId`, `spec.applicationId`, profile type
 * `helm`/`compose`, components as OCI `repository` + `revision` with the pinned digest), so a
 * conformant client can consume the exact bytes in Git. Byte-for-byte deterministic.
 *
 * @example
 * const yaml = renderApplicationDeployment({ deploymentId, name: 'web', namespace: 'web', applicationId: 'hello', applicationVersion: '1.0.0', profile, parameters: {}, dependsOn: [], deviceId: 'edge-1' });
 */
export function renderApplicationDeployment(input: RenderInput): string {
  const annotations: Record<string, string> = { [APP_VERSION_ANNOTATION]: input.applicationVersion };
  if (input.dependsOn.length) annotations[DEPENDS_ON_ANNOTATION] = [...input.dependsOn].sort().join(',');
  if (input.revision !== undefined) annotations[REVISION_ANNOTATION] = input.revision;
  const parameters: ApplicationDeployment['parameters'] = {};
  for (const [name, p] of Object.entries(input.parameters)) {
    parameters[name] = {
      name,
      value: p.value,
      targets: p.targets.map((t) => ({
        pointer: t.pointer,
        rawPointer: t.rawPointer,
        components: [...t.components],
      })),
    };
  }
  const model: ApplicationDeployment = {
    kind: 'ApplicationDeployment',
    apiVersion: CURRENT_DEPLOYMENT_HEADER.apiVersion,
    id: input.deploymentId,
    idPlacement: 'top-level',
    name: input.name,
    namespace: input.namespace,
    applicationId: input.applicationId,
    deviceId: input.deviceId,
    annotations,
    profile: input.profile,
    parameters,
    original: undefined,
  };
  return emitCurrentApplicationDeployment(model);
}
