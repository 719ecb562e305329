/** Builds and emits DeploymentStatus documents (what a device reports). */
import { aggregateState } from './deployment-state.js';
import { stringifyJsonExact } from './json-exact.js';
import type { ComponentStatus, DeploymentState, DeploymentStatus, StatusError } from './model.js';

/**
 * apiVersion/kind pairs per era. `g24` (the default here, for compatibility) and `r1` write them;
 * `n` (rc.2/rc.3 `DeploymentStatusManifest`, what the agent writes) has none and carries
 * `adoptedManifestVersion`.
 */
export const DEPLOYMENT_STATUS_FLAVOURS: Record<
  'g24' | 'r1' | 'n',
  { readonly apiVersion?: string; readonly kind?: string }
> = {
  g24: { apiVersion: 'deployment.margo/v1', kind: 'DeploymentStatus' },
  r1: { apiVersion: 'deployment.margo.org/v1alpha1', kind: 'DeploymentStatusManifest' },
  n: {},
};

export type DeploymentStatusFlavour = keyof typeof DEPLOYMENT_STATUS_FLAVOURS;

export interface BuildDeploymentStatusInput {
  deploymentId: string;
  deviceId?: string;
  components: ComponentStatus[];
  /** The deployment-level error; defaults to the first failed component's error. */
  error?: StatusError;
  /** The deployment's `metadata.name`, used as `error.source` of a copied component error. */
  deploymentName?: string;
  /** The version (exact decimal) of the state manifest the device applied; rc.3 requires it. */
  adoptedManifestVersion?: string;
  flavour?: DeploymentStatusFlavour;
}

/**
 * Builds a DeploymentStatus whose overall state is `aggregateState(components)`.
 *
 * @example
 * buildDeploymentStatus({ deploymentId: id, components: [{ name: 'web', state: 'installed' }] }).state; // 'installed'
 */
export function buildDeploymentStatus(input: BuildDeploymentStatusInput): DeploymentStatus {
  const { apiVersion = '', kind } = DEPLOYMENT_STATUS_FLAVOURS[input.flavour ?? 'g24'];
  const state: DeploymentState = aggregateState(input.components);
  let error = input.error;
  if (!error && state === 'failed') {
    const failed = input.components.find((c) => c.state === 'failed' && c.error);
    if (failed?.error)
      error = {
        code: failed.error.code,
        message: failed.error.message,
        ...(input.deploymentName ? { source: input.deploymentName } : {}),
      };
  }
  const components = input.components.map((c) => ({ ...c }));
  const doc = {
    kind,
    apiVersion,
    deploymentId: input.deploymentId,
    ...(input.deviceId ? { deviceId: input.deviceId } : {}),
    ...(input.adoptedManifestVersion !== undefined
      ? { adoptedManifestVersion: input.adoptedManifestVersion }
      : {}),
    state,
    ...(error ? { error } : {}),
    components,
  };
  return {
    ...doc,
    kind: 'DeploymentStatus',
    original: emitDeploymentStatusObject(
      { ...doc, kind: 'DeploymentStatus', original: undefined },
      input.flavour,
    ),
  };
}

function errorObject(e: StatusError | undefined): Record<string, string> | undefined {
  if (!e) return undefined;
  return { code: e.code, message: e.message, ...(e.source ? { source: e.source } : {}) };
}

/**
 * The plain object of a status in the wire shape, keys in a fixed order. `adoptedManifestVersion`
 * is a BigInt (a JSON number of any size once written with `stringifyJsonExact`).
 */
export function emitDeploymentStatusObject(
  status: DeploymentStatus,
  flavour: DeploymentStatusFlavour = 'g24',
): Record<string, unknown> {
  const { apiVersion, kind } = DEPLOYMENT_STATUS_FLAVOURS[flavour];
  const statusBlock: Record<string, unknown> = { state: status.state };
  const err = errorObject(status.error);
  if (err) statusBlock.error = err;
  return {
    ...(apiVersion !== undefined ? { apiVersion } : {}),
    ...(kind !== undefined ? { kind } : {}),
    deploymentId: status.deploymentId,
    ...(status.deviceId ? { deviceId: status.deviceId } : {}),
    ...(status.adoptedManifestVersion !== undefined
      ? {
          adoptedManifestVersion: /^[0-9]+$/.test(status.adoptedManifestVersion)
            ? BigInt(status.adoptedManifestVersion)
            : status.adoptedManifestVersion,
        }
      : {}),
    status: statusBlock,
    components: status.components.map((c) => {
      const e = errorObject(c.error);
      return {
        name: c.name,
        state: c.state,
        ...(e ? { error: e } : {}),
        ...(c.progress ? { progress: c.progress } : {}),
      };
    }),
  };
}

/**
 * Emits a DeploymentStatus as JSON (two-space indent, final newline, fixed key order, lower-case
 * states). Flavour `g24` (default): `deployment.margo/v1` + `DeploymentStatus`; `r1`:
 * `deployment.margo.org/v1alpha1` + `DeploymentStatusManifest`; `n`: neither (rc.2/rc.3).
 *
 * @example
 * emitDeploymentStatus(buildDeploymentStatus({ deploymentId: id, components: [] }));
 */
export function emitDeploymentStatus(
  status: DeploymentStatus,
  flavour: DeploymentStatusFlavour = 'g24',
): string {
  return stringifyJsonExact(emitDeploymentStatusObject(status, flavour), 2) + '\n';
}
