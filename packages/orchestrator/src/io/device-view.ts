import type { FleetDevice } from '@margo-gitops/spec';
import type { DeviceView } from '../core/fleet-status.js';
import type { DeviceReport } from './device-repo.js';
import type { DeviceState } from './state-store.js';

/**
 * What the roll-up shows of one device (pure): the orchestrator's record of what it wrote, the
 * device's last verified report, and when the server last saw it.
 */
export function deviceViewOf(
  device: FleetDevice,
  st: DeviceState | undefined,
  rep: DeviceReport | undefined,
  seenAt: number | undefined,
): DeviceView {
  return {
    device,
    outcomes: st?.outcomes ?? [],
    ...(rep?.reportedAt !== undefined ? { reportedAt: rep.reportedAt } : {}),
    ...(seenAt !== undefined ? { seenAt } : {}),
    ...(rep?.observedCommit ? { observedCommit: rep.observedCommit } : {}),
    ...(st?.mainOid ? { mainCommit: st.mainOid } : {}),
    statuses: rep?.statuses ?? new Map(),
    changedAt: st?.changedAt ?? {},
    ...(st?.error ? { repoError: { code: st.error.code, message: st.error.message } } : {}),
    ...(st?.foreignMain ? { foreignMain: st.foreignMain } : {}),
    ...(rep?.problems.length ? { statusProblems: rep.problems } : {}),
    ...(rep?.hold ? { hold: rep.hold } : {}),
  };
}
