import type { Logger } from 'pino';
import type { StateStore } from '../state/state-store.js';
import type { DeploymentReports } from '../status/reports.js';
import type { AcceptedDesired, Applier } from './applier.js';
import type { DriverSet } from './driver-set.js';

export interface DriftContext {
  state: StateStore;
  drivers: DriverSet;
  reports: DeploymentReports;
  applier: Applier;
  logger: Logger;
}

/**
 * Asks the drivers whether every applied deployment of the accepted desired state still runs as
 * applied, and re-applies the components that do not (at the commit they were applied at; the
 * repair is recorded as `lastRepair` in the status). Returns the number of deployments repaired.
 */
export async function repairDrift(x: DriftContext, desired: AcceptedDesired): Promise<number> {
  let repairs = 0;
  const applied = x.state.listApplied().filter((a) => desired.deployments.has(a.id));
  const observed = await x.drivers.observe(applied, x.logger);
  for (const a of applied) {
    const dd = desired.deployments.get(a.id)!;
    const drifted = new Set<string>();
    const details: string[] = [];
    for (const c of a.components) {
      const obs = observed.get(c);
      if (obs && !obs.ok) {
        drifted.add(c.fingerprint.name);
        details.push(`${c.fingerprint.name}: ${obs.detail ?? 'drifted'}`);
      }
    }
    if (!drifted.size) continue;
    const log = x.logger.child({
      deploymentId: a.id,
      deployment: a.name,
      commit: a.commit.slice(0, 12),
    });
    log.warn({ drift: details }, 'drift detected; repairing');
    const t =
      x.reports.get(a.id) ??
      x.reports.track(
        a.id,
        a.name,
        dd.model.profile.components.map((c) => c.name),
        a.commit,
      );
    t.lastRepair = { component: [...drifted].join(','), detail: details.join('; ') };
    const ok = await x.applier.applyDeployment(
      dd,
      { kind: 'upgrade', deploymentId: a.id, name: a.name, waitFor: [] },
      a.commit,
      log,
      desired.files,
      drifted,
    );
    repairs++;
    log.info({ ok }, ok ? 'drift repaired' : 'drift repair failed');
  }
  return repairs;
}
