import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { redactUrl, type GitStore } from '@margo-gitops/git';
import {
  buildDeviceHold,
  HOLD_FILE,
  MargoError,
  precompileSchema,
  toMargoError,
  type DeviceHold,
} from '@margo-gitops/spec';
import { Applier, type AcceptedDesired } from './apply/applier.js';
import { DriverSet } from './apply/driver-set.js';
import { repairDrift } from './apply/drift.js';
import { nextPollDelay, retryDelay } from './backoff.js';
import type { AgentConfig } from './config/agent-config.js';
import { activityAt, msUntilActive, parseWindow, type Schedule, type TimeWindow } from './config/windows.js';
import { AdoptedVersions } from './desired/adopted-versions.js';
import type { Driver } from './drivers/driver.js';
import { holdError, holdTransition, splitHeld } from './hold/held-plan.js';
import { HOLD_STATE_FILE, readHold } from './hold/hold-file.js';
import { createAgentLogger, errInfo } from './logger.js';
import type { PlannedAction } from './plan/plan-actions.js';
import { planDesired } from './plan/plan-desired.js';
import type { DesiredSource, StatusSink, VerifiedDesiredState, Verifier } from './source/desired-source.js';
import { createGitTransport } from './source/git-transport.js';
import { reportedStates, type AgentMetricsView } from './metrics/view.js';
import { StateStore } from './state/state-store.js';
import { DeploymentReports } from './status/reports.js';
import { reportCapabilities } from './status/report-capabilities.js';

export type { Verifier, VerifiedDesiredState } from './source/desired-source.js';

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
  /** Desired-state source and status sink (e.g. createRestTransport); default: Git (createGitTransport). */
  transport?: { source: DesiredSource; sink: StatusSink };
  now?: () => Date;
  random?: () => number;
  /** Told of every poll's result and duration (metrics/agent-metrics.ts); a throw is ignored. */
  onPoll?: (r: PollResult, durationMs: number) => void;
}

export interface PollResult {
  /** False when the server could not be reached (or the poll was skipped by a window). */
  ok: boolean;
  skipped?: 'downtime' | 'outside-polling-window';
  commit?: string | null;
  /** True when the desired state was (re)applied in this poll. */
  reconciled: boolean;
  actions: {
    kind: string;
    name: string;
    result: 'ok' | 'failed' | 'waiting' | 'held';
    /** How long the action took (not for held ones). */
    durationMs?: number;
    /** The error code of a failed action. */
    code?: string;
  }[];
  repairs: number;
  /** The on-site hold in force during this poll (nothing was changed). */
  hold?: DeviceHold;
  error?: { code: string; message: string };
  /** The server asked for this much quiet (Retry-After): the next poll waits at least this long. */
  retryAfterMs?: number;
}

/**
 * The device agent: polls its desired-state source, plans and applies the desired deployments
 * with the drivers, and reports DeploymentStatus and DeviceCapabilities through its status sink
 * (today both over the device repository: `main` and the `status` branch). This module is the loop
 * only: source/ is the transport, plan/ the planning, apply/ the drivers and status/ the reports.
 *
 * @example
 * const agent = new Agent({ config, logger });
 * await agent.start(); // runs until stop()
 */
export class Agent {
  readonly config: AgentConfig;
  readonly logger: Logger;
  private readonly drivers: DriverSet;
  private readonly state: StateStore;
  private readonly source: DesiredSource;
  private readonly sink: StatusSink;
  private readonly reports: DeploymentReports;
  private readonly applier: Applier;
  private readonly schedule: Schedule;
  private readonly now: () => Date;
  private readonly random: () => number;
  private initialised: Promise<void> | null = null;
  private running = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private polling: Promise<PollResult> | null = null;
  private pollCount = 0;
  private fetchFailures = 0;
  private applyFailures = 0;
  private retryAt = 0;
  private forceReconcile = true;
  /** The last accepted desired state (what drift is repaired towards). */
  private desired: AcceptedDesired = {
    deployments: new Map(),
    files: new Map(),
  };
  /** Expiry of the last accepted desired state (from the verifier); null when unknown or none. */
  private validUntil: Date | null = null;
  /** True once the expiry of `validUntil` was reported (reported once, not every poll). */
  private expiryReported = false;
  /** Accepted desired commit -> its signed manifest's version (status adoptedManifestVersion). */
  private readonly versions = new AdoptedVersions();
  /** The on-site hold seen at the last poll (`<state>/hold.json`). */
  private hold: DeviceHold | undefined;
  /** Wakes the loop when the hold file changes, so a release applies at once. */
  private holdWatch: FSWatcher | null = null;
  /** The hold file changed during a poll: the next sleep is skipped. */
  private holdChanged = false;
  private readonly onPoll: AgentOptions['onPoll'];

