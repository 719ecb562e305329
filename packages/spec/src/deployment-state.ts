/** Margo deployment states: parsing every era's spelling and the aggregation rule. */
import type { DeploymentState } from './model.js';

export const DEPLOYMENT_STATES: readonly DeploymentState[] = [
  'pending',
  'installing',
  'installed',
  'failed',
  'removing',
  'removed',
];

const ALIASES: Record<string, DeploymentState> = {
  pending: 'pending',
  installing: 'installing',
  installed: 'installed',
  failed: 'failed',
  removing: 'removing',
  removed: 'removed',
  // G24 workflow page: Pending / Installing / Failure / Success.
  success: 'installed',
  failure: 'failed',
  // One 1.0.0 OpenAPI revision.
  updating: 'installing',
  updated: 'installed',
};

/**
 * Parses a state case-insensitively (`Installed`, `installed`), mapping `Success` -> installed,
 * `Failure` -> failed, `Updating` -> installing, `Updated` -> installed. Undefined when unknown.
 *
 * @example
 * parseDeploymentState('Success'); // 'installed'
 */
export function parseDeploymentState(s: string): DeploymentState | undefined {
  return ALIASES[s.trim().toLowerCase()];
}

/** Severity order used for aggregation, most severe first. */
export const STATE_SEVERITY: readonly DeploymentState[] = [
  'failed',
  'removing',
  'installing',
  'pending',
  'installed',
  'removed',
];

/**
 * The overall state of a deployment: the most severe component state, in the order
 * failed > removing > installing > pending > installed > removed (REFERENCE section 8 point 5; the
 * spec's own list repeats `removing` and omits `removed`). No components -> `pending`.
 *
 * @example
 * aggregateState(['installed', 'installing']); // 'installing'
 * aggregateState([{ state: 'failed' }, { state: 'installed' }]); // 'failed'
 */
export function aggregateState(
  components: readonly (DeploymentState | { state: DeploymentState })[],
): DeploymentState {
  let best = STATE_SEVERITY.length;
  for (const c of components) {
    const i = STATE_SEVERITY.indexOf(typeof c === 'string' ? c : c.state);
    if (i >= 0 && i < best) best = i;
  }
  return best === STATE_SEVERITY.length ? 'pending' : STATE_SEVERITY[best]!;
}
