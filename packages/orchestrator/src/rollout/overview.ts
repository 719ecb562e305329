/**
 * One line per rollout, for lists (`GET /api/v1/status/rollouts`, `margo rollout status` without a
 * name): phase, the wave in progress and how many devices are where. Pure.
 */
import {
  failedCount,
  failureLimit,
  type DeviceRolloutStatus,
  type RolloutPhase,
  type RolloutState,
} from './state.js';

export interface RolloutOverview {
  name: string;
  phase: RolloutPhase;
  from?: string;
  to: string;
  /** Name of the wave in progress; absent once every wave passed. */
  wave?: string;
  /** Waves whose gate passed, of `waves`. */
  wavesPassed: number;
  waves: number;
  /** Devices of the rollout. */
  total: number;
  counts: Partial<Record<DeviceRolloutStatus, number>>;
  failures: number;
  failureLimit: number;
  /** Devices that could be told now but wait (window, on-site hold, cap), from the last step. */
  waiting?: number;
  /** ISO time the orchestrator next looks at the rollout on its own (a gate's health time, a window opening). */
  wakeAt?: string;
  /** Fleet commit the state was read from (null: not known). */
  commit?: string | null;
}

/**
 * @example
 * rolloutOverview(state, { waiting: last.waiting.length }).counts.healthy;
 */
export function rolloutOverview(
  state: RolloutState,
  extra: { waiting?: number; wakeAt?: number; commit?: string | null } = {},
): RolloutOverview {
  const counts: RolloutOverview['counts'] = {};
  for (const d of Object.values(state.devices)) counts[d.status] = (counts[d.status] ?? 0) + 1;
  const out: RolloutOverview = {
    name: state.deployment,
    phase: state.phase,
    to: state.to,
    wavesPassed: Math.min(state.current, state.waves.length),
    waves: state.waves.length,
    total: Object.keys(state.devices).length,
    counts,
    failures: failedCount(state),
    failureLimit: failureLimit(state),
  };
  if (state.from !== undefined) out.from = state.from;
  const wave = state.waves[state.current];
  if (wave) out.wave = wave.name;
  if (extra.waiting !== undefined) out.waiting = extra.waiting;
  if (extra.wakeAt !== undefined) out.wakeAt = new Date(extra.wakeAt).toISOString();
  if (extra.commit !== undefined) out.commit = extra.commit;
  return out;
}
