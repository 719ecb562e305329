import type { Logger } from 'pino';
import { DEPLOYMENT_STATUS_DIR } from '@margo-gitops/spec';
import type { ComponentStatus, DeploymentState, StatusError } from '@margo-gitops/spec';
import type { AdoptedVersions } from '../desired/adopted-versions.js';
import type { DesiredDeployment } from '../desired/read-desired.js';
import type { Progress } from '../drivers/driver.js';
import { errInfo } from '../logger.js';
import type { StatusSink } from '../source/desired-source.js';
import type { AppliedDeployment } from '../state/state-store.js';
import { buildDeploymentStatus, statusFileContent, type DeploymentReport } from './build-status.js';

/**
 * How long a progress report waits for others to join its commit and push. A deployment reaching a
 * settled state (installed, failed, removed) is pushed at once: that is what operators wait for.
 */
const FLUSH_COALESCE_MS = 25;
const SETTLED: ReadonlySet<DeploymentState> = new Set(['installed', 'failed', 'removed']);
const STATUS_DIR = DEPLOYMENT_STATUS_DIR;

export interface Tracked {
  report: DeploymentReport;
  /** Extra fields in the status extension (last repair). */
  lastRepair?: { component: string; detail: string };
}

export interface DeploymentReportsOptions {
  sink: StatusSink;
  deviceId: string;
  /** Accepted desired version -> its signed manifest's version (status adoptedManifestVersion). */
  versions: AdoptedVersions;
  logger: Logger;
}

/**
 * The reports of every deployment the agent knows of, kept in memory and written through the
 * status sink whenever they change (durably queued at once, delivered in the background). What
 * transport delivers them is the sink's business.
 */
