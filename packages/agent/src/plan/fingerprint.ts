import { createHash } from 'node:crypto';
import type { ApplicationDeployment, Component, ProfileType } from '@margo-gitops/spec';

import { DEPENDS_ON_ANNOTATION, REMOVE_VOLUMES_ANNOTATION } from '@margo-gitops/spec';

export { DEPENDS_ON_ANNOTATION, REMOVE_VOLUMES_ANNOTATION };

export interface ComponentFingerprint {
  name: string;
  /** What is installed: chart repository@revision or package location (+ key). A change is an upgrade. */
  source: string;
  /** Hash of the parameter values and options reaching this component. A change is a reconfigure. */
  config: string;
}

/** The comparable essence of a deployment (desired or applied). */
export interface DeploymentFingerprint {
  id: string;
  name: string;
  profileType: ProfileType;
  namespace: string;
  dependsOn: string[];
  components: ComponentFingerprint[];
}

export function parseDependsOn(annotations: Record<string, string> | undefined): string[] {
  const raw = annotations?.[DEPENDS_ON_ANNOTATION];
  if (!raw) return [];
  return [...new Set(raw.split(/[\s,]+/).filter(Boolean))];
}

function componentSource(c: Component): string {
  // A new pinned digest under the same repository and revision is new bytes (a rebuilt legacy
  // package, a re-pushed tag): it is an upgrade, not a no-op.
  const pin = c.ociDigest ? `#${c.ociDigest}` : '';
  if (c.helm) return `helm:${c.helm.repository}@${c.helm.revision}${pin}`;
  if (c.compose) {
    const loc = c.compose.packageLocation ?? `${c.compose.repository ?? ''}@${c.compose.revision ?? ''}`;
    return `compose:${loc}${c.compose.keyLocation ? `|key=${c.compose.keyLocation}` : ''}${pin}`;
  }
  return `unknown:${JSON.stringify(c.raw)}`;
}

/** Parameter values reaching one component, as (pointer, value) pairs sorted by pointer. */
export function componentValues(d: ApplicationDeployment, component: string): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const p of Object.values(d.parameters)) {
    for (const t of p.targets) if (t.components.includes(component)) out.push([t.pointer, p.value]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function hash(x: unknown): string {
  return createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 16);
}

/** What the device adds to every component besides the deployment (part of each `config`). */
export interface FingerprintExtra {
  /** Hash of the OpenTelemetry collector settings injected (otel/otel-settings.ts otelFingerprint). */
  otel?: string;
}

/**
 * Fingerprint of a desired deployment. `extra` (the device's own additions, e.g. the injected
 * collector) enters each component's `config` only when set, so an agent without it fingerprints
 * exactly as before.
 */
export function fingerprintOf(d: ApplicationDeployment, extra: FingerprintExtra = {}): DeploymentFingerprint {
  return {
    id: d.id,
    name: d.name,
    profileType: d.profile.type,
    namespace: d.namespace,
    dependsOn: parseDependsOn(d.annotations),
    components: d.profile.components.map((c) => {
      const opts = c.helm
        ? { wait: c.helm.wait, t: c.helm.timeoutSeconds }
        : { wait: c.compose?.wait, t: c.compose?.timeoutSeconds };
      return {
        name: c.name,
        source: componentSource(c),
        config: hash({ v: componentValues(d, c.name), opts, ...(extra.otel ? { otel: extra.otel } : {}) }),
      };
    }),
  };
}
