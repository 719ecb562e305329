/**
 * The orchestrator's rollout wiring (docs/rollout.md): reads the rollout states from the fleet
 * repository, starts and steps rollouts (pure logic in rollout/), commits each changed state to
 * fleet `main` before any device acts on it, and tells the orchestrator how each device renders a
 * deployment in a rollout (RolloutRender).
 */
import { join } from 'node:path';
import { MargoError, parseFleet, toMargoError, type Fleet } from '@margo-gitops/spec';
import type { Logger } from 'pino';
import {
  resolveIntent,
  rolloutSide,
  type Catalog,
  type ReconcileContext,
  type ResolvedIntent,
  type RolloutRender,
} from './core/desired-state.js';
import type { RolloutRollupInput } from './core/fleet-status.js';
import type { DeviceReport } from './io/device-repo.js';
import { listDirCli, readObjectsCli, readRef, type Signature } from './io/git-objects.js';
import { observeDevice, RevisionReader } from './io/rollout-observe.js';
import { commitRollout, readRollouts, type StoredRollout } from './io/rollout-store.js';
import { rolloutCommitMessage, type RolloutCommitWhat } from './rollout/commit-message.js';
import {
  beginRollouts,
  earliestWake,
  IMPLICIT_ROLLOUT,
  isActive,
  stepRollouts,
  type Baseline,
  type GovernedDeployment,
} from './rollout/controller.js';
import { revisionOf } from './rollout/revision.js';
import { formatRolloutState } from './rollout/state-file.js';
import type { RolloutState } from './rollout/state.js';
import type { RolloutObservation, StepResult } from './rollout/step.js';
import { summariseRollout, type RolloutSummary } from './rollout/summary.js';
import type { RolloutStepEvent } from './telemetry.js';

/** One rollout as `margo rollout status` and the status API show it. */
export interface RolloutView {
  name: string;
  state: RolloutState;
  /** The fleet commit the state was read at. */
  commit: string | null;
  summary: RolloutSummary;
  waiting: StepResult['waiting'];
  gate?: StepResult['gate'];
  wakeAt?: number;
}

/** What the orchestrator lends the rollout wiring for one decision. */
export interface RolloutEnv {
  fleetDir: string;
  /** Fleet `main` as the orchestrator last read it. */
  fleetOid: string | null;
  ctx: ReconcileContext;
  fleet: Fleet;
  catalog: Catalog;
  catalogOid: string | null;
  yanked?: ReadonlyMap<string, ReadonlySet<string>>;
  now: number;
  cap?: number;
  trigger: string;
  who: { name: string; email: string };
}

export interface DecideResult {
  /** Fleet `main` after the state commits (unchanged when nothing was committed). */
  fleetOid: string | null;
  /** Devices whose side of some rollout changed: they need a new desired state. */
  moved: Set<string>;
  /** Rollouts that started in this decision. */
  started: string[];
}

export class RolloutWiring {
  /** States read from the fleet at `storedAt`. */
  private stored = new Map<string, StoredRollout>();
  private storedAt: string | null | undefined;
  /** Parsed states by blob id, kept to those at the last head read (readRollouts). */
  private readonly blobCache = new Map<string, StoredRollout>();
  private fromCache = new Map<string, ResolvedIntent>();
  private deploymentBlobs: { at: string | null; blobs: Map<string, string> } = { at: null, blobs: new Map() };
  /** How each deployment in a rollout renders now (ctx.rollouts). */
  renders = new Map<string, RolloutRender>();
  /** The last step of each rollout (for status). */
  readonly lastSteps = new Map<string, StepResult>();
  readonly revisions = new RevisionReader();
  /** What each deployment ran at the last reconciled fleet commit (persisted by the orchestrator). */
  baseline = new Map<string, Baseline>();

