import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MargoError, toMargoError } from '@margo-gitops/spec';
import type { ApplicationDeployment } from '@margo-gitops/spec';
import type { AgentConfig } from '../config/agent-config.js';
import { valuesForComponent, type DesiredDeployment } from '../desired/read-desired.js';
import type { Progress } from '../drivers/driver.js';
import { errInfo } from '../logger.js';
import { otelCollectorOf, otelFingerprint, workloadIdentity } from '../otel/otel-settings.js';
import { fingerprintOf, REMOVE_VOLUMES_ANNOTATION, type FingerprintExtra } from '../plan/fingerprint.js';
import type { Plan, PlannedAction } from '../plan/plan-actions.js';
import type { AppliedComponent, AppliedDeployment, StateStore } from '../state/state-store.js';
import type { DeploymentReports } from '../status/reports.js';
import type { DriverSet } from './driver-set.js';

/** The accepted desired state the plan was made from. */
export interface AcceptedDesired {
  /** Valid deployments with a runtime on this device, by id. */
  deployments: Map<string, DesiredDeployment>;
  /** Every file of the desired state (packages referenced by path resolve against them). */
  files: Map<string, Buffer>;
}

export interface ApplierOptions {
  config: AgentConfig;
  state: StateStore;
  drivers: DriverSet;
  reports: DeploymentReports;
  /** Turns `sealed:v1:...` parameter values into clear text (device key). */
  unseal?: (value: string) => string;
  now: () => Date;
}

export type Outcome = 'ok' | 'failed' | 'waiting';

/**
 * Carries out planned actions with the drivers, crash-safe: an intent is written before an action
 * and cleared after it, an applied record only after a component succeeded (so a half-done
 * multi-component upgrade resumes where it stopped), a removal deletes the record only after the
 * driver finished. A failed deployment keeps its last good applied record.
 */
export class Applier {
  constructor(private readonly o: ApplierOptions) {}

  /** What the device adds to every component's fingerprint (the planner uses the same). */
  get fingerprintExtra(): FingerprintExtra {
    const otel = otelFingerprint(otelCollectorOf(this.o.config));
    return otel ? { otel } : {};
  }

  /**
   * Carries out a plan. Returns true when something is to be tried again without a new desired
   * state (a retryable failure, a deployment waiting for another, or a stop in the middle).
   */
  async run(
    plan: Plan,
    desired: AcceptedDesired,
    commit: string,
    log: Logger,
    o: {
      stopping: () => boolean;
      outcomes: {
        kind: string;
        name: string;
        result: Outcome | 'held';
        durationMs?: number;
        code?: string;
      }[];
    },
  ): Promise<boolean> {
    // Unchanged deployments only confirm their status (installed, at the commit they were applied
    // at): do that after the real work, so that a change waits behind no other deployment. They
    // count as installed for deployments that depend on them.
    const installed = new Set(plan.actions.filter((a) => a.kind === 'noop').map((a) => a.name));
    const ordered = [
      ...plan.actions.filter((a) => a.kind !== 'noop'),
      ...plan.actions.filter((a) => a.kind === 'noop'),
    ];
    let retryable = false;
    for (const action of ordered) {
      if (o.stopping()) {
        retryable = true;
        break; // stopping: leave the rest for the next start
      }
      const t0 = performance.now();
      const outcome = await this.execute(action, desired, commit, installed, log);
      const code = outcome === 'ok' ? undefined : this.o.reports.errorCode(action.deploymentId);
      o.outcomes.push({
        kind: action.kind,
        name: action.name,
        result: outcome,
        durationMs: performance.now() - t0,
        ...(outcome === 'failed' && code ? { code } : {}),
      });
      if (outcome !== 'ok') {
        const info = code ? isRetryable(code) : true;
        if (info || outcome === 'waiting') retryable = true;
      }
    }
    return retryable;
  }

  /** One planned action; `installed` holds the names installed so far in this plan (dependencies). */
  private async execute(
    action: PlannedAction,
    desired: AcceptedDesired,
    commit: string,
    installed: Set<string>,
    log: Logger,
  ): Promise<Outcome> {
    const dlog = log.child({
      deploymentId: action.deploymentId,
      deployment: action.name,
      action: action.kind,
    });
    if (action.kind === 'remove') return this.removeDeployment(action, commit, dlog);
    const d = desired.deployments.get(action.deploymentId)!;
    const comps = d.model.profile.components.map((c) => c.name);
    // An unchanged deployment keeps reporting the commit it was applied at: its status bytes stay
    // the same, so a change elsewhere does not rewrite (and re-sign) every deployment's status.
    const reportCommit =
      action.kind === 'noop' ? (this.o.state.getApplied(d.model.id)?.commit ?? commit) : commit;
    this.o.reports.track(d.model.id, d.model.name, comps, reportCommit);
    const waitingFor = action.kind === 'noop' ? [] : action.waitFor.filter((n) => !installed.has(n));
    if (waitingFor.length) {
      this.o.reports.waiting(d.model.id, waitingFor);
      dlog.info({ waitingFor }, 'waiting for dependencies');
      return 'waiting';
    }
    const ok = await this.applyDeployment(d, action, commit, dlog, desired.files);
    if (ok) installed.add(d.model.name);
    return ok ? 'ok' : 'failed';
  }

