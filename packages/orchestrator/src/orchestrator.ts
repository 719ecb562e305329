import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ensureDeviceRepo } from '@margo-gitops/git';
import { MargoError, toMargoError, type Fleet, type FleetParseCache } from '@margo-gitops/spec';
import type { Logger } from 'pino';
import {
  prepareReconcile,
  type Catalog,
  type DeploymentOutcome,
  type ReconcileContext,
} from './core/desired-state.js';
import { rollupFleetStatus, type FleetStatus } from './core/fleet-status.js';
import { readRef } from './io/git-objects.js';
import { runBounded } from './io/pool.js';
import { ReportBook } from './io/report-book.js';
import { syncDevice, type SyncPass } from './io/sync-device.js';
import { deviceViewOf } from './io/device-view.js';
import { CatalogReader, headOf, lastAuthorOf, readFleet } from './io/read-sources.js';
import { fleetContentKey } from './io/rollout-store.js';
import {
  loadDeviceStates,
  loadFleetSnapshot,
  loadRolloutMemory,
  saveDeviceStates,
  saveFleetSnapshot,
  saveRolloutMemory,
  type DeviceState,
} from './io/state-store.js';
import { RolloutWiring, type RolloutEnv, type RolloutView } from './rollouts.js';
import { guardTelemetry, noTelemetry, observePass, type OrchestratorTelemetry } from './telemetry.js';

export type {
  DesiredStateSigner,
  OrchestratorOptions,
  PushNotice,
  ReconcileSummary,
} from './orchestrator-types.js';
import type { OrchestratorOptions, PushNotice, ReconcileSummary } from './orchestrator-types.js';

const EMPTY_FLEET: Fleet = { devices: new Map(), deployments: new Map(), findings: [] };

/**
 * Turns the catalog and fleet repositories into every device's desired state: one commit per
 * device per pass, only when its files change. Passes are serialised; concurrent triggers
 * coalesce into one pending pass.
 *
 * @example
 * const o = new Orchestrator({ dataDir, logger, signer });
 * await o.start();                    // first pass + periodic timer
 * gitServer.onPush = (e) => o.notifyPush(e);
 * await o.reconcileNow('manual');
 * const status = await o.getFleetStatus();
 * await o.stop();
 */
export class Orchestrator {
  readonly reposRoot: string;
  private readonly opts: OrchestratorOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly resignBeforeExpiryMs: number;
  private states = new Map<string, DeviceState>();
  private readonly book: ReportBook;
  /** What the signer signs with in this pass (signerEpoch). */
  private epoch: string | undefined;
  /** When each device last fetched or pushed with its own token (ms, orchestrator clock). */
  private readonly seenAt = new Map<string, number>();
  private knownRepos = new Set<string>();
  private catalogReader = new CatalogReader();
  private fleetCache: FleetParseCache = new Map();
  private fleet: Fleet = EMPTY_FLEET;
  private catalog: Catalog = new Map();
  private fleetOid: string | null | undefined;
  private catalogOid: string | null | undefined;
  private ctx: ReconcileContext | undefined;
  private authorCache = new Map<string, Promise<{ name: string; email: string } | undefined>>();
  private chain: Promise<unknown> = Promise.resolve();
  private queuedFull: Promise<ReconcileSummary> | undefined;
  private queuedDevices: Promise<ReconcileSummary> | undefined;
  private pendingDevices = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;
  private dirty = false;
  private stopped = false;
  private lastReconcileAt: number | undefined;
  private readonly rollouts: RolloutWiring;
  /** Fingerprint of the fleet without `rollouts/` (rollout state commits do not make devices recompute). */
  private fleetKey = '-';
  private wakeTimer: NodeJS.Timeout | undefined;
  private started = false;
  private adoptBaseline = false;
  /** Guarded: a throwing callback is logged, never breaks a pass. */
  private readonly tel: OrchestratorTelemetry;
  /** Commits (device + fleet) of the running pass (passes are serialised). */
  private passCommits = 0;
  /** The most recent pass. */
  lastSummary: ReconcileSummary | undefined;

