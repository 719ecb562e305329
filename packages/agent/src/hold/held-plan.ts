import type { DeviceHold, StatusError } from '@margo-gitops/spec';
import type { Plan, PlannedAction } from '../plan/plan-actions.js';

/** What changed between the hold seen at the last poll and the one now. */
export type HoldTransition = 'none' | 'placed' | 'reworded' | 'released';

/** Pure: the loop logs a placed hold, and a released one makes it apply what was held at once. */
export function holdTransition(before: DeviceHold | undefined, now: DeviceHold | undefined): HoldTransition {
  if (!before) return now ? 'placed' : 'none';
  if (!now) return 'released';
  return before.reason === now.reason && before.since === now.since ? 'none' : 'reworded';
}

/**
 * Splits a plan while the device is held: nothing that changes a workload runs (install, upgrade,
 * reconfigure, remove are held); `noop` actions still run, as they only confirm the status of what
 * runs. Without a hold everything runs. Pure.
 */
export function splitHeld(plan: Plan, hold: DeviceHold | undefined): { run: Plan; held: PlannedAction[] } {
  if (!hold) return { run: plan, held: [] };
  return {
    run: { ...plan, actions: plan.actions.filter((a) => a.kind === 'noop') },
    held: plan.actions.filter((a) => a.kind !== 'noop'),
  };
}

/** The error a held deployment reports (its state is `pending`). */
export function holdError(hold: DeviceHold, kind: PlannedAction['kind']): StatusError {
  const what = kind === 'remove' ? 'removal' : kind === 'install' ? 'installation' : kind;
  return {
    code: 'AGENT_ON_SITE_HOLD',
    message: `${what} held on site${hold.since ? ` since ${hold.since}` : ''}: ${hold.reason}`,
  };
}