  constructor(o: AgentOptions) {
    this.config = o.config;
    this.logger = o.logger ?? createAgentLogger({ level: o.config.logLevel, deviceId: o.config.deviceId });
    this.now = o.now ?? (() => new Date());
    this.random = o.random ?? Math.random;
    this.onPoll = o.onPoll;
    mkdirSync(o.config.stateDir, { recursive: true });
    this.state = new StateStore(o.config.stateDir);
    this.drivers = new DriverSet(o.config, o.drivers);
    const win = (s: string) => parseWindow(s) as TimeWindow;
    this.schedule = {
      ...(o.config.pollingWindow ? { pollingWindow: win(o.config.pollingWindow) } : {}),
      downtimeWindows: o.config.downtimeWindows.map(win),
      timeBase: o.config.windowTimeBase,
    };
    const transport =
      o.transport ??
      createGitTransport({
        config: o.config,
        ...(o.gitStore ? { gitStore: o.gitStore } : {}),
        ...(o.verifier ? { verifier: o.verifier } : {}),
        ...(o.signStatus ? { signStatus: o.signStatus } : {}),
        logger: this.logger.child({ part: 'status' }),
        now: this.now,
      });
    this.source = transport.source;
    this.sink = transport.sink;
    this.reports = new DeploymentReports({
      sink: this.sink,
      deviceId: o.config.deviceId,
      versions: this.versions,
      logger: this.logger,
    });
    this.applier = new Applier({
      config: o.config,
      state: this.state,
      drivers: this.drivers,
      reports: this.reports,
      ...(o.unseal ? { unseal: o.unseal } : {}),
      now: this.now,
    });
  }

  private init(): Promise<void> {
    this.initialised ??= (async () => {
      await this.source.init();
      await this.sink.init();
      await this.drivers.init(this.logger);
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
      this.reports.restore();
    })();
    return this.initialised;
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
    this.watchHold();
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
    this.holdWatch?.close();
    this.holdWatch = null;
    this.wake?.();
    await this.loopDone;
    await this.polling;
    // What a pending push would have sent stays queued on disk for the next start.
    this.reports.cancelFlush();
    this.logger.info('agent stopped');
  }

  /** Time until the next poll (nextPollDelay). */
  private nextDelay(r: PollResult, elapsedMs: number): number {
    return nextPollDelay({
      intervalMs: this.config.pollIntervalSeconds * 1000,
      elapsedMs,
      outcome: r.skipped ? 'skipped' : r.ok ? 'ok' : 'failed',
      failures: this.fetchFailures,
      maxBackoffMs: this.config.maxBackoffSeconds * 1000,
      ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
      retryAt: this.retryAt,
      nowMs: this.now().getTime(),
      untilActiveMs: () => msUntilActive(this.now(), this.schedule),
      random: this.random,
    });
  }

  /**
   * `margo-agent hold|release` run in another process: a change of the hold file ends the sleep,
   * so a release is applied at once (the poll also reads the file, so without the watch, where a
   * file system does not support it, it takes one interval).
   */
  private watchHold(): void {
    try {
      this.holdWatch = watch(this.config.stateDir, { persistent: false }, (_event, file) => {
        if (file !== HOLD_STATE_FILE) return;
        if (this.wake) this.wake();
        else this.holdChanged = true;
      });
      this.holdWatch.on('error', () => {
        this.holdWatch?.close();
        this.holdWatch = null;
      });
    } catch {
      this.holdWatch = null;
    }
  }

  /**
   * Reads the on-site hold (every poll) and reports it (status `hold.json`, absent when not held).
   * A release makes this poll apply the desired state again, whatever its version.
   */
  private checkHold(): void {
    const now = readHold(this.config.stateDir);
    const change = holdTransition(this.hold, now);
    if (change === 'placed' || change === 'reworded')
      this.logger.warn(
        { reason: now!.reason, since: now!.since },
        'on-site hold: no change is applied until `margo-agent release`; workloads keep running',
      );
    else if (change === 'released') {
      this.logger.info({ reason: this.hold!.reason }, 'on-site hold released; applying the desired state');
      this.forceReconcile = true;
    }
    this.hold = now;
    this.sink.report(
      { [HOLD_FILE]: now ? buildDeviceHold(now) : null },
      now ? `on-site hold: ${now.reason}` : 'on-site hold released',
    );
  }

