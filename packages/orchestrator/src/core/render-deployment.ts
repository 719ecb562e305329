import type { Component, DeploymentProfile } from '@margo-gitops/spec';
import { stringify } from 'yaml';
import type { ResolvedParameter } from './resolve-parameters.js';

/** Annotation carrying the names of deployments to install first (comma-separated, sorted). */
export const DEPENDS_ON_ANNOTATION = 'margo-gitops.io/depends-on';
/** Annotation carrying the catalog version the deployment was rendered from. */
export const APP_VERSION_ANNOTATION = 'margo-gitops.io/application-version';

export interface RenderInput {
  deploymentId: string;
  name: string;
  namespace: string;
  applicationId: string;
  applicationVersion: string;
  profile: DeploymentProfile;
  parameters: Record<string, ResolvedParameter>;
  dependsOn: string[];
  /** Turns a package-relative `packageLocation`/`keyLocation` into a URL the device can reach. */
  resolveLocation?: (location: string) => string;
}

function timeout(seconds: number | undefined): string | undefined {
  if (seconds === undefined) return undefined;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

function componentProperties(c: Component, resolve: (l: string) => string): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const set = (k: string, v: unknown) => {
    if (v !== undefined) p[k] = v;
  };
  if (c.helm) {
    set('repository', c.helm.repository);
    set('revision', c.helm.revision);
    set('wait', c.helm.wait);
    set('timeout', timeout(c.helm.timeoutSeconds));
  } else if (c.compose) {
    set('packageLocation', c.compose.packageLocation && resolve(c.compose.packageLocation));
    set('keyLocation', c.compose.keyLocation && resolve(c.compose.keyLocation));
    set('repository', c.compose.repository);
    set('revision', c.compose.revision);
    set('wait', c.compose.wait);
    set('timeout', timeout(c.compose.timeoutSeconds));
  }
  // Vendor extensions are carried as written, in a stable order.
  const rawProps = ((c.raw as { properties?: Record<string, unknown> }).properties ?? c.raw) as Record<
    string,
    unknown
  >;
  for (const k of Object.keys(rawProps).sort())
    if (/^x-[a-z][a-z0-9-]*-extensions$/.test(k)) p[k] = rawProps[k];
  return p;
}

/**
 * Renders one Margo ApplicationDeployment in the 2024 Git-era shape
 * (`application.margo.org/v1alpha1`, id and applicationId as annotations). Byte-for-byte
 * deterministic: same input, same bytes (keys in a fixed order, parameters sorted by name).
 *
 * @example
 * const yaml = renderApplicationDeployment({ deploymentId, name: 'web', namespace: 'web', applicationId: 'hello', applicationVersion: '1.0.0', profile, parameters: {}, dependsOn: [] });
 */
export function renderApplicationDeployment(input: RenderInput): string {
  const resolve = input.resolveLocation ?? ((l: string) => l);
  const annotations: Record<string, string> = { id: input.deploymentId, applicationId: input.applicationId };
  annotations[APP_VERSION_ANNOTATION] = input.applicationVersion;
  if (input.dependsOn.length) annotations[DEPENDS_ON_ANNOTATION] = [...input.dependsOn].sort().join(',');
  const parameters: Record<string, unknown> = {};
  for (const name of Object.keys(input.parameters).sort()) {
    const p = input.parameters[name]!;
    parameters[name] = {
      value: p.value,
      targets: p.targets.map((t) => ({ pointer: t.pointer, components: [...t.components] })),
    };
  }
  const doc = {
    apiVersion: 'application.margo.org/v1alpha1',
    kind: 'ApplicationDeployment',
    metadata: { annotations, name: input.name, namespace: input.namespace },
    spec: {
      deploymentProfile: {
        type: input.profile.type,
        components: input.profile.components.map((c) => ({
          name: c.name,
          properties: componentProperties(c, resolve),
        })),
      },
      parameters,
    },
  };
  return stringify(doc, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}