  constructor(
    private readonly log: Logger,
    private readonly host: {
      reposRoot: string;
      report: (id: string) => DeviceReport | undefined;
      seenAt: (id: string) => number | undefined;
      /** Each fleet commit of a rollout state, as it is made. */
      committed?: (commit: string) => void;
      /** Each step taken (after its state is committed). */
      stepped?: (e: RolloutStepEvent) => void;
      now?: () => number;
    },
  ) {}

  /** Reads the states at fleet `head` (cached per head). */
  async readStored(fleetDir: string, head: string | null): Promise<Map<string, StoredRollout>> {
    if (head === this.storedAt) return this.stored;
    if (!head) this.stored = new Map();
    else {
      const r = await readRollouts(fleetDir, head, this.blobCache);
      for (const p of r.problems)
        this.log.error(p, 'rollout state file unreadable; its last readable state is kept');
      // An unreadable file (written around the push checks) keeps the last readable state.
      for (const p of r.problems) {
        const name = /^rollouts\/(.+)\.json$/.exec(p.file)?.[1];
        const prev = name ? this.stored.get(name) : undefined;
        if (name && prev) r.rollouts.set(name, prev);
      }
      this.stored = r.rollouts;
    }
    this.storedAt = head;
    return this.stored;
  }

  /** Blob ids of `deployments/<name>.yaml` at `head`. */
  private async blobsAt(fleetDir: string, head: string | null): Promise<Map<string, string>> {
    if (head === this.deploymentBlobs.at) return this.deploymentBlobs.blobs;
    const blobs = new Map<string, string>();
    if (head)
      for (const [file, blob] of await listDirCli(fleetDir, head, 'deployments')) {
        const m = /^(.+)\.ya?ml$/.exec(file);
        if (m) blobs.set(m[1]!, blob);
      }
    this.deploymentBlobs = { at: head, blobs };
    return blobs;
  }

  /** Deployments whose changes go through a rollout: those with `rollout:`, and every one under a cap. */
  private async governed(env: RolloutEnv): Promise<GovernedDeployment[]> {
    const blobs = await this.blobsAt(env.fleetDir, env.fleetOid);
    const out: GovernedDeployment[] = [];
    for (const r of env.ctx.intents) {
      const spec = r.intent.rollout ?? (env.cap !== undefined ? IMPLICIT_ROLLOUT : undefined);
      if (!spec || r.error || r.version === undefined || r.revision === undefined) continue;
      const blob = blobs.get(r.intent.name);
      out.push({
        name: r.intent.name,
        revision: r.revision,
        version: r.version,
        ...(blob ? { blob } : {}),
        targets: r.targets.map((id) => ({ deviceId: id, labels: env.fleet.devices.get(id)?.labels ?? {} })),
        spec,
      });
    }
    return out;
  }

  /**
   * Starts, supersedes and (with `step`) steps the rollouts, commits every changed state (one
   * commit each, compare-and-swap on fleet `main`; a lost race re-reads and decides again), then
   * updates `renders`. Throws ORCH_REF_CONFLICT when the race is lost three times.
   */
  async decide(
    env: RolloutEnv,
    step: boolean,
    log: Logger,
    reread: () => Promise<RolloutEnv>,
  ): Promise<DecideResult> {
    try {
      return await this.decideOnce(env, step, reread);
    } catch (e) {
      const err = toMargoError(e, 'ORCH_GIT_FAILED');
      log.error({ err: err.toJSON() }, 'committing a rollout state to the fleet repository failed');
      throw err;
    }
  }