  private sleep(ms: number): Promise<void> {
    if (this.holdChanged) {
      this.holdChanged = false;
      return Promise.resolve();
    }
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
    const t0 = performance.now();
    const told = (r: PollResult) => {
      try {
        this.onPoll?.(r, performance.now() - t0);
      } catch {
        /* metrics never break a poll */
      }
    };
    this.polling = this.doPoll()
      .then(
        (r) => (told(r), r),
        (e: unknown) => {
          const err = toMargoError(e);
          told({
            ok: false,
            reconciled: false,
            actions: [],
            repairs: 0,
            error: { code: err.code, message: err.message },
          });
          throw e;
        },
      )
      .finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  /** What the metrics read at scrape time: the outbox, the reported deployment states, the hold. */
  metricsView(): AgentMetricsView {
    return {
      outboxDepth: this.sink.pendingChanges(),
      deploymentStates: reportedStates(this.sink),
      held: this.hold !== undefined,
    };
  }

  private async doPoll(): Promise<PollResult> {
    await this.init();
    const result: PollResult = { ok: true, reconciled: false, actions: [], repairs: 0 };
    const activity = activityAt(this.now(), this.schedule);
    if (!activity.active) {
      this.logger.debug({ reason: activity.reason, window: activity.window }, 'poll skipped');
      return { ...result, ok: false, skipped: activity.reason };
    }
    this.checkHold();
    if (this.hold) result.hold = this.hold;
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
      const wait = (err.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      return {
        ...result,
        ok: false,
        error: { code: err.code, message: err.message },
        ...(typeof wait === 'number' ? { retryAfterMs: wait * 1000 } : {}),
      };
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
      await reportCapabilities(this.config, this.drivers, this.sink, this.logger);
    if (this.sink.hasUnpushed()) await this.reports.flush();
    return result;
  }

  /** A poll that verifies no desired commit: freshness every time, drift every `driftCheckEvery` polls. */
  private async betweenChanges(result: PollResult): Promise<void> {
    this.checkFreshness();
    // A hold stops repairs too: the person at the device may have stopped something on purpose.
    if (
      !this.hold &&
      this.config.driftCheckEvery > 0 &&
      this.pollCount % this.config.driftCheckEvery === 0 &&
      this.desired.deployments.size
    )
      result.repairs += await repairDrift(
        {
          state: this.state,
          drivers: this.drivers,
          reports: this.reports,
          applier: this.applier,
          logger: this.logger,
        },
        this.desired,
      );
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
    this.reports.reportRefusal(
      { code: err.code, message: err.message },
      this.state.listApplied(),
      this.desired.deployments,
    );
    this.expiryReported = true;
  }

  /** Load, verify, plan and apply the desired state `commit` (a version of the source). */
  private async reconcile(commit: string, result: PollResult): Promise<void> {
    const log = this.logger.child({ commit: commit.slice(0, 12) });
    result.reconciled = true;
    this.retryAt = 0;
    if (this.drivers.hasErrors) await this.drivers.init(this.logger);
    const snapshot = await this.source.load(commit);
    // observed.json names every new desired commit, so a change that needs no work here (an
    // unchanged deployment restored after tampering, a re-signed manifest) still gets a status
    // commit after it. Queued with the first reports of this commit: it costs no commit of its own.
    this.sink.observe(commit);

    let verified: VerifiedDesiredState | undefined;
    try {
      verified = await snapshot.verify();
    } catch (e) {
      const err = toMargoError(e, 'AGENT_VERIFICATION_FAILED');
      log.error(
        { err: errInfo(err) },
        'desired state refused by verification; last good state keeps running',
      );
      this.reports.reportRefusal(
        { code: err.code, message: err.message },
        this.state.listApplied(),
        this.desired.deployments,
      );
      this.state.putMarker({ lastReconciledCommit: commit });
      await this.source.settled?.(commit);
      return;
    }
    this.validUntil = verified?.expiresAt ?? null;
    if (verified?.manifestVersion) this.versions.remember(commit, verified.manifestVersion);
    this.expiryReported = false;

    const planned = planDesired(
      snapshot.files,
      this.state.listApplied(),
      (type) => Boolean(this.drivers.forType(type)),
      this.applier.fingerprintExtra,
    );
    for (const f of planned.failures) {
      if (f.file) log.error({ file: f.file, deploymentId: f.id, code: f.error.code }, f.error.message);
      if (!f.id) continue;
      if (f.components) this.reports.track(f.id, f.name, f.components, commit);
      this.reports.failDeployment(f.id, f.name, commit, f.error);
    }
    this.desired = { deployments: planned.deployments, files: snapshot.files };
    const plan = planned.plan;
    log.info(
      {
        actions: plan.actions.filter((a) => a.kind !== 'noop').map((a) => `${a.kind}:${a.name}`),
        rejected: planned.rejected.length,
      },
      'plan',
    );

    const { run, held } = splitHeld(plan, this.hold);
    if (held.length) this.reportHeld(held, commit, log, result);
    const retryable = await this.applier.run(run, this.desired, commit, log, {
      stopping: () => !this.running && this.loopDone !== null,
      outcomes: result.actions,
    });
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

  /** Changes held on site: reported `pending` with AGENT_ON_SITE_HOLD; applied after the release. */
  private reportHeld(held: PlannedAction[], commit: string, log: Logger, result: PollResult): void {
    const hold = this.hold!;
    for (const a of held) {
      const d = this.desired.deployments.get(a.deploymentId);
      const comps = d
        ? d.model.profile.components.map((c) => c.name)
        : (this.state.getApplied(a.deploymentId)?.components.map((c) => c.fingerprint.name) ?? []);
      this.reports.held(a.deploymentId, a.name, comps, commit, holdError(hold, a.kind));
      result.actions.push({ kind: a.kind, name: a.name, result: 'held' });
    }
    log.warn(
      { held: held.map((a) => `${a.kind}:${a.name}`), reason: hold.reason },
      'changes held on site; workloads keep running as they are',
    );
  }
}
