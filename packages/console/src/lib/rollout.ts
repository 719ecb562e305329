/** What the console offers for a rollout (pure). */
import type { RolloutAction } from './types.js';

/**
 * The actions a rollout's phase allows, as `margo rollout` does: a progressing rollout may be
 * paused, a paused one resumed; both may be promoted past a manual gate or aborted. A finished,
 * rolled back or rolling back rollout offers nothing.
 *
 * @example
 * rolloutActions('paused'); // ['resume', 'promote', 'abort']
 */
export function rolloutActions(phase: string): RolloutAction[] {
  if (phase === 'progressing') return ['pause', 'promote', 'abort'];
  if (phase === 'paused') return ['resume', 'promote', 'abort'];
  return [];
}
