/**
 * The per-pass rollout decisions of the orchestrator (pure): which rollouts start or are
 * superseded by the fleet as it is now, and the next step of every active one under the
 * fleet-wide cap. The orchestrator persists what changes here before it acts (docs/rollout.md).
 */
import type { MaintenanceWindow, RolloutSpec } from '@margo-gitops/spec';
import type { RolloutTarget } from './plan.js';
import { createRollout, retarget, type RolloutState } from './state.js';
import { nextStep, type RolloutObservation, type StepResult } from './step.js';

/** A deployment whose changes go through a rollout, as the fleet and catalog resolve it now. */
export interface GovernedDeployment {
  name: string;
  revision: string;
  version: string;
  /** Fleet blob of its `deployments/<name>.yaml`. */
  blob?: string;
  /** Its targets with their fleet labels (selector waves plan on them). */
  targets: readonly RolloutTarget[];
  spec: RolloutSpec;
}

/** What a deployment ran at the fleet commit the orchestrator last reconciled. */
export interface Baseline {
  revision: string;
  version: string;
  blob?: string;
}

/**
 * The rollout every change of a deployment WITHOUT `rollout:` goes through when a fleet-wide cap
 * is set: one wave of every target, no gate, and no threshold short of every device.
 */
export const IMPLICIT_ROLLOUT: RolloutSpec = {
  waves: [{ name: 'wave-1', percent: 100, gate: { healthySeconds: 0, manual: false } }],
  failureThreshold: { percent: 100 },
  onFailure: 'pause',
};

export interface BeginResult {
  /** The state of every governed deployment with a rollout at its current revision. */
  states: Map<string, RolloutState>;
  /** Names whose state differs from the stored one (new, superseded or retargeted). */
  changed: Set<string>;
  /** New rollouts, with the one they superseded. */
  started: { name: string; state: RolloutState; superseded?: RolloutState; notTargeted: string[] }[];
}

/**
 * Starts a rollout for every governed deployment whose revision differs from its stored state's
 * `to` (or that has none): `from` is the previous `to` when that rollout was done, else the
 * previous `from` (a superseded or rolled-back rollout goes back first); without a stored state
 * it is what the deployment ran at the last reconciled fleet commit (`baseline`), or nothing (a
 * first installation). A deployment already at the revision it would start from needs no rollout.
 * Rollouts at the current revision follow target changes (retarget).
 */
export function beginRollouts(input: {
  deployments: readonly GovernedDeployment[];
  stored: ReadonlyMap<string, RolloutState>;
  baseline: ReadonlyMap<string, Baseline>;
  now: number;
}): BeginResult {
  const out: BeginResult = { states: new Map(), changed: new Set(), started: [] };
  for (const d of input.deployments) {
    const prev = input.stored.get(d.name);
    if (prev && prev.to === d.revision) {
      const next = retarget(
        prev,
        d.targets.map((t) => t.deviceId),
        input.now,
      );
      out.states.set(d.name, next);
      if (next !== prev) out.changed.add(d.name);
      continue;
    }
    let from: { revision?: string; blob?: string; version?: string };
    if (prev)
      from =
        prev.phase === 'done'
          ? { revision: prev.to, blob: prev.toBlob, version: prev.toVersion }
          : { revision: prev.from, blob: prev.fromBlob, version: prev.fromVersion };
    else {
      const b = input.baseline.get(d.name);
      from = b ? { revision: b.revision, blob: b.blob, version: b.version } : {};
    }
    if (from.revision === d.revision) continue; // already there: nothing to roll out
    const { state, notTargeted } = createRollout({
      deployment: d.name,
      ...(from.revision !== undefined ? { from: from.revision } : {}),
      to: d.revision,
      spec: d.spec,
      targets: d.targets,
      now: input.now,
    });
    if (from.revision !== undefined) {
      if (from.blob !== undefined) state.fromBlob = from.blob;
      if (from.version !== undefined) state.fromVersion = from.version;
    }
    if (d.blob !== undefined) state.toBlob = d.blob;
    state.toVersion = d.version;
    out.states.set(d.name, state);
    out.changed.add(d.name);
    out.started.push({ name: d.name, state, ...(prev ? { superseded: prev } : {}), notTargeted });
  }
  return out;
}

const ACTIVE = new Set(['progressing', 'paused', 'rollingBack']);

/** Whether a rollout still decides anything (not done nor rolled back). */
export function isActive(state: RolloutState): boolean {
  return ACTIVE.has(state.phase);
}

/** Devices changing or reverting in a rollout. */
export function inFlight(state: RolloutState): number {
  let n = 0;
  for (const d of Object.values(state.devices)) if (d.status === 'changing' || d.status === 'reverting') n++;
  return n;
}

/**
 * The next step of every active rollout. With a fleet-wide `cap`, each rollout may tell at most
 * the cap minus the devices in flight in every rollout (after this pass's observations, so a
 * device that finished frees its slot at once); rollouts are served in name order.
 */
export function stepRollouts(input: {
  states: ReadonlyMap<string, RolloutState>;
  observations: ReadonlyMap<string, Readonly<Record<string, RolloutObservation>>>;
  now: number;
  cap?: number;
  windows?: readonly MaintenanceWindow[];
  labels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}): Map<string, StepResult> {
  const names = [...input.states.keys()].filter((n) => isActive(input.states.get(n)!)).sort();
  const ctx = {
    ...(input.windows ? { windows: input.windows } : {}),
    ...(input.labels ? { labels: input.labels } : {}),
  };
  // First every rollout observes (with no budget: nothing new is told), then the cap is shared.
  const first = new Map<string, StepResult>();
  for (const n of names)
    first.set(
      n,
      nextStep(input.states.get(n)!, input.observations.get(n) ?? {}, input.now, { ...ctx, budget: 0 }),
    );
  const flying = new Map<string, number>();
  for (const [n, r] of first) flying.set(n, inFlight(r.state));
  for (const s of input.states.values()) if (!isActive(s)) flying.set(s.deployment, 0);
  const total = () => [...flying.values()].reduce((a, b) => a + b, 0);
  const out = new Map<string, StepResult>();
  for (const n of names) {
    const a = first.get(n)!;
    const budget = input.cap === undefined ? Infinity : Math.max(0, input.cap - total());
    const b = nextStep(a.state, input.observations.get(n) ?? {}, input.now, { ...ctx, budget });
    flying.set(n, inFlight(b.state));
    const r: StepResult = {
      ...b,
      change: [...a.change, ...b.change],
      revert: [...a.revert, ...b.revert],
      events: [...a.events, ...b.events],
    };
    out.set(n, r);
  }
  return out;
}

/** The earliest `wakeAt` of the step results (undefined when time alone changes nothing). */
export function earliestWake(results: Iterable<StepResult>): number | undefined {
  let at: number | undefined;
  for (const r of results) if (r.wakeAt !== undefined) at = Math.min(at ?? Infinity, r.wakeAt);
  return at;
}
