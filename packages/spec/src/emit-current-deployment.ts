/**
 * Emits an ApplicationDeployment in the current Margo shape (Workload Management API 1.0.0-rc.2 /
 * rc.3 `appDeploymentManifest`), byte-stable: what the orchestrator renders into a device's
 * desired state, so that a conformant client can consume the exact bytes in Git.
 */
import { parametersDocument, sortedEntries, stableYaml } from './emit-application-deployment.js';
import type { ApplicationDeployment, Component } from './model.js';
import { MARGO_GITOPS_EXTENSIONS } from './normalise-profile.js';
import { formatTimeout } from './quantity.js';

/** `apiVersion` and `kind` the current emitter writes (rc.2 allows them; rc.3 readers ignore them). */
export const CURRENT_DEPLOYMENT_HEADER = {
  apiVersion: 'application.margo.org/v1alpha1',
  kind: 'ApplicationDeployment',
} as const;

/** Properties the current shape defines; other `raw` keys are vendor keys, kept after them. */
const CURRENT_PROPS = new Set([
  'repository',
  'revision',
  'wait',
  'timeout',
  'packageLocation',
  'keyLocation',
]);

/**
 * The OCI coordinates of a component, Helm or Compose alike: `repository` (`oci://...`),
 * `revision` (tag, SemVer with `_` for build metadata) and the pinned manifest `digest` when known.
 * Undefined when the component names no repository (a 2024 Compose `packageLocation` component).
 *
 * @example
 * componentOciRef(c); // { repository: 'oci://reg/app/web', revision: '1.0.0', digest: 'sha256:...' }
 */
export function componentOciRef(
  c: Component,
): { repository: string; revision: string; digest?: string } | undefined {
  const props = c.helm ?? c.compose;
  if (!props?.repository) return undefined;
  return {
    repository: props.repository,
    revision: props.revision ?? '',
    ...(c.ociDigest !== undefined ? { digest: c.ociDigest } : {}),
  };
}

function properties(c: Component): Record<string, unknown> {
  const props = c.helm ?? c.compose;
  const out: Record<string, unknown> = {};
  if (props?.repository !== undefined) out.repository = props.repository;
  if (props?.revision !== undefined) out.revision = props.revision;
  out.wait = props?.wait ?? true;
  if (props?.timeoutSeconds !== undefined) out.timeout = formatTimeout(props.timeoutSeconds);
  for (const [k, v] of sortedEntries(c.raw ?? {})) if (!CURRENT_PROPS.has(k) && v !== undefined) out[k] = v;
  return out;
}

/** Component-level `x-*-extensions`, sorted; `ociDigest` written as `x-margo-gitops-extensions.digest`. */
function extensions(c: Component): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ext: Record<string, unknown> = { ...(c.extensions ?? {}) };
  const ours: Record<string, unknown> = {};
  const written = ext[MARGO_GITOPS_EXTENSIONS];
  if (written && typeof written === 'object' && !Array.isArray(written))
    for (const [k, v] of sortedEntries(written as Record<string, unknown>)) if (k !== 'digest') ours[k] = v;
  if (c.ociDigest !== undefined) ours.digest = c.ociDigest;
  delete ext[MARGO_GITOPS_EXTENSIONS];
  if (Object.keys(ours).length) ext[MARGO_GITOPS_EXTENSIONS] = ours;
  for (const [k, v] of sortedEntries(ext)) out[k] = v;
  return out;
}

/**
 * The plain object of the current shape, keys in a fixed order:
 * `apiVersion`, `kind`, `id`, `metadata` {name, namespace, deviceId, labels?, annotations},
 * `spec` {applicationId, deploymentProfile {type `helm`|`compose`, components [{name, properties
 * {repository, revision, wait, timeout?}, x-margo-gitops-extensions {digest}?}]}, parameters}.
 * `metadata.annotations` is always present (rc.2 requires it); `id`/`applicationId` are not
 * repeated in it (they are top-level / in spec). Compose pointers keep the `ENV.` prefix.
 * `deviceConstraints` are not emitted: the orchestrator has matched them before rendering.
 */
export function currentApplicationDeploymentDocument(model: ApplicationDeployment): Record<string, unknown> {
  const annotations: Record<string, string> = {};
  for (const [k, v] of sortedEntries(model.annotations ?? {}))
    if (k !== 'id' && k !== 'applicationId') annotations[k] = v;
  const metadata: Record<string, unknown> = { name: model.name, namespace: model.namespace };
  if (model.deviceId !== undefined) metadata.deviceId = model.deviceId;
  if (model.labels && Object.keys(model.labels).length)
    metadata.labels = Object.fromEntries(sortedEntries(model.labels));
  metadata.annotations = annotations;
  const compose = model.profile.type === 'compose';
  return {
    ...CURRENT_DEPLOYMENT_HEADER,
    id: model.id,
    metadata,
    spec: {
      applicationId: model.applicationId,
      deploymentProfile: {
        type: compose ? 'compose' : 'helm',
        components: model.profile.components.map((c) => ({
          name: c.name,
          properties: properties(c),
          ...extensions(c),
        })),
      },
      parameters: parametersDocument(model),
    },
  };
}

/**
 * Emits an ApplicationDeployment as YAML in the current shape. Equal models give byte-identical
 * output (fixed key order, two-space indent, no line folding, final newline).
 *
 * @example
 * const yaml = emitCurrentApplicationDeployment(model);
 * parseDocument(yaml).findings; // []
 */
export function emitCurrentApplicationDeployment(model: ApplicationDeployment): string {
  return stableYaml(currentApplicationDeploymentDocument(model));
}
