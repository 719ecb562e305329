import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IsoGitStore, NativeGitStore, type GitAuth, type GitStore } from '@margo-gitops/git';
import {
  CAPABILITIES_FILE,
  DEPLOYMENT_STATUS_DIR,
  MargoError,
  precompileSchema,
  toMargoError,
} from '@margo-gitops/spec';
import type {
  ApplicationDeployment,
  ComponentStatus,
  DeploymentState,
  StatusError,
} from '@margo-gitops/spec';
import { retryDelay } from './backoff.js';
import { discoverCapabilities } from './capabilities/discover-capabilities.js';
import type { AgentConfig } from './config/agent-config.js';
import { activityAt, msUntilActive, parseWindow, type Schedule, type TimeWindow } from './config/windows.js';
import { readDesired, valuesForComponent, type DesiredDeployment } from './desired/read-desired.js';
import { AdoptedVersions } from './desired/adopted-versions.js';
import { ComposeDriver } from './drivers/compose-driver.js';
import type { Driver, Observation, Progress } from './drivers/driver.js';
import { HelmDriver } from './drivers/helm-driver.js';
import { driverRegistrySettings } from './drivers/registry-config.js';
import { createAgentLogger, errInfo } from './logger.js';
import { fingerprintOf, REMOVE_VOLUMES_ANNOTATION } from './plan/fingerprint.js';
import { planActions, type PlannedAction } from './plan/plan-actions.js';
import {
  appliedFingerprint,
  StateStore,
  type AppliedComponent,
  type AppliedDeployment,
} from './state/state-store.js';
import { buildDeploymentStatus, statusFileContent, type DeploymentReport } from './status/build-status.js';
import type { DesiredSource, StatusSink, VerifiedDesiredState, Verifier } from './source/desired-source.js';
import { GitDesiredSource } from './source/git-source.js';
import { GitStatusSink } from './source/git-status-sink.js';

export type { Verifier, VerifiedDesiredState } from './source/desired-source.js';

/**
 * How long a progress report waits for others to join its commit and push. A deployment reaching a
 * settled state (installed, failed, removed) is pushed at once: that is what operators wait for.
 */
const FLUSH_COALESCE_MS = 25;
const SETTLED: ReadonlySet<DeploymentState> = new Set(['installed', 'failed', 'removed']);

export interface AgentOptions {
  config: AgentConfig;
  logger?: Logger;
  /** Runtimes; default: Compose, plus Helm when `kubeconfig` is set. */
  drivers?: Driver[];
  verifier?: Verifier;
  /** Turns `sealed:v1:...` parameter values into clear text (device key). */
  unseal?: (value: string) => string;
  /** Payload signature of a status file: `<public key>;<signature>`. */
  signStatus?: (bytes: Buffer) => string;
  /** Git store for the device repository; default by `config.gitBackend` in `<stateDir>/repo`. */
  gitStore?: GitStore;
  now?: () => Date;
  random?: () => number;
}

export interface PollResult {
  /** False when the server could not be reached (or the poll was skipped by a window). */
  ok: boolean;
  skipped?: 'downtime' | 'outside-polling-window';
  commit?: string | null;
  /** True when the desired state was (re)applied in this poll. */
  reconciled: boolean;
  actions: { kind: string; name: string; result: 'ok' | 'failed' | 'waiting' }[];
  repairs: number;
  error?: { code: string; message: string };
}

interface Tracked {
  report: DeploymentReport;
  /** Extra fields in the status extension (last repair). */
  lastRepair?: { component: string; detail: string };
}

const STATUS_DIR = DEPLOYMENT_STATUS_DIR;

/**
 * The device agent: polls the device repository, plans and applies the desired deployments with
 * the drivers, and reports DeploymentStatus and DeviceCapabilities on the `status` branch.
 *
 * @example
 * const agent = new Agent({ config, logger });
 * await agent.start(); // runs until stop()
 */
