/**
 * A rollout told wave by wave, for `margo rollout status` (pure): what is done, in progress,
 * waiting for its gate or a window, and which devices failed with their errors.
 */
import type { RolloutGate } from '@margo-gitops/spec';
import {
  failedCount,
  failureLimit,
  type DeviceRolloutStatus,
  type RolloutPhase,
  type RolloutState,
} from './state.js';
import type { StepResult, WaitReason } from './step.js';

export interface WaveSummary {
  name: string;
  /** `passed`: its gate passed; `current`: the wave in progress; `later`: not started. */
  progress: 'passed' | 'current' | 'later';
  gate: RolloutGate;
  devices: number;
  counts: Partial<Record<DeviceRolloutStatus, number>>;
  /** Devices of the wave waiting, by reason (from the last step). */
  waiting: Partial<Record<WaitReason, number>>;
  /** What the gate of the current wave waits for (from the last step). */
  gateWaitsFor?: NonNullable<StepResult['gate']>['waitingFor'];
  gateUntil?: string;
  failed: { deviceId: string; error: string }[];
  promotedAt?: string;
  passedAt?: string;
}

export interface RolloutSummary {
  deployment: string;
  from?: string;
  to: string;
  phase: RolloutPhase;
  failures: number;
  /** Failures (beyond the accepted ones) that stop the rollout. */
  failureLimit: number;
  acceptedFailures: number;
  waves: WaveSummary[];
  pause?: RolloutState['pause'];
  rollback?: RolloutState['rollback'];
}

/**
 * Summarises a rollout; pass the last step's result to include why devices wait.
 *
 * @example
 * summariseRollout(state, lastStep).waves.map((w) => `${w.name}: ${w.progress}`);
 */
export function summariseRollout(
  state: RolloutState,
  last?: Pick<StepResult, 'waiting' | 'gate'>,
): RolloutSummary {
  const waitingBy = new Map<string, WaitReason>();
  for (const w of last?.waiting ?? []) waitingBy.set(w.deviceId, w.reason);
  const waves = state.waves.map((w, i): WaveSummary => {
    const counts: WaveSummary['counts'] = {};
    const waiting: WaveSummary['waiting'] = {};
    const failed: WaveSummary['failed'] = [];
    for (const id of w.devices) {
      const d = state.devices[id]!;
      counts[d.status] = (counts[d.status] ?? 0) + 1;
      if (d.status === 'failed' || d.status === 'revertFailed')
        failed.push({ deviceId: id, error: d.error ?? '' });
      const why = waitingBy.get(id);
      if (why) waiting[why] = (waiting[why] ?? 0) + 1;
    }
    const progress = i < state.current ? 'passed' : i === state.current ? 'current' : 'later';
    const out: WaveSummary = {
      name: w.name,
      progress,
      gate: w.gate,
      devices: w.devices.length,
      counts,
      waiting,
      failed,
    };
    if (last?.gate && last.gate.wave === w.name) {
      out.gateWaitsFor = last.gate.waitingFor;
      if (last.gate.until !== undefined) out.gateUntil = new Date(last.gate.until).toISOString();
    }
    if (w.promotedAt) out.promotedAt = w.promotedAt;
    if (w.passedAt) out.passedAt = w.passedAt;
    return out;
  });
  const out: RolloutSummary = {
    deployment: state.deployment,
    to: state.to,
    phase: state.phase,
    failures: failedCount(state),
    failureLimit: failureLimit(state),
    acceptedFailures: state.acceptedFailures,
    waves,
  };
  if (state.from !== undefined) out.from = state.from;
  if (state.pause) out.pause = state.pause;
  if (state.rollback) out.rollback = state.rollback;
  return out;
}