  private async decideOnce(
    env: RolloutEnv,
    step: boolean,
    reread: () => Promise<RolloutEnv>,
  ): Promise<DecideResult> {
    let e = env;
    for (let attempt = 0; ; attempt++) {
      const head = await readRef(e.fleetDir, 'main');
      if (head !== e.fleetOid) e = await reread();
      const stored = await this.readStored(e.fleetDir, e.fleetOid);
      const storedStates = new Map([...stored].map(([n, s]) => [n, s.state]));
      const begun = beginRollouts({
        deployments: await this.governed(e),
        stored: storedStates,
        baseline: this.baseline,
        now: e.now,
      });
      const commits: { name: string; what: RolloutCommitWhat }[] = [];
      for (const s of begun.started) commits.push({ name: s.name, what: { kind: 'start', ...s } });
      for (const n of begun.changed)
        if (!begun.started.some((s) => s.name === n))
          commits.push({ name: n, what: { kind: 'retarget', state: begun.states.get(n)! } });
      let steps: Map<string, StepResult> | undefined;
      const stepStart = this.host.now?.() ?? Date.now();
      if (step) {
        const obs = await this.observations(begun.states, e);
        steps = RolloutWiring.step(begun.states, obs, e.fleet, e.now, e.cap);
        for (const [n, r] of steps) {
          const i = commits.findIndex((c) => c.name === n);
          const what: RolloutCommitWhat = { kind: 'step', state: r.state, step: r };
          if (i >= 0) commits.push({ name: n, what });
          else if (formatRolloutState(r.state) !== stored.get(n)?.text) commits.push({ name: n, what });
          begun.states.set(n, r.state);
        }
      }
      try {
        let parent = e.fleetOid;
        const stepCommits = new Map<string, string>();
        for (const c of commits) {
          if (!parent) throw new MargoError('ORCH_GIT_FAILED', 'the fleet repository has no main branch');
          parent = await commitRollout({
            gitdir: e.fleetDir,
            parent,
            name: c.name,
            text: formatRolloutState(c.what.state),
            message: rolloutCommitMessage(c.what, e.trigger),
            author: this.sig(e),
            committer: this.sig(e),
          });
          this.logCommit(c.name, c.what, parent);
          this.host.committed?.(parent);
          if (c.what.kind === 'step') stepCommits.set(c.name, parent);
        }
        if (commits.length) {
          // Our own commits change only rollouts/: the parsed fleet stays valid.
          this.storedAt = undefined;
          await this.readStored(e.fleetDir, parent);
        }
        const before = this.renders;
        this.renders = await this.rendersFor(begun.states, e);
        if (steps) {
          this.lastSteps.clear();
          const endedAt = this.host.now?.() ?? Date.now();
          for (const [n, r] of steps) {
            this.lastSteps.set(n, r);
            const commit = stepCommits.get(n);
            this.host.stepped?.({
              name: n,
              phase: r.state.phase,
              events: r.events.map((ev) => ev.message),
              ...(commit ? { commit } : {}),
              startedAt: stepStart,
              endedAt,
            });
          }
        }
        return {
          fleetOid: parent,
          moved: movedDevices(before, this.renders),
          started: begun.started.map((s) => s.name),
        };
      } catch (err) {
        const m = toMargoError(err, 'ORCH_GIT_FAILED');
        if (m.code !== 'ORCH_REF_CONFLICT' || attempt >= 2) throw m;
        this.log.info(
          { err: m.toJSON() },
          'fleet main moved while committing a rollout state; deciding again',
        );
        this.storedAt = undefined;
        e = await reread();
      }
    }
  }

  private sig(e: RolloutEnv): Signature {
    return { ...e.who, timestamp: Math.floor(e.now / 1000) };
  }

  private logCommit(name: string, what: RolloutCommitWhat, commit: string): void {
    const s = what.state;
    const base = { rollout: name, phase: s.phase, commit, from: s.from, to: s.to };
    if (what.kind === 'step') {
      for (const ev of what.step.events)
        this.log.info({ ...base, event: ev }, `rollout ${name}: ${ev.message}`);
      if (what.step.change.length || what.step.revert.length)
        this.log.info(
          { ...base, change: what.step.change, revert: what.step.revert },
          `rollout ${name}: devices told`,
        );
    } else
      this.log.info(
        { ...base, kind: what.kind },
        `rollout ${name}: ${what.kind === 'start' ? 'started' : 'targets changed'}`,
      );
  }