export class Agent {
  readonly config: AgentConfig;
  readonly logger: Logger;
  private readonly drivers: Driver[];
  private readonly driverErrors = new Map<string, MargoError>();
  private readonly state: StateStore;
  private readonly source: DesiredSource;
  private readonly reporter: StatusSink;
  private readonly schedule: Schedule;
  private readonly now: () => Date;
  private readonly random: () => number;
  private initialised: Promise<void> | null = null;
  private running = false;
  private wake: (() => void) | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private loopDone: Promise<void> | null = null;
  private polling: Promise<PollResult> | null = null;
  private pollCount = 0;
  private fetchFailures = 0;
  private applyFailures = 0;
  private retryAt = 0;
  private forceReconcile = true;
  private desiredCache = new Map<string, DesiredDeployment>();
  private desiredFiles = new Map<string, Buffer>();
  private tracked = new Map<string, Tracked>();
  /** Expiry of the last accepted desired state (from the verifier); null when unknown or none. */
  private validUntil: Date | null = null;
  /** True once the expiry of `validUntil` was reported (reported once, not every poll). */
  private expiryReported = false;
  /** Accepted desired commit -> its signed manifest's version (status adoptedManifestVersion). */
  private readonly versions = new AdoptedVersions();

  constructor(private readonly o: AgentOptions) {
    this.config = o.config;
    this.logger = o.logger ?? createAgentLogger({ level: o.config.logLevel, deviceId: o.config.deviceId });
    this.now = o.now ?? (() => new Date());
    this.random = o.random ?? Math.random;
    mkdirSync(o.config.stateDir, { recursive: true });
    this.state = new StateStore(o.config.stateDir);
    // One local repository for both directions: `main` (desired) and `status`.
    const store: GitStore =
      o.gitStore ??
      (o.config.gitBackend === 'native'
        ? new NativeGitStore(join(o.config.stateDir, 'repo'))
        : new IsoGitStore(join(o.config.stateDir, 'repo')));
    const auth: GitAuth = { token: o.config.token ?? '', username: o.config.gitUsername };
    const registry = driverRegistrySettings(o.config);
    this.drivers = o.drivers ?? [
      new ComposeDriver({
        ...(o.config.composeCommand ? { composeCommand: o.config.composeCommand } : {}),
        dockerPath: o.config.dockerPath,
        stopTimeoutSeconds: o.config.composeStopTimeoutSeconds,
        registry: registry.compose,
      }),
      ...(o.config.kubeconfig
        ? [
            new HelmDriver({
              helmPath: o.config.helmPath,
              kubeconfig: o.config.kubeconfig,
              registry: registry.helm,
            }),
          ]
        : []),
    ];
    const win = (s: string) => parseWindow(s) as TimeWindow;
    this.schedule = {
      ...(o.config.pollingWindow ? { pollingWindow: win(o.config.pollingWindow) } : {}),
      downtimeWindows: o.config.downtimeWindows.map(win),
      timeBase: o.config.windowTimeBase,
    };
    this.source = new GitDesiredSource({
      store,
      url: o.config.repoUrl,
      auth,
      deviceId: o.config.deviceId,
      ...(o.verifier ? { verifier: o.verifier } : {}),
    });
    this.reporter = new GitStatusSink({
      store,
      url: o.config.repoUrl,
      auth,
      stateDir: o.config.stateDir,
      deviceId: o.config.deviceId,
      historyLimit: o.config.statusHistoryLimit,
      logger: this.logger.child({ part: 'status' }),
      ...(o.signStatus ? { signStatus: o.signStatus } : {}),
      now: this.now,
    });
  }