  constructor(opts: OrchestratorOptions) {
    this.opts = opts;
    this.reposRoot = opts.reposRoot ?? join(opts.dataDir, 'repos');
    this.log = opts.logger.child({ component: 'orchestrator' });
    this.now = opts.now ?? Date.now;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.resignBeforeExpiryMs = opts.resignBeforeExpiryMs ?? 2 * 24 * 3600 * 1000;
    this.tel = guardTelemetry(opts.telemetry ?? noTelemetry, (e) =>
      this.log.warn({ err: toMargoError(e, 'INTERNAL_ERROR').toJSON() }, 'a telemetry callback failed'),
    );
    this.book = new ReportBook(this.log, opts.statusVerifier, (id, seq) => {
      const st = this.states.get(id);
      if (st) {
        st.statusSeq = seq.toString();
        this.dirty = true;
      }
    });
    this.rollouts = new RolloutWiring(this.log.child({ component: 'rollout' }), {
      reposRoot: this.reposRoot,
      report: (id) => this.book.reports.get(id),
      seenAt: (id) => this.seenAt.get(id),
      committed: (commit) => {
        this.passCommits++;
        this.tel.committed({ repo: 'fleet', kind: 'rollout', commit });
      },
      stepped: (e) => this.tel.rolloutStep(e),
      now: () => this.now(),
    });
  }