  /** The render of each state at its deployment's current revision: `from` re-read at fromBlob, pinned to fromVersion. */
  private async rendersFor(
    states: Map<string, RolloutState>,
    e: RolloutEnv,
  ): Promise<Map<string, RolloutRender>> {
    const out = new Map<string, RolloutRender>();
    for (const [name, state] of states) {
      const from = state.from === undefined ? undefined : await this.fromIntent(name, state, e);
      out.set(name, { state, ...(from ? { from } : {}) });
    }
    return out;
  }

  private async fromIntent(name: string, state: RolloutState, e: RolloutEnv): Promise<ResolvedIntent> {
    const key = `${name}\0${state.from}\0${state.fromBlob}\0${state.fromVersion}\0${e.catalogOid}\0${e.cap}`;
    const hit = this.fromCache.get(key);
    if (hit) return hit;
    const failed = (reason: string): ResolvedIntent => ({
      intent: e.ctx.fleet.deployments.get(name)!,
      error: { code: 'ROLLOUT_STATE_INVALID', reason: `rollout ${name}: ${reason}` },
    });
    let r: ResolvedIntent;
    if (!state.fromBlob || !state.fromVersion)
      r = failed('the state names no fromBlob/fromVersion to render the previous revision from');
    else {
      const obj = (await readObjectsCli(e.fleetDir, [state.fromBlob])).get(state.fromBlob);
      const parsed = obj
        ? parseFleet(new Map([[`deployments/${name}.yaml`, obj.content]])).deployments.get(name)
        : undefined;
      if (!parsed) r = failed(`the previous intent (blob ${state.fromBlob}) cannot be read`);
      else {
        const pinned = { ...parsed, application: { ...parsed.application, version: state.fromVersion } };
        r = resolveIntent(pinned, e.catalog, e.yanked ? { yanked: e.yanked } : {});
        // Annotated only when it was rendered so: the bytes of a deployment that had no rollout
        // (and no cap) stay as devices have them, so devices not yet told get no commit.
        if (parsed.rollout || e.cap !== undefined) r.revision = state.from!;
        else delete r.revision;
      }
    }
    this.fromCache.set(key, r);
    if (this.fromCache.size > 1000) this.fromCache.delete(this.fromCache.keys().next().value!);
    return r;
  }

  /** Observations of every device of every active rollout, from the reports the orchestrator holds. */
  private async observations(
    states: Map<string, RolloutState>,
    env: { fleet: Fleet; now: number },
  ): Promise<Map<string, Record<string, RolloutObservation>>> {
    const out = new Map<string, Record<string, RolloutObservation>>();
    for (const [name, s] of states) {
      if (!isActive(s)) continue;
      const obs: Record<string, RolloutObservation> = {};
      for (const id of Object.keys(s.devices))
        obs[id] = await observeDevice({
          name,
          device: env.fleet.devices.get(id),
          report: this.host.report(id),
          seenAt: this.host.seenAt(id),
          now: env.now,
          gitdir: join(this.host.reposRoot, 'devices', `${id}.git`),
          revisions: this.revisions,
          ...(s.from !== undefined && this.renders.get(name)?.from?.revision === undefined
            ? { unannotated: s.from }
            : {}),
        });
      out.set(name, obs);
    }
    return out;
  }

  /** Steps the given states with the fleet-wide cap. */
  static step(
    states: Map<string, RolloutState>,
    observations: Map<string, Record<string, RolloutObservation>>,
    fleet: Fleet,
    now: number,
    cap: number | undefined,
  ): Map<string, StepResult> {
    const labels: Record<string, Readonly<Record<string, string>>> = {};
    for (const [id, d] of fleet.devices) labels[id] = d.labels;
    return stepRollouts({
      states,
      observations,
      now,
      ...(cap !== undefined ? { cap } : {}),
      windows: [...(fleet.windows?.values() ?? [])],
      labels,
    });
  }

