import {
  emitApplicationDeployment,
  type ApplicationDeployment,
  type DeploymentProfile,
} from '@margo-gitops/spec';
import type { ResolvedParameter } from './resolve-parameters.js';

/** Annotation carrying the names of deployments to install first (comma-separated, sorted). */
export const DEPENDS_ON_ANNOTATION = 'margo-gitops.io/depends-on';
/** Annotation carrying the catalog version the deployment was rendered from. */
export const APP_VERSION_ANNOTATION = 'margo-gitops.io/application-version';

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
  profile: DeploymentProfile;
  parameters: Record<string, ResolvedParameter>;
  dependsOn: string[];
  deviceId?: string;
  /** Turns a package-relative `packageLocation`/`keyLocation` into a URL the device can reach. */
  resolveLocation?: (location: string) => string;
}

/**
 * Renders one Margo ApplicationDeployment in the 2024 Git-era shape (spec's
 * emitApplicationDeployment: `application.margo.org/v1alpha1`, id and applicationId as
 * annotations). Byte-for-byte deterministic: same input, same bytes.
 *
 * @example
 * const yaml = renderApplicationDeployment({ deploymentId, name: 'web', namespace: 'web', applicationId: 'hello', applicationVersion: '1.0.0', profile, parameters: {}, dependsOn: [] });
 */
export function renderApplicationDeployment(input: RenderInput): string {
  const given = input.resolveLocation;
  // Only package-relative locations (`resources/x.tar.gz`, `./x`, `file:x`) are resolved;
  // absolute URLs (`https://...`, `oci://...`) are kept as written.
  const resolve = given
    ? (l: string) => {
        const rel = packageRelativePath(l);
        return rel === undefined ? l : given(rel);
      }
    : undefined;
  const profile: DeploymentProfile = resolve
    ? {
        ...input.profile,
        components: input.profile.components.map((c) =>
          c.compose
            ? {
                ...c,
                compose: {
                  ...c.compose,
                  ...(c.compose.packageLocation
                    ? { packageLocation: resolve(c.compose.packageLocation) }
                    : {}),
                  ...(c.compose.keyLocation ? { keyLocation: resolve(c.compose.keyLocation) } : {}),
                },
              }
            : c,
        ),
      }
    : input.profile;
  const annotations: Record<string, string> = { [APP_VERSION_ANNOTATION]: input.applicationVersion };
  if (input.dependsOn.length) annotations[DEPENDS_ON_ANNOTATION] = [...input.dependsOn].sort().join(',');
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
    apiVersion: 'application.margo.org/v1alpha1',
    id: input.deploymentId,
    idPlacement: 'annotations',
    name: input.name,
    namespace: input.namespace,
    applicationId: input.applicationId,
    annotations,
    profile,
    parameters,
    original: undefined,
  };
  return emitApplicationDeployment(model);
}