  /** Loads saved state, runs a first pass and starts the periodic timer. */
  async start(): Promise<ReconcileSummary | undefined> {
    this.stopped = false;
    this.started = true;
    await this.load();
    const interval = this.opts.intervalMs ?? 60_000;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.reconcileNow('periodic').catch(() => undefined);
      }, interval);
      this.timer.unref();
    }
    try {
      return await this.reconcileNow('start');
    } catch {
      return undefined; // logged; retried by the timer
    }
  }

  /** Stops the timer and waits for the running pass to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    await this.chain.catch(() => undefined);
  }

  /**
   * Runs a full pass (every device). Triggers arriving while a pass waits to start share it;
   * triggers arriving while one runs queue exactly one more.
   */
  reconcileNow(reason = 'manual'): Promise<ReconcileSummary> {
    if (this.queuedFull) return this.queuedFull;
    const p = this.chain.then(() => {
      this.queuedFull = undefined;
      return this.runPass(reason, undefined);
    });
    this.queuedFull = p;
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Re-computes only the given device (e.g. its status branch changed). Coalesces like reconcileNow. */
  reconcileDevice(deviceId: string, reason = 'device status'): Promise<ReconcileSummary> {
    this.pendingDevices.add(deviceId);
    if (this.queuedDevices) return this.queuedDevices;
    const p = this.chain.then(() => {
      this.queuedDevices = undefined;
      const ids = [...this.pendingDevices];
      this.pendingDevices.clear();
      return this.runPass(reason, ids);
    });
    this.queuedDevices = p;
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Hook for the Git server's onDeviceSeen: the device just fetched or pushed with its own token.
   * Its status commits only come when something changes (no heartbeats), so this is what keeps an
   * idle device from being shown `unknown`; it is kept in memory, on the orchestrator's clock.
   * It is a fleet change only when the device was not seen within its report window before (its
   * freshness may flip): a device polling on time changes nothing a reader is told of (lastSeenAt
   * alone is no change), and every poll of a large fleet would otherwise recompute the roll-up.
   */
  notifyDeviceSeen(deviceId: string): void {
    const now = this.now();
    const before = this.seenAt.get(deviceId);
    this.seenAt.set(deviceId, now);
    const windowMs = (this.fleet.devices.get(deviceId)?.expectedReportSeconds ?? 0) * 1000;
    if (before === undefined || now - before > windowMs)
      this.tel.fleetChanged({ reason: 'seen', deviceIds: [deviceId] });
  }

  /** Hook for the Git server's onPush: catalog/fleet pushes run a full pass, status pushes that device. */
  notifyPush(e: PushNotice): void {
    if (this.stopped) return;
    const ref = e.ref.startsWith('refs/') ? e.ref : `refs/heads/${e.ref}`;
    const dev = e.deviceId ?? /^devices\/(.+)\.git$/.exec(e.repo)?.[1];
    let p: Promise<unknown> | undefined;
    if ((e.repo === 'catalog.git' || e.repo === 'fleet.git') && ref === 'refs/heads/main')
      p = this.reconcileNow(`push ${e.repo}`);
    else if (dev && ref === 'refs/heads/status') {
      this.tel.fleetChanged({ reason: 'seen', deviceIds: [dev] });
      p = this.reconcileDevice(dev, `status push ${dev}`);
    }
    p?.catch(() => undefined);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.states = await loadDeviceStates(this.opts.dataDir);
    for (const [id, st] of this.states)
      if (st.statusSeq && /^[0-9]{1,20}$/.test(st.statusSeq))
        this.book.statusSeq.set(id, BigInt(st.statusSeq));
    const memory = await loadRolloutMemory(this.opts.dataDir);
    this.rollouts.baseline = memory.baseline;
    // A data folder from before rollouts: what devices run now is the baseline (no deployment
    // present on devices is taken for a first installation and removed until its wave).
    this.adoptBaseline = !memory.found && this.states.size > 0;
    this.loaded = true;
  }

  /** One pass, reported to telemetry (start, end with what it wrote, fleetChanged when it wrote). */
  private runPass(reason: string, only: string[] | undefined): Promise<ReconcileSummary> {
    this.passCommits = 0;
    const info = { reason, ...(only?.length === 1 ? { deviceId: only[0]! } : {}) };
    return observePass(
      this.tel,
      info,
      () => this.passCommits,
      (written) => this.pass(reason, only, written),
    );
  }

  private async pass(
    reason: string,
    only: string[] | undefined,
    written: string[],
  ): Promise<ReconcileSummary> {
    const started = this.now();
    const t0 = performance.now();
    await this.load();
    const log = this.log.child({ reason });
    try {
      await this.refreshSources();
    } catch (e) {
      const err = toMargoError(e, 'ORCH_GIT_FAILED');
      log.error({ err: err.toJSON() }, 'reading the catalog or fleet repository failed');
      throw err;
    }
    if (this.opts.signerEpoch) {
      try {
        this.epoch = await this.opts.signerEpoch();
      } catch (e) {
        const err = toMargoError(e, 'ORCH_SIGNER_FAILED');
        log.error({ err: err.toJSON() }, 'reading the signing key failed');
        throw err;
      }
    }
    if (!this.knownRepos.size) {
      // One directory listing instead of a check per device.
      const names = await fs.readdir(join(this.reposRoot, 'devices')).catch(() => [] as string[]);
      for (const n of names) if (n.endsWith('.git')) this.knownRepos.add(n.slice(0, -4));
    }
    const fleetDir = join(this.reposRoot, 'fleet.git');
    if (
      this.adoptBaseline &&
      (await this.rollouts.updateBaseline(this.ctx!, fleetDir, this.fleetOid ?? null))
    )
      log.info('rollout baseline taken from the current fleet (data folder from before rollouts)');
    this.adoptBaseline = false;
    // Rollouts start (and are superseded) before any device renders the new intent.
    const begun = await this.decideRollouts(reason, false, log);
    const ctx = this.ctx!;
    const wanted = only ? [...only, ...begun] : [...this.fleet.devices.keys()];
    const ids = [...new Set(wanted)].filter((id) => this.fleet.devices.has(id)).sort();
    const summary: ReconcileSummary = {
      reason,
      fleetCommit: this.fleetOid ?? null,
      catalogCommit: this.catalogOid ?? null,
      devices: ids.length,
      committed: 0,
      unchanged: 0,
      failed: [],
      durationMs: 0,
    };
    await this.syncMany(ids, ctx, reason, summary, log, written);
    if (this.rollouts.hasActive()) {
      // Waves advance on what devices report now; the decision is committed before devices act.
      // A device-only pass refreshes its own devices (the others' status pushes run their own passes).
      const active = [...this.rollouts.activeDevices()];
      const synced = new Set(ids);
      await this.refreshReports(
        only ? active.filter((id) => synced.has(id) || !this.book.reports.has(id)) : active,
      );
      const moved = [...(await this.decideRollouts(reason, true, log))].filter((id) =>
        this.fleet.devices.has(id),
      );
      if (moved.length) await this.syncMany(moved.sort(), this.ctx!, reason, summary, log, written);
    }
    summary.fleetCommit = this.fleetOid ?? null;
    if (!only && (await this.rollouts.updateBaseline(this.ctx!, fleetDir, this.fleetOid ?? null))) {
      await saveRolloutMemory(this.opts.dataDir, {
        ...(this.fleetOid ? { fleetCommit: this.fleetOid } : {}),
        baseline: this.rollouts.baseline,
      }).catch((e: unknown) =>
        log.error({ err: toMargoError(e, 'IO_ERROR').toJSON() }, 'saving the rollout baseline failed'),
      );
    }
    this.armWake();
    if (this.dirty) {
      this.dirty = false;
      try {
        await saveDeviceStates(this.opts.dataDir, this.states);
      } catch (e) {
        log.error({ err: toMargoError(e, 'IO_ERROR').toJSON() }, 'saving orchestrator state failed');
      }
    }
    summary.durationMs = Math.round(performance.now() - t0);
    this.lastSummary = summary;
    this.lastReconcileAt = started;
    const level = summary.failed.length ? 'warn' : summary.committed ? 'info' : 'debug';
    log[level](
      {
        committed: summary.committed,
        unchanged: summary.unchanged,
        failed: summary.failed.length,
        devices: summary.devices,
        durationMs: summary.durationMs,
        fleetCommit: summary.fleetCommit,
        catalogCommit: summary.catalogCommit,
      },
      'reconcile pass done',
    );
    return summary;
  }

  /** Syncs devices (bounded), counting results into `summary` and recording failures. */
  private async syncMany(
    ids: string[],
    ctx: ReconcileContext,
    reason: string,
    summary: ReconcileSummary,
    log: Logger,
    written: string[],
  ): Promise<void> {
    const results = await runBounded(
      ids,
      this.concurrency,
      (id) => this.syncDevice(id, ctx, reason),
      (done, total) => this.opts.onProgress?.({ done, total, reason }),
    );
    results.forEach((r, i) => {
      const id = ids[i]!;
      if (r.ok) {
        if (r.value === 'committed') {
          summary.committed++;
          written.push(id);
        } else summary.unchanged++;
        return;
      }
      const err = toMargoError(r.error, 'ORCH_DEVICE_REPO_FAILED');
      const st = this.states.get(id);
      const attempts = (st?.error?.attempts ?? 0) + 1;
      this.states.set(id, {
        ...(st ?? emptyState()),
        inputKey: undefined,
        error: { code: err.code, message: err.message, at: this.now(), attempts },
      });
      this.dirty = true;
      summary.failed.push({ deviceId: id, code: err.code, message: err.message });
      log.warn(
        { deviceId: id, err: err.toJSON(), attempts },
        'device repository not updated; retried on the next pass',
      );
    });
  }

  private rolloutEnv(reason: string): RolloutEnv {
    const cap = this.opts.maxConcurrentChanges;
    return {
      fleetDir: join(this.reposRoot, 'fleet.git'),
      fleetOid: this.fleetOid ?? null,
      ctx: this.ctx!,
      fleet: this.fleet,
      catalog: this.catalog,
      catalogOid: this.catalogOid ?? null,
      yanked: this.catalogReader.yanked,
      now: this.now(),
      ...(cap !== undefined ? { cap } : {}),
      trigger: reason,
      who: this.opts.identity ?? { name: 'margo-orchestrator', email: 'orchestrator@margo-gitops.invalid' },
    };
  }

  /**
   * Starts/supersedes rollouts and, with `step`, takes their next step; commits each changed state
   * to fleet `main` and returns the devices whose side changed.
   */
  private async decideRollouts(reason: string, step: boolean, log: Logger): Promise<Set<string>> {
    const d = await this.rollouts.decide(this.rolloutEnv(reason), step, log, async () => {
      await this.refreshSources();
      return this.rolloutEnv(reason);
    });
    if (d.fleetOid !== this.fleetOid)
      this.tel.fleetChanged({ reason: 'rollout', deviceIds: [...d.moved].sort() });
    this.fleetOid = d.fleetOid;
    this.ctx!.rollouts = this.rollouts.renders;
    return d.moved;
  }

  /** Re-reads the status of the given devices where their `status` branch moved. */
  private async refreshReports(ids: Iterable<string>): Promise<void> {
    const read: string[] = [];
    await runBounded(
      [...ids].filter((id) => this.fleet.devices.has(id)),
      16,
      async (id) => {
        const gitdir = this.deviceDir(id);
        const oid = await readRef(gitdir, 'status');
        const cur = this.book.reports.get(id);
        if (!cur || cur.oid !== oid) {
          this.book.reports.set(id, await this.book.read(id, gitdir, oid));
          read.push(id);
        }
      },
    );
    if (read.length) this.tel.fleetChanged({ reason: 'status', deviceIds: read.sort() });
  }

  /** Wakes the orchestrator when time alone moves a rollout (a gate's health time, a window opening). */
  private armWake(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const at = this.rollouts.wakeAt();
    if (!this.started || this.stopped || at === undefined) return;
    const delay = Math.min(Math.max(0, at - this.now()) + 1000, 2 ** 31 - 1);
    this.wakeTimer = setTimeout(() => {
      this.reconcileNow('rollout timer').catch(() => undefined);
    }, delay);
    this.wakeTimer.unref();
  }

  /** Every rollout stored in the fleet repository, with its summary and what it waits for. */
  async rolloutViews(): Promise<RolloutView[]> {
    const fleetDir = join(this.reposRoot, 'fleet.git');
    return this.rollouts.views(fleetDir, await headOf(fleetDir));
  }

  /** One rollout (undefined when the fleet holds no state for it). */
  async rolloutView(name: string): Promise<RolloutView | undefined> {
    return (await this.rolloutViews()).find((v) => v.name === name);
  }

  /** Re-reads catalog and fleet when their heads moved. */
  private async refreshSources(): Promise<void> {
    const fleetDir = join(this.reposRoot, 'fleet.git');
    const catalogDir = join(this.reposRoot, 'catalog.git');
    const [fleetOid, catalogOid] = await Promise.all([headOf(fleetDir), headOf(catalogDir)]);
    let changed = !this.ctx;
    if (fleetOid !== this.fleetOid) {
      const snapshot =
        fleetOid && this.fleetOid === undefined
          ? await loadFleetSnapshot(this.opts.dataDir, fleetOid)
          : undefined;
      this.fleet =
        snapshot ?? (fleetOid ? await readFleet(fleetDir, fleetOid, this.fleetCache) : EMPTY_FLEET);
      if (fleetOid && !snapshot) {
        await saveFleetSnapshot(this.opts.dataDir, fleetOid, this.fleet).catch((e: unknown) =>
          this.log.warn({ err: toMargoError(e, 'IO_ERROR').toJSON() }, 'saving the parsed fleet failed'),
        );
      }
      this.fleetOid = fleetOid;
      this.fleetKey = fleetOid ? await fleetContentKey(fleetDir, fleetOid) : '-';
      this.authorCache.clear();
      for (const f of this.fleet.findings) this.log.warn({ finding: f }, 'fleet document problem');
      changed = true;
    }
    if (catalogOid !== this.catalogOid) {
      this.catalog = catalogOid ? await this.catalogReader.read(catalogDir, catalogOid) : new Map();
      this.catalogOid = catalogOid;
      changed = true;
    }
    const registryHost = this.registryHost();
    if (changed || registryHost !== this.ctx?.registryHost) {
      this.ctx = prepareReconcile(this.fleet, this.catalog, {
        ...(registryHost ? { registryHost } : {}),
        yanked: this.catalogReader.yanked,
        revisions: this.opts.maxConcurrentChanges !== undefined,
      });
      this.ctx.rollouts = this.rollouts.renders;
    }
  }

  /**
   * The options that shape rendered files, as part of every device's input key: a changed public
   * URL (registry host) or signer makes the next pass recompute every device.
   */
  private optionsKey(): string {
    return `${this.opts.signer ? `s${this.epoch ?? ''}` : 'u'}:${this.registryHost() ?? ''}`;
  }

  private registryHost(): string | undefined {
    const h = this.opts.registryHost;
    return (typeof h === 'function' ? h() : h) || undefined;
  }

  private deviceDir(id: string): string {
    return join(this.reposRoot, 'devices', `${id}.git`);
  }

  /** Syncs one device (io/sync-device.ts) and keeps its new record. */
  private async syncDevice(
    id: string,
    ctx: ReconcileContext,
    reason: string,
  ): Promise<'committed' | 'unchanged'> {
    if (!this.knownRepos.has(id)) {
      await ensureDeviceRepo(this.reposRoot, id);
      this.knownRepos.add(id);
    }
    const gitdir = this.deviceDir(id);
    const out = await syncDevice(this.syncPass(ctx, reason), {
      gitdir,
      device: ctx.fleet.devices.get(id)!,
      prev: this.states.get(id),
      keyOf: (statusOid) =>
        `${this.fleetKey}|${this.catalogOid ?? '-'}|${statusOid ?? '-'}|${this.optionsKey()}|${this.rollouts.deviceKey(id, ctx)}`,
      report: async (statusOid) => {
        let report = this.book.reports.get(id);
        if (!report || report.oid !== statusOid) {
          report = await this.book.read(id, gitdir, statusOid);
          this.book.reports.set(id, report);
          this.tel.fleetChanged({ reason: 'status', deviceIds: [id] });
        }
        return report;
      },
      onForeign: (f) => this.noteForeignMain(id, f),
      statusSeq: () => this.book.statusSeq.get(id),
    });
    if (out.state) {
      this.states.set(id, out.state);
      this.dirty = true;
    }
    if (out.result === 'committed') {
      this.passCommits++;
      this.tel.committed({ repo: 'device', kind: 'desired-state', deviceId: id, commit: out.commit });
      this.log.debug({ deviceId: id, commit: out.commit, ...out.changes }, 'device desired state committed');
    }
    return out.result;
  }

  private syncPass(ctx: ReconcileContext, reason: string): SyncPass {
    return {
      ctx,
      reason,
      fleetOid: this.fleetOid ?? null,
      catalogOid: this.catalogOid ?? null,
      epoch: this.epoch,
      now: this.now,
      resignBeforeExpiryMs: this.resignBeforeExpiryMs,
      intentAuthor: (name) => this.intentAuthor(name),
      ...(this.opts.signer ? { signer: this.opts.signer } : {}),
      ...(this.opts.auditor ? { auditor: this.opts.auditor } : {}),
      ...(this.opts.identity ? { identity: this.opts.identity } : {}),
    };
  }

  /** Logs a foreign `main` once per commit (the pass that replaces it, or the one that cannot). */
  private noteForeignMain(id: string, f: { commit: string | null; code: string; reason: string }): void {
    const prev = this.states.get(id)?.foreignMain;
    if (prev && prev.commit === f.commit) return;
    this.log.warn(
      { deviceId: id, commit: f.commit, code: f.code, reason: f.reason },
      'device main holds state the orchestrator did not sign; restoring its own',
    );
  }

  private intentAuthor(name: string): Promise<{ name: string; email: string } | undefined> {
    const key = `${this.fleetOid}:${name}`;
    let p = this.authorCache.get(key);
    if (!p) {
      p = lastAuthorOf(join(this.reposRoot, 'fleet.git'), this.fleetOid!, `deployments/${name}.yaml`).catch(
        () => undefined,
      );
      this.authorCache.set(key, p);
    }
    return p;
  }

  /** Outcomes of the last pass for one device (what it got and why). */
  deviceOutcomes(deviceId: string): DeploymentOutcome[] {
    return this.states.get(deviceId)?.outcomes ?? [];
  }

  /**
   * The fleet roll-up: every deployment with per-state counts, errors and per-device rows, read
   * fresh from every device's status branch.
   */
  async getFleetStatus(): Promise<FleetStatus> {
    await this.load();
    if (this.fleetOid === undefined) {
      try {
        await this.refreshSources();
      } catch {
        /* shown as empty */
      }
    }
    const ids = [...this.fleet.devices.keys()].sort();
    await this.refreshReports(ids);
    const devices = ids.map((id) =>
      deviceViewOf(
        this.fleet.devices.get(id)!,
        this.states.get(id),
        this.book.reports.get(id),
        this.seenAt.get(id),
      ),
    );
    return rollupFleetStatus({
      now: this.now(),
      fleetCommit: this.fleetOid ?? null,
      catalogCommit: this.catalogOid ?? null,
      ...(this.lastReconcileAt !== undefined ? { lastReconcileAt: this.lastReconcileAt } : {}),
      findings: this.fleet.findings,
      intents: [...this.fleet.deployments.values()].map((d) => ({
        name: d.name,
        applicationId: d.application.id,
      })),
      devices,
      rollouts: this.rollouts.rollup(),
    });
  }
}

function emptyState(): DeviceState {
  return { mainOid: null, statusOid: null, outcomes: [], changedAt: {} };
}