  /** The rollouts for the fleet roll-up: states at the current revisions, with who waits. */
  rollup(): Map<string, RolloutRollupInput> {
    const out = new Map<string, RolloutRollupInput>();
    for (const [name, r] of this.renders) {
      const last = this.lastSteps.get(name);
      out.set(name, { state: r.state, ...(last ? { waiting: last.waiting } : {}) });
    }
    return out;
  }

  /** Earliest instant a rollout can move on time alone. */
  wakeAt(): number | undefined {
    return earliestWake(this.lastSteps.values());
  }

  /** Whether any rollout still decides anything. */
  hasActive(): boolean {
    for (const r of this.renders.values()) if (isActive(r.state)) return true;
    return false;
  }

  /** Device ids of every active rollout. */
  activeDevices(): Set<string> {
    const ids = new Set<string>();
    for (const r of this.renders.values())
      if (isActive(r.state)) for (const id of Object.keys(r.state.devices)) ids.add(id);
    return ids;
  }

  /** The part of a device's input key that rollouts decide: its side of each rollout it is in. */
  deviceKey(id: string, ctx: ReconcileContext): string {
    const parts: string[] = [];
    for (const r of ctx.byDevice.get(id) ?? []) {
      const ro = this.renders.get(r.intent.name);
      if (ro) parts.push(`${r.intent.name}:${sideKey(ro, id)}`);
    }
    return parts.join(',');
  }

  /** Records what every deployment runs now (the baseline of a later first rollout); true when it changed. */
  async updateBaseline(ctx: ReconcileContext, fleetDir: string, fleetOid: string | null): Promise<boolean> {
    let changed = false;
    const blobs = await this.blobsAt(fleetDir, fleetOid);
    for (const r of ctx.intents) {
      if (r.error || r.version === undefined) continue;
      const ro = this.renders.get(r.intent.name);
      if (ro && ro.state.phase !== 'done') continue; // a rollout decides what it runs
      const b: Baseline = { revision: r.revision ?? revisionOf(r.intent, r.version), version: r.version };
      const blob = blobs.get(r.intent.name);
      if (blob) b.blob = blob;
      const prev = this.baseline.get(r.intent.name);
      if (prev && prev.revision === b.revision && prev.blob === b.blob && prev.version === b.version)
        continue;
      this.baseline.set(r.intent.name, b);
      changed = true;
    }
    return changed;
  }

  /** Views of every rollout stored in the fleet at `head`. */
  async views(fleetDir: string, head: string | null): Promise<RolloutView[]> {
    const stored = await this.readStored(fleetDir, head);
    return [...stored.keys()].sort().map((name) => {
      const s = stored.get(name)!.state;
      const last = this.lastSteps.get(name);
      const fresh = last && formatRolloutState(last.state) === stored.get(name)!.text ? last : undefined;
      return {
        name,
        state: s,
        commit: head,
        summary: summariseRollout(s, fresh),
        waiting: fresh?.waiting ?? [],
        ...(fresh?.gate ? { gate: fresh.gate } : {}),
        ...(fresh?.wakeAt !== undefined ? { wakeAt: fresh.wakeAt } : {}),
      };
    });
  }
}

/** Devices whose side of some rollout differs between two sets of renders. */
function movedDevices(before: Map<string, RolloutRender>, after: Map<string, RolloutRender>): Set<string> {
  const moved = new Set<string>();
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(name);
    const b = after.get(name);
    const ids = new Set([...Object.keys(a?.state.devices ?? {}), ...Object.keys(b?.state.devices ?? {})]);
    for (const id of ids) if ((a ? sideKey(a, id) : 'none') !== (b ? sideKey(b, id) : 'none')) moved.add(id);
  }
  return moved;
}

/** A device's side of a rollout with the revision it renders there (`to:<rev>`, `from:<rev or ->`). */
function sideKey(ro: RolloutRender, id: string): string {
  const side = rolloutSide(ro, id);
  return `${side}:${side === 'to' ? ro.state.to : (ro.state.from ?? '-')}`;
}