  private init(): Promise<void> {
    this.initialised ??= (async () => {
      await this.source.init();
      await this.reporter.init();
      await this.initDrivers();
      // Every desired commit's deployments are validated; compiling that schema here, at start,
      // keeps the cost off the first change the device is sent.
      precompileSchema('ApplicationDeployment');
      for (const i of this.state.listIntents()) {
        this.logger.warn(
          { deploymentId: i.deploymentId, action: i.action, since: i.startedAt },
          'resuming interrupted action',
        );
      }
      // Rebuild the in-memory view of reported states from the status branch.
      for (const p of this.reporter.paths()) {
        if (!p.startsWith(STATUS_DIR)) continue;
        try {
          const text = this.reporter.get(p)!;
          const doc = JSON.parse(text) as Record<string, any>;
          const ext = doc['x-margo-gitops-extensions'] ?? {};
          const adopted = this.versions.fromStatusFile(text, ext.commit);
          this.tracked.set(doc.deploymentId, {
            ...(ext.lastRepair ? { lastRepair: ext.lastRepair } : {}),
            report: {
              deploymentId: doc.deploymentId,
              name: ext.deploymentName ?? doc.deploymentId,
              deviceId: this.config.deviceId,
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
    })();
    return this.initialised;
  }

  private async initDrivers(): Promise<void> {
    for (const d of this.drivers) {
      try {
        await d.init(this.logger.child({ driver: d.name }));
        this.driverErrors.delete(d.name);
      } catch (e) {
        const err = toMargoError(e, 'AGENT_COMPOSE_UNAVAILABLE');
        this.driverErrors.set(d.name, err);
        this.logger.error({ driver: d.name, err: errInfo(err) }, 'driver unavailable');
      }
    }
  }

  /** Runs the poll loop until `stop()`. Resolves when the loop has ended. */
  async start(): Promise<void> {
    if (this.running) return this.loopDone ?? undefined;
    this.running = true;
    await this.init();
    this.logger.info(
      { repo: redactUrl(this.config.repoUrl), pollIntervalSeconds: this.config.pollIntervalSeconds },
      'agent started',
    );
    this.loopDone = (async () => {
      while (this.running) {
        const started = performance.now();
        const r = await this.pollOnce().catch((e) => {
          this.logger.error({ err: errInfo(e) }, 'poll failed');
          return { ok: false } as PollResult;
        });
        if (!this.running) break;
        await this.sleep(this.nextDelay(r, performance.now() - started));
      }
    })();
    return this.loopDone;
  }

  /** Stops the loop after the current poll (an action in progress finishes first). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await this.polling;
    // What a pending push would have sent stays queued on disk for the next start.
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.logger.info('agent stopped');
  }

  /**
   * Time until the next poll. A healthy loop polls at a fixed rate, one poll starting every interval
   * however long the last one took (`elapsedMs`), so a change waits at most one interval to be seen.
   */
  private nextDelay(r: PollResult, elapsedMs: number): number {
    const interval = this.config.pollIntervalSeconds * 1000;
    if (r.skipped) {
      const until = msUntilActive(this.now(), this.schedule);
      return Math.max(interval, until === null ? 3_600_000 : until);
    }
    if (!r.ok)
      return retryDelay(this.fetchFailures, interval, this.config.maxBackoffSeconds * 1000, this.random);
    if (this.retryAt > 0) return Math.max(Math.min(interval, this.retryAt - this.now().getTime()), 50);
    return Math.max(interval - elapsedMs, 0);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** One poll: fetch, and when the desired commit changed (or a retry is due) plan + apply + report. */
  pollOnce(): Promise<PollResult> {
    if (this.polling) return this.polling;
    this.polling = this.doPoll().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private async doPoll(): Promise<PollResult> {
    await this.init();
    const result: PollResult = { ok: true, reconciled: false, actions: [], repairs: 0 };
    const activity = activityAt(this.now(), this.schedule);
    if (!activity.active) {
      this.logger.debug({ reason: activity.reason, window: activity.window }, 'poll skipped');
      return { ...result, ok: false, skipped: activity.reason };
    }
    let commit: string | null;
    const fetchStarted = performance.now();
    try {
      const fetched = await this.source.poll();
      commit = fetched.version;
      this.logger.debug(
        { commit, changed: fetched.changed, fetchMs: Math.round(performance.now() - fetchStarted) },
        'fetched',
      );
      if (this.fetchFailures > 0)
        this.logger.info({ failures: this.fetchFailures }, 'server reachable again');
      this.fetchFailures = 0;
    } catch (e) {
      this.fetchFailures++;
      const err = toMargoError(e, 'AGENT_REPO_UNREACHABLE');
      this.logger.warn(
        { err: errInfo(err), failures: this.fetchFailures },
        'fetch failed; workloads keep running',
      );
      // Offline: keep the workloads as they are; repair drift from the last known desired state
      // (the status of the repair is queued on disk and pushed after reconnect).
      this.pollCount++;
      const local = this.forceReconcile ? await this.source.lastKnown() : null;
      if (local) {
        // Restarted while offline: converge to the last fetched desired state.
        await this.reconcile(local, result);
        this.forceReconcile = false;
      } else {
        // Cut off from updates is a freeze too: the running state expires all the same.
        await this.betweenChanges(result);
      }
      return { ...result, ok: false, error: { code: err.code, message: err.message } };
    }
    result.commit = commit;
    this.pollCount++;
    const marker = this.state.getMarker();
    const retryDue = this.retryAt > 0 && this.now().getTime() >= this.retryAt;
    if (commit && (this.forceReconcile || commit !== marker.lastReconciledCommit || retryDue)) {
      await this.reconcile(commit, result);
      this.forceReconcile = false;
    } else {
      await this.betweenChanges(result);
    }
    if (this.pollCount === 1 || this.pollCount % this.config.capabilitiesEvery === 0)
      await this.reportCapabilities();
    if (this.reporter.hasUnpushed()) await this.flushStatus();
    return result;
  }

  /** A poll that verifies no desired commit: freshness every time, drift every `driftCheckEvery` polls. */
  private async betweenChanges(result: PollResult): Promise<void> {
    this.checkFreshness();
    if (
      this.config.driftCheckEvery > 0 &&
      this.pollCount % this.config.driftCheckEvery === 0 &&
      this.desiredCache.size
    )
      await this.checkDrift(result);
  }

  private async flushStatus(): Promise<void> {
    try {
      await this.reporter.flush();
    } catch (e) {
      this.logger.warn(
        { err: errInfo(e), queued: this.reporter.pendingChanges() },
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
        void this.reporter
          .flush()
          .catch((e) => this.logger.debug({ err: errInfo(e) }, 'background status push failed'));
      },
      now ? 0 : FLUSH_COALESCE_MS,
    );
  }

  private async reportCapabilities(): Promise<void> {
    try {
      const helm = this.drivers.find((d): d is HelmDriver => d instanceof HelmDriver);
      let nodeCapacity;
      if (helm) nodeCapacity = await helm.nodeCapacity().catch(() => undefined);
      const caps = discoverCapabilities({
        deviceId: this.config.deviceId,
        storagePath: this.config.stateDir,
        runtimes: this.drivers.map((d) => d.name),
        ...(nodeCapacity ? { nodeCapacity } : {}),
        ...(this.config.capabilitiesFile ? { overridesFile: this.config.capabilitiesFile } : {}),
      });
      if (this.reporter.report({ [CAPABILITIES_FILE]: statusFileContent(caps) }, 'capabilities'))
        this.logger.info('capabilities reported');
    } catch (e) {
      this.logger.warn({ err: errInfo(e) }, 'capabilities discovery failed');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status

  private publish(id: string, message: string): void {
    const t = this.tracked.get(id);
    if (!t) return;
    const doc = buildDeploymentStatus(t.report);
    if (t.lastRepair) (doc['x-margo-gitops-extensions'] as Record<string, unknown>).lastRepair = t.lastRepair;
    if (this.reporter.report({ [`${STATUS_DIR}${id}.json`]: statusFileContent(doc) }, message)) {
      const state = (doc.status as { state?: DeploymentState } | undefined)?.state;
      this.kickFlush(state !== undefined && SETTLED.has(state));
    }
  }

  private track(id: string, name: string, components: string[], commit: string): Tracked {
    let t = this.tracked.get(id);
    const previous = new Map((t?.report.components ?? []).map((c) => [c.name, c]));
    const comps = components.map((n) => previous.get(n) ?? { name: n, state: 'pending' as DeploymentState });
    const lastRepair = t?.lastRepair;
    const adopted = this.versions.forReport(commit, t?.report);
    t = {
      report: {
        deploymentId: id,
        name,
        deviceId: this.config.deviceId,
        components: comps,
        commit,
        ...(adopted ? { adoptedManifestVersion: adopted } : {}),
      },
      ...(lastRepair ? { lastRepair } : {}),
    };
    this.tracked.set(id, t);
    return t;
  }

  private setComponent(
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
    this.logger.debug({ deploymentId: id, component, state, progress: extra.progress }, 'component state');
    this.publish(
      id,
      message ?? `${t.report.name}/${component}: ${state}${extra.progress ? ` (${extra.progress})` : ''}`,
    );
  }

  private failDeployment(
    id: string,
    name: string,
    commit: string,
    error: StatusError,
    state: DeploymentState = 'failed',
  ): void {
    const t = this.tracked.get(id) ?? this.track(id, name, [], commit);
    const adopted = this.versions.forReport(commit, t.report);
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
   * A refused desired commit (or an expired accepted one): reported on the deployments of the last
   * good state, which keep running. Nothing of a refused commit is used, not even the ids and names
   * in its documents: whoever wrote it would choose which deployments the device reports on.
   */
  private reportRefusal(error: StatusError): void {
    const applied = new Map(this.state.listApplied().map((a) => [a.id, a]));
    for (const id of new Set([...applied.keys(), ...this.desiredCache.keys()])) {
      const t = this.tracked.get(id);
      const a = applied.get(id);
      const d = this.desiredCache.get(id);
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

  /**
   * Freeze protection, every poll that does not verify a commit: the accepted signed state expires
   * even when `main` never changes (a frozen repository, an orchestrator that stopped re-signing).
   * Reported once as TRUST_MANIFEST_EXPIRED; the next fresh signed commit clears it.
   */
  private checkFreshness(): void {
    if (!this.validUntil || this.expiryReported) return;
    if (this.now().getTime() < this.validUntil.getTime()) return;
    const err = new MargoError(
      'TRUST_MANIFEST_EXPIRED',
      `the applied desired state expired at ${this.validUntil.toISOString()} and no newer signed state arrived`,
    );
    this.logger.error({ err: errInfo(err) }, 'desired state expired; last good state keeps running');
    this.reportRefusal({ code: err.code, message: err.message });
    this.expiryReported = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Reconcile

  private driverFor(type: string): Driver | undefined {
    return this.drivers.find((d) => d.supports(type as never));
  }

  private async reconcile(commit: string, result: PollResult): Promise<void> {
    const log = this.logger.child({ commit: commit.slice(0, 12) });
    result.reconciled = true;
    this.retryAt = 0;
    if (this.driverErrors.size) await this.initDrivers();
    const snapshot = await this.source.load(commit);
    const files = snapshot.files;
    // observed.json names every new desired commit, so a change that needs no work here (an
    // unchanged deployment restored after tampering, a re-signed manifest) still gets a status
    // commit after it. Queued with the first reports of this commit: it costs no commit of its own.
    this.reporter.observe(commit);

    let verified: VerifiedDesiredState | undefined;
    try {
      verified = await snapshot.verify();
    } catch (e) {
      const err = toMargoError(e, 'AGENT_VERIFICATION_FAILED');
      log.error(
        { err: errInfo(err) },
        'desired state refused by verification; last good state keeps running',
      );
      this.reportRefusal({ code: err.code, message: err.message });
      this.state.putMarker({ lastReconciledCommit: commit });
      await this.source.settled?.(commit);
      return;
    }
    this.validUntil = verified?.expiresAt ?? null;
    if (verified?.manifestVersion) this.versions.remember(commit, verified.manifestVersion);
    this.expiryReported = false;
    const { desired, rejected } = readDesired(files);
    this.desiredFiles = files;

    // Deployments that cannot be applied keep their last good state: neither desired nor removable.
    const applied = this.state.listApplied();
    const frozen = new Set<string>();
    for (const r of rejected) {
      const a = applied.find((x) => (r.id && x.id === r.id) || x.name === r.name);
      const id = r.id ?? a?.id;
      if (a) frozen.add(a.id);
      log.error({ file: r.file, deploymentId: id, code: r.code }, r.message);
      if (id) this.failDeployment(id, r.name, commit, { code: r.code, message: r.message });
    }
    const valid: DesiredDeployment[] = [];
    for (const d of desired) {
      const driver = this.driverFor(d.model.profile.type);
      if (!driver) {
        const a = applied.find((x) => x.id === d.model.id);
        if (a) frozen.add(a.id);
        this.track(
          d.model.id,
          d.model.name,
          d.model.profile.components.map((c) => c.name),
          commit,
        );
        this.failDeployment(d.model.id, d.model.name, commit, {
          code: 'AGENT_PROFILE_UNSUPPORTED',
          message: `this device has no runtime for profile type ${d.model.profile.rawType}`,
        });
        continue;
      }
      valid.push(d);
    }
    this.desiredCache = new Map(valid.map((d) => [d.model.id, d]));
    const desiredFps = valid.map((d) => fingerprintOf(d.model));
    const appliedFps = applied.filter((a) => !frozen.has(a.id)).map(appliedFingerprint);
    const plan = planActions(desiredFps, appliedFps);
    for (const p of plan.problems) {
      if (p.code === 'AGENT_DEPENDENCY_CYCLE') {
        const d = this.desiredCache.get(p.deploymentId)!;
        this.track(
          p.deploymentId,
          p.name,
          d.model.profile.components.map((c) => c.name),
          commit,
        );
        this.failDeployment(p.deploymentId, p.name, commit, { code: p.code, message: p.message });
      }
    }
    log.info(
      {
        actions: plan.actions.filter((a) => a.kind !== 'noop').map((a) => `${a.kind}:${a.name}`),
        rejected: rejected.length,
      },
      'plan',
    );

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
      if (!this.running && this.loopDone) {
        retryable = true;
        break; // stopping: leave the rest for the next start
      }
      const outcome = await this.execute(action, commit, installed, log);
      result.actions.push({ kind: action.kind, name: action.name, result: outcome });
      if (outcome !== 'ok') {
        const t = this.tracked.get(action.deploymentId);
        const code = t?.report.components.find((c) => c.error)?.error?.code ?? t?.report.error?.code;
        const info = code ? isRetryable(code) : true;
        if (info || outcome === 'waiting') retryable = true;
      }
    }
    if (retryable) {
      this.applyFailures++;
      this.retryAt =
        this.now().getTime() +
        retryDelay(
          this.applyFailures,
          this.config.pollIntervalSeconds * 1000,
          this.config.maxBackoffSeconds * 1000,
          this.random,
        );
      log.info({ retryInMs: this.retryAt - this.now().getTime() }, 'some deployments will be retried');
    } else {
      this.applyFailures = 0;
    }
    this.state.putMarker({ lastReconciledCommit: commit });
    await this.source.settled?.(commit);
  }

  private async execute(
    action: PlannedAction,
    commit: string,
    installed: Set<string>,
    log: Logger,
  ): Promise<'ok' | 'failed' | 'waiting'> {
    const dlog = log.child({
      deploymentId: action.deploymentId,
      deployment: action.name,
      action: action.kind,
    });
    if (action.kind === 'remove') return this.removeDeployment(action, commit, dlog);
    const d = this.desiredCache.get(action.deploymentId)!;
    const comps = d.model.profile.components.map((c) => c.name);
    // An unchanged deployment keeps reporting the commit it was applied at: its status bytes stay
    // the same, so a change elsewhere does not rewrite (and re-sign) every deployment's status.
    const reportCommit =
      action.kind === 'noop' ? (this.state.getApplied(d.model.id)?.commit ?? commit) : commit;
    this.track(d.model.id, d.model.name, comps, reportCommit);
    const waitingFor = action.kind === 'noop' ? [] : action.waitFor.filter((n) => !installed.has(n));
    if (waitingFor.length) {
      const t = this.tracked.get(d.model.id)!;
      t.report.components = t.report.components.map((c) => ({
        name: c.name,
        state: c.state === 'installed' ? 'installed' : 'pending',
      }));
      t.report.error = {
        code: 'AGENT_DEPENDENCY_NOT_READY',
        message: `waiting for ${waitingFor.join(', ')} to be installed`,
      };
      t.report.state = 'pending';
      this.publish(d.model.id, `${d.model.name}: waiting for ${waitingFor.join(', ')}`);
      dlog.info({ waitingFor }, 'waiting for dependencies');
      return 'waiting';
    }
    const ok = await this.applyDeployment(d, action, commit, dlog);
    if (ok) installed.add(d.model.name);
    return ok ? 'ok' : 'failed';
  }

  private timeoutOf(d: ApplicationDeployment, component: string): number {
    const c = d.profile.components.find((x) => x.name === component);
    return c?.helm?.timeoutSeconds ?? c?.compose?.timeoutSeconds ?? this.config.defaultTimeoutSeconds;
  }

  /** Install / upgrade / reconfigure / noop (status refresh) of one deployment, component by component. */
  private async applyDeployment(
    dd: DesiredDeployment,
    action: PlannedAction,
    commit: string,
    log: Logger,
    force = new Set<string>(),
  ): Promise<boolean> {
    const d = dd.model;
    const fp = fingerprintOf(d);
    let applied = this.state.getApplied(d.id);
    const driver = this.driverFor(d.profile.type)!;
    const driverError = this.driverErrors.get(driver.name);
    if (action.kind === 'noop' && !force.size) {
      // Killed after the last step but before the intent was cleared: nothing is left to do.
      this.state.clearIntent(d.id);
      for (const c of d.profile.components)
        this.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
      return true;
    }
    this.state.putIntent({
      deploymentId: d.id,
      name: d.name,
      action: action.kind,
      commit,
      startedAt: this.now().toISOString(),
    });
    try {
      // Profile type changed, or components dropped: remove what no longer belongs first.
      if (applied) {
        const keep = new Set(applied.profileType === d.profile.type ? fp.components.map((c) => c.name) : []);
        const gone = applied.components.filter((c) => !keep.has(c.fingerprint.name));
        for (const c of [...gone].reverse()) {
          const drv = this.drivers.find((x) => x.name === c.driver);
          if (drv)
            await drv.remove({
              record: c.record,
              removeVolumes: false,
              logger: log,
              timeoutSeconds: this.config.defaultTimeoutSeconds,
            });
          applied = { ...applied, components: applied.components.filter((x) => x !== c) };
          this.state.putApplied(applied);
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
          this.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
          continue;
        }
        const clog = log.child({ component: c.name });
        this.state.putIntent({
          deploymentId: d.id,
          name: d.name,
          action: action.kind,
          component: c.name,
          commit,
          startedAt: this.now().toISOString(),
        });
        this.setComponent(d.id, c.name, 'installing', {
          progress: force.has(c.name) ? 'repairing' : 'prepared',
        });
        try {
          const { values, registry } = valuesForComponent(d, c.name, this.o.unseal);
          const ctx = {
            deployment: d,
            component: c,
            values,
            ...(registry ? { registry } : {}),
            repoFiles: this.desiredFiles,
            workDir: join(this.config.stateDir, driver.name, d.id, c.name),
            timeoutSeconds: this.timeoutOf(d, c.name),
            ...(current ? { previous: current.record } : {}),
            logger: clog,
            progress: (p: Progress) => this.setComponent(d.id, c.name, 'installing', { progress: p }),
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
            appliedAt: this.now().toISOString(),
            commit,
          };
          this.state.putApplied(applied);
          this.setComponent(d.id, c.name, 'installed', { progress: 'deployed' });
          clog.info({ kind: action.kind }, 'component applied');
        } catch (e) {
          const err = toMargoError(e, driver.name === 'helm' ? 'AGENT_HELM_FAILED' : 'AGENT_COMPOSE_FAILED');
          clog.error({ err: errInfo(err) }, 'component failed');
          this.setComponent(d.id, c.name, 'failed', { error: { code: err.code, message: err.message } });
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
        this.state.putApplied(applied);
      }
      return true;
    } catch (e) {
      const err = toMargoError(e);
      log.error({ err: errInfo(err) }, 'deployment failed');
      this.failDeployment(d.id, d.name, commit, { code: err.code, message: err.message });
      return false;
    } finally {
      this.state.clearIntent(d.id);
    }
  }

  private async removeDeployment(
    action: PlannedAction,
    commit: string,
    log: Logger,
  ): Promise<'ok' | 'failed'> {
    const a = this.state.getApplied(action.deploymentId);
    if (!a) return 'ok';
    const t = this.track(
      a.id,
      a.name,
      a.components.map((c) => c.fingerprint.name),
      commit,
    );
    void t;
    this.state.putIntent({
      deploymentId: a.id,
      name: a.name,
      action: 'remove',
      commit,
      startedAt: this.now().toISOString(),
    });
    const removeVolumes = a.annotations[REMOVE_VOLUMES_ANNOTATION] === 'true';
    try {
      for (const c of [...a.components].reverse()) {
        this.setComponent(a.id, c.fingerprint.name, 'removing');
        const drv = this.drivers.find((x) => x.name === c.driver);
        if (!drv)
          throw new MargoError(
            'AGENT_PROFILE_UNSUPPORTED',
            `no ${c.driver} driver to remove ${c.fingerprint.name}`,
          );
        await drv.remove({
          record: c.record,
          removeVolumes,
          logger: log.child({ component: c.fingerprint.name }),
          timeoutSeconds: this.config.defaultTimeoutSeconds,
        });
        this.setComponent(a.id, c.fingerprint.name, 'removed');
      }
      this.state.deleteApplied(a.id);
      log.info('deployment removed');
      return 'ok';
    } catch (e) {
      const err = toMargoError(e);
      log.error({ err: errInfo(err) }, 'removal failed');
      const comp = a.components.find(
        (c) =>
          this.tracked.get(a.id)?.report.components.find((x) => x.name === c.fingerprint.name)?.state ===
          'removing',
      );
      if (comp)
        this.setComponent(a.id, comp.fingerprint.name, 'failed', {
          error: { code: err.code, message: err.message },
        });
      else this.failDeployment(a.id, a.name, commit, { code: err.code, message: err.message });
      return 'failed';
    } finally {
      this.state.clearIntent(a.id);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Drift

  /** Observes every applied component, one query per driver when the driver can (observeMany). */
  private async observeApplied(applied: AppliedDeployment[]): Promise<Map<AppliedComponent, Observation>> {
    const out = new Map<AppliedComponent, Observation>();
    for (const drv of this.drivers) {
      const comps = applied.flatMap((a) =>
        a.components.filter((c) => c.driver === drv.name).map((c) => ({ id: a.id, c })),
      );
      if (!comps.length) continue;
      if (drv.observeMany) {
        try {
          const obs = await drv.observeMany(
            comps.map((x) => x.c.record),
            this.logger,
          );
          comps.forEach((x, i) => out.set(x.c, obs[i]!));
        } catch (e) {
          this.logger.debug({ driver: drv.name, err: errInfo(e) }, 'observe failed');
        }
        continue;
      }
      for (const x of comps) {
        try {
          out.set(x.c, await drv.observe(x.c.record, this.logger));
        } catch (e) {
          this.logger.debug({ deploymentId: x.id, err: errInfo(e) }, 'observe failed');
        }
      }
    }
    return out;
  }

  private async checkDrift(result: PollResult): Promise<void> {
    const applied = this.state.listApplied().filter((a) => this.desiredCache.has(a.id));
    const observed = await this.observeApplied(applied);
    for (const a of applied) {
      const dd = this.desiredCache.get(a.id)!;
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
      const log = this.logger.child({
        deploymentId: a.id,
        deployment: a.name,
        commit: a.commit.slice(0, 12),
      });
      log.warn({ drift: details }, 'drift detected; repairing');
      const t =
        this.tracked.get(a.id) ??
        this.track(
          a.id,
          a.name,
          dd.model.profile.components.map((c) => c.name),
          a.commit,
        );
      t.lastRepair = { component: [...drifted].join(','), detail: details.join('; ') };
      const ok = await this.applyDeployment(
        dd,
        { kind: 'upgrade', deploymentId: a.id, name: a.name, waitFor: [] },
        a.commit,
        log,
        drifted,
      );
      result.repairs++;
      log.info({ ok }, ok ? 'drift repaired' : 'drift repair failed');
    }
  }
}

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

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return url;
  }
}