  private timeoutOf(d: ApplicationDeployment, component: string): number {
    const c = d.profile.components.find((x) => x.name === component);
    return c?.helm?.timeoutSeconds ?? c?.compose?.timeoutSeconds ?? this.o.config.defaultTimeoutSeconds;
  }

  /**
   * Install / upgrade / reconfigure / noop (status refresh) of one deployment, component by
   * component; `force` re-applies those components even when unchanged (drift repair).
   */
  async applyDeployment(
    dd: DesiredDeployment,
    action: PlannedAction,
    commit: string,
    log: Logger,
    files: Map<string, Buffer>,
    force = new Set<string>(),
  ): Promise<boolean> {
    const { state, reports, config } = this.o;
    const d = dd.model;
    const fp = fingerprintOf(d, this.fingerprintExtra);
    const collector = otelCollectorOf(config);
    let applied = state.getApplied(d.id);
    const driver = this.o.drivers.forType(d.profile.type)!;
    const driverError = this.o.drivers.errorOf(driver.name);
    if (action.kind === 'noop' && !force.size) {
      // Killed after the last step but before the intent was cleared: nothing is left to do.
      state.clearIntent(d.id);
      for (const c of d.profile.components)
        reports.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
      return true;
    }
    state.putIntent({
      deploymentId: d.id,
      name: d.name,
      action: action.kind,
      commit,
      startedAt: this.o.now().toISOString(),
    });
    try {
      // Profile type changed, or components dropped: remove what no longer belongs first.
      if (applied) {
        const keep = new Set(applied.profileType === d.profile.type ? fp.components.map((c) => c.name) : []);
        const gone = applied.components.filter((c) => !keep.has(c.fingerprint.name));
        for (const c of [...gone].reverse()) {
          const drv = this.o.drivers.byName(c.driver);
          if (drv)
            await drv.remove({
              record: c.record,
              removeVolumes: false,
              logger: log,
              timeoutSeconds: config.defaultTimeoutSeconds,
            });
          applied = { ...applied, components: applied.components.filter((x) => x !== c) };
          state.putApplied(applied);
        }
      }
      if (driverError) throw driverError;
      for (const c of d.profile.components) {
        const cfp = fp.components.find((x) => x.name === c.name)!;
        const current = applied?.components.find((x) => x.fingerprint.name === c.name);
        if (
          current &&
          current.fingerprint.source === cfp.source &&
          current.fingerprint.config === cfp.config &&
          !force.has(c.name)
        ) {
          reports.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
          continue;
        }
        const clog = log.child({ component: c.name });
        state.putIntent({
          deploymentId: d.id,
          name: d.name,
          action: action.kind,
          component: c.name,
          commit,
          startedAt: this.o.now().toISOString(),
        });
        reports.setComponent(d.id, c.name, 'installing', {
          progress: force.has(c.name) ? 'repairing' : 'prepared',
        });
        try {
          const { values, registry } = valuesForComponent(d, c.name, this.o.unseal);
          const ctx = {
            deployment: d,
            component: c,
            values,
            ...(registry ? { registry } : {}),
            repoFiles: files,
            workDir: join(config.stateDir, driver.name, d.id, c.name),
            timeoutSeconds: this.timeoutOf(d, c.name),
            ...(current ? { previous: current.record } : {}),
            // Injected by the driver after verification; never part of the deployment document.
            ...(collector
              ? { otel: { collector, identity: workloadIdentity(d, c.name, config.deviceId) } }
              : {}),
            logger: clog,
            progress: (p: Progress) => reports.setComponent(d.id, c.name, 'installing', { progress: p }),
          };
          mkdirSync(ctx.workDir, { recursive: true });
          const prepared = await driver.prepare(ctx);
          const record = await driver.apply(ctx, prepared);
          const entry: AppliedComponent = { fingerprint: cfp, driver: driver.name, record };
          const base: AppliedDeployment = applied ?? {
            id: d.id,
            name: d.name,
            profileType: d.profile.type,
            namespace: d.namespace,
            dependsOn: fp.dependsOn,
            annotations: d.annotations ?? {},
            components: [],
            appliedAt: '',
            commit,
          };
          const order = fp.components.map((x) => x.name);
          const comps = [...base.components.filter((x) => x.fingerprint.name !== c.name), entry].sort(
            (a, b) => order.indexOf(a.fingerprint.name) - order.indexOf(b.fingerprint.name),
          );
          applied = {
            ...base,
            name: d.name,
            profileType: d.profile.type,
            namespace: d.namespace,
            dependsOn: fp.dependsOn,
            annotations: d.annotations ?? {},
            components: comps,
            appliedAt: this.o.now().toISOString(),
            commit,
          };
          state.putApplied(applied);
          reports.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
          clog.info({ kind: action.kind }, 'component applied');
        } catch (e) {
          const err = toMargoError(e, driver.name === 'helm' ? 'AGENT_HELM_FAILED' : 'AGENT_COMPOSE_FAILED');
          clog.error({ err: errInfo(err) }, 'component failed');
          reports.setComponent(d.id, c.name, 'failed', { error: { code: err.code, message: err.message } });
          // Later components are not attempted (ordered install); they stay as they are.
          return false;
        }
      }
      // The deployment-level fields (dependsOn, annotations) may change without any component change.
      if (
        applied &&
        (JSON.stringify(applied.dependsOn) !== JSON.stringify(fp.dependsOn) || applied.name !== d.name)
      ) {
        applied = { ...applied, name: d.name, dependsOn: fp.dependsOn, annotations: d.annotations ?? {} };
        state.putApplied(applied);
      }
      return true;
    } catch (e) {
      const err = toMargoError(e);
      log.error({ err: errInfo(err) }, 'deployment failed');
      reports.failDeployment(d.id, d.name, commit, { code: err.code, message: err.message });
      return false;
    } finally {
      state.clearIntent(d.id);
    }
  }