export class DeploymentReports {
  private readonly tracked = new Map<string, Tracked>();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: DeploymentReportsOptions) {}

  /** Rebuilds the in-memory view of reported states from what the sink has (after its init). */
  restore(): void {
    const { sink, versions, deviceId } = this.o;
    for (const p of sink.paths()) {
      if (!p.startsWith(STATUS_DIR)) continue;
      try {
        const text = sink.get(p)!;
        const doc = JSON.parse(text) as Record<string, any>;
        const ext = doc['x-margo-gitops-extensions'] ?? {};
        const adopted = versions.fromStatusFile(text, ext.commit);
        this.tracked.set(doc.deploymentId, {
          ...(ext.lastRepair ? { lastRepair: ext.lastRepair } : {}),
          report: {
            deploymentId: doc.deploymentId,
            name: ext.deploymentName ?? doc.deploymentId,
            deviceId,
            components: (doc.components ?? []).map((c: any) => ({
              name: c.name,
              state: c.state,
              ...(c.error ? { error: c.error } : {}),
              ...(c.progress ? { progress: c.progress } : {}),
            })),
            ...(ext.commit ? { commit: ext.commit } : {}),
            ...(adopted ? { adoptedManifestVersion: adopted } : {}),
            ...(doc.status?.error && !(doc.components ?? []).length
              ? { error: doc.status.error, state: doc.status.state }
              : {}),
          },
        });
      } catch {
        // unreadable status file: it is rewritten on the next change
      }
    }
  }

  get(id: string): Tracked | undefined {
    return this.tracked.get(id);
  }

  /** The error code a deployment's report carries (first failed component, else the overall one). */
  errorCode(id: string): string | undefined {
    const t = this.tracked.get(id);
    return t?.report.components.find((c) => c.error)?.error?.code ?? t?.report.error?.code;
  }

  private publish(id: string, message: string): void {
    const t = this.tracked.get(id);
    if (!t) return;
    const doc = buildDeploymentStatus(t.report);
    if (t.lastRepair) (doc['x-margo-gitops-extensions'] as Record<string, unknown>).lastRepair = t.lastRepair;
    if (this.o.sink.report({ [`${STATUS_DIR}${id}.json`]: statusFileContent(doc) }, message)) {
      const state = (doc.status as { state?: DeploymentState } | undefined)?.state;
      this.kickFlush(state !== undefined && SETTLED.has(state));
    }
  }

  track(id: string, name: string, components: string[], commit: string): Tracked {
    let t = this.tracked.get(id);
    const previous = new Map((t?.report.components ?? []).map((c) => [c.name, c]));
    const comps = components.map((n) => previous.get(n) ?? { name: n, state: 'pending' as DeploymentState });
    const lastRepair = t?.lastRepair;
    const adopted = this.o.versions.forReport(commit, t?.report);
    t = {
      report: {
        deploymentId: id,
        name,
        deviceId: this.o.deviceId,
        components: comps,
        commit,
        ...(adopted ? { adoptedManifestVersion: adopted } : {}),
      },
      ...(lastRepair ? { lastRepair } : {}),
    };
    this.tracked.set(id, t);
    return t;
  }

  setComponent(
    id: string,
    component: string,
    state: DeploymentState,
    extra: { error?: StatusError; progress?: Progress | 'repairing' } = {},
    message?: string,
  ): void {
    const t = this.tracked.get(id);
    if (!t) return;
    t.report.components = t.report.components.map(
      (c): ComponentStatus =>
        c.name === component
          ? {
              name: c.name,
              state,
              ...(extra.error ? { error: extra.error } : {}),
              ...(extra.progress ? { progress: extra.progress } : {}),
            }
          : c,
    );
    delete t.report.error;
    delete t.report.state;
    this.o.logger.debug({ deploymentId: id, component, state, progress: extra.progress }, 'component state');
    this.publish(
      id,
      message ?? `${t.report.name}/${component}: ${state}${extra.progress ? ` (${extra.progress})` : ''}`,
    );
  }

  /** A deployment waiting for others: its components not yet installed are `pending`. */
  waiting(id: string, waitingFor: string[]): void {
    this.pendingWith(
      id,
      {
        code: 'AGENT_DEPENDENCY_NOT_READY',
        message: `waiting for ${waitingFor.join(', ')} to be installed`,
      },
      `waiting for ${waitingFor.join(', ')}`,
    );
  }

  /**
   * A change held on site (AGENT_ON_SITE_HOLD): the deployment is `pending` with the hold's reason;
   * what runs keeps its `installed`, the rest is `pending`.
   */
  held(id: string, name: string, components: string[], commit: string, error: StatusError): void {
    this.track(id, name, components, commit);
    this.pendingWith(id, error, 'held on site');
  }

  private pendingWith(id: string, error: StatusError, what: string): void {
    const t = this.tracked.get(id)!;
    t.report.components = t.report.components.map((c) => ({
      name: c.name,
      state: c.state === 'installed' ? 'installed' : 'pending',
    }));
    t.report.error = error;
    t.report.state = 'pending';
    this.publish(id, `${t.report.name}: ${what}`);
  }

  failDeployment(
    id: string,
    name: string,
    commit: string,
    error: StatusError,
    state: DeploymentState = 'failed',
  ): void {
    const t = this.tracked.get(id) ?? this.track(id, name, [], commit);
    const adopted = this.o.versions.forReport(commit, t.report);
    const { adoptedManifestVersion: _previous, ...rest } = t.report;
    void _previous;
    t.report = {
      ...rest,
      ...(adopted ? { adoptedManifestVersion: adopted } : {}),
      name,
      commit,
      state,
      error,
      components: t.report.components.map((c) =>
        c.state === 'installed' ? c : { name: c.name, state: c.state === 'installing' ? 'failed' : c.state },
      ),
    };
    this.publish(id, `${name}: ${state} ${error.code}`);
  }

  /**
   * A refused desired state (or an expired accepted one): reported on the deployments of the last
   * good state, which keep running. Nothing of a refused state is used, not even the ids and names
   * in its documents: whoever wrote it would choose which deployments the device reports on.
   */
  reportRefusal(
    error: StatusError,
    appliedList: AppliedDeployment[],
    desired: ReadonlyMap<string, DesiredDeployment>,
  ): void {
    const applied = new Map(appliedList.map((a) => [a.id, a]));
    for (const id of new Set([...applied.keys(), ...desired.keys()])) {
      const t = this.tracked.get(id);
      const a = applied.get(id);
      const d = desired.get(id);
      const name = t?.report.name ?? d?.model.name ?? a!.name;
      const commit = t?.report.commit ?? a?.commit ?? '';
      if (!t) {
        const comps = d
          ? d.model.profile.components.map((c) => c.name)
          : a!.components.map((c) => c.fingerprint.name);
        this.track(id, name, comps, commit);
      }
      this.failDeployment(id, name, commit, error);
    }
  }

  /** Delivers what is queued; a failure leaves it queued on disk (logged). */
  async flush(): Promise<void> {
    try {
      await this.o.sink.flush();
    } catch (e) {
      this.o.logger.warn(
        { err: errInfo(e), queued: this.o.sink.pendingChanges() },
        'status push failed; kept queued',
      );
    }
  }

  /**
   * Starts a push in the background (status is already durable on disk), a few milliseconds later
   * so that reports made together ("deployed", then "installed") go out in one commit and push.
   */
  private kickFlush(now = false): void {
    if (now && this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = null;
        void this.o.sink
          .flush()
          .catch((e) => this.o.logger.debug({ err: errInfo(e) }, 'background status push failed'));
      },
      now ? 0 : FLUSH_COALESCE_MS,
    );
  }

  /** Drops a pending background push: what it would have sent stays queued on disk for the next start. */
  cancelFlush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }
}