  private async removeDeployment(
    action: PlannedAction,
    commit: string,
    log: Logger,
  ): Promise<'ok' | 'failed'> {
    const { state, reports } = this.o;
    const a = state.getApplied(action.deploymentId);
    if (!a) return 'ok';
    reports.track(
      a.id,
      a.name,
      a.components.map((c) => c.fingerprint.name),
      commit,
    );
    state.putIntent({
      deploymentId: a.id,
      name: a.name,
      action: 'remove',
      commit,
      startedAt: this.o.now().toISOString(),
    });
    const removeVolumes = a.annotations[REMOVE_VOLUMES_ANNOTATION] === 'true';
    try {
      for (const c of [...a.components].reverse()) {
        reports.setComponent(a.id, c.fingerprint.name, 'removing');
        const drv = this.o.drivers.byName(c.driver);
        if (!drv)
          throw new MargoError(
            'AGENT_PROFILE_UNSUPPORTED',
            `no ${c.driver} driver to remove ${c.fingerprint.name}`,
          );
        await drv.remove({
          record: c.record,
          removeVolumes,
          logger: log.child({ component: c.fingerprint.name }),
          timeoutSeconds: this.o.config.defaultTimeoutSeconds,
        });
        reports.setComponent(a.id, c.fingerprint.name, 'removed');
      }
      state.deleteApplied(a.id);
      log.info('deployment removed');
      return 'ok';
    } catch (e) {
      const err = toMargoError(e);
      log.error({ err: errInfo(err) }, 'removal failed');
      const comp = a.components.find(
        (c) =>
          reports.get(a.id)?.report.components.find((x) => x.name === c.fingerprint.name)?.state ===
          'removing',
      );
      if (comp)
        reports.setComponent(a.id, comp.fingerprint.name, 'failed', {
          error: { code: err.code, message: err.message },
        });
      else reports.failDeployment(a.id, a.name, commit, { code: err.code, message: err.message });
      return 'failed';
    } finally {
      state.clearIntent(a.id);
    }
  }
}

/** Failures that need a person (a new desired state), not another try. */
function isRetryable(code: string): boolean {
  return ![
    'AGENT_INVALID_DOCUMENT',
    'AGENT_PROFILE_UNSUPPORTED',
    'AGENT_SIGNATURE_INVALID',
    'AGENT_CHECKSUM_MISMATCH',
    'AGENT_DEPENDENCY_CYCLE',
    'AGENT_UNSEAL_FAILED',
    'AGENT_VERIFICATION_FAILED',
    'AGENT_PACKAGE_INVALID',
    'AGENT_ARTIFACT_DIGEST_MISMATCH',
    'AGENT_ARTIFACT_PATH_OUTSIDE',
    'AGENT_ARTIFACT_TOO_LARGE',
  ].includes(code);
}
