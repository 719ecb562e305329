/**
 * One decision of a rollout: from its state, what the devices report and the time, which devices
 * may be told to change now (docs/rollout.md). Pure and deterministic; the clock is an argument.
 *
 * The wiring persists the returned state BEFORE it acts on `change` / `revert`, and derives each
 * device's desired revision from the state (sideOf), so a restart at any point re-derives the same
 * desired states and never tells a device twice.
 */
import type { MaintenanceWindow } from '@margo-gitops/spec';
import { failedCount, failureLimit, type DeviceRolloutState, type RolloutState } from './state.js';
import { nextOpeningOf, windowOpenAt, windowsFor } from './windows.js';

/** What a device reports for this deployment, mapped by the wiring from its DeploymentStatus. */
export interface RolloutObservation {
  /** Revision the report is about (absent: nothing installed or not known). */
  revision?: string;
  /** `removed` also stands for "no status for this deployment"; `unknown` for a stale report. */
  state: 'pending' | 'installing' | 'installed' | 'failed' | 'removed' | 'unknown';
  error?: string;
  /** Reason of an on-site hold: the agent applies no change while it is set. */
  hold?: string;
}

export interface StepContext {
  /**
   * How many more devices may be told to change now, fleet-wide, across every rollout (the cap
   * minus the devices changing anywhere). Devices already in flight are not counted again here.
   */
  budget: number;
  windows?: readonly MaintenanceWindow[];
  /** Fleet labels by device id (for windows); a device missing here has no labels. */
  labels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export type WaitReason = 'window' | 'hold' | 'cap';

export interface RolloutEvent {
  kind: 'device-failed' | 'revert-failed' | 'wave-passed' | 'threshold' | 'done' | 'rolled-back';
  wave?: string;
  deviceId?: string;
  message: string;
}

export interface StepResult {
  state: RolloutState;
  /** Devices to tell to take `to`, in wave order. */
  change: string[];
  /** Devices to tell to go back to `from` (to remove the deployment when there is no `from`). */
  revert: string[];
  /** Devices that could be told now but wait, and why (`until`: when their window opens). */
  waiting: { deviceId: string; reason: WaitReason; until?: number; hold?: string }[];
  /** What the wave in progress waits for before the next wave may start. */
  gate?: { wave: string; waitingFor: 'devices' | 'health' | 'promote'; until?: number };
  events: RolloutEvent[];
  /** The earliest instant at which time alone can change the next step's answer. */
  wakeAt?: number;
}

const IN_FLIGHT = new Set(['changing', 'reverting']);
const TOLD = new Set(['changing', 'healthy', 'failed']);

/** Which revision a device should run now: `to` once told, `from` before and after a rollback. */
export function sideOf(state: RolloutState, deviceId: string): 'from' | 'to' | undefined {
  const d = state.devices[deviceId];
  if (!d) return undefined;
  return TOLD.has(d.status) ? 'to' : 'from';
}

function enter(
  d: DeviceRolloutState,
  status: DeviceRolloutState['status'],
  at: string,
  error?: string,
): void {
  d.status = status;
  d.since = at;
  if (error !== undefined) d.error = error;
  else delete d.error;
}

/** Updates device statuses from reports; returns the events it saw. */
function observe(
  s: RolloutState,
  observations: Readonly<Record<string, RolloutObservation>>,
  at: string,
): RolloutEvent[] {
  const events: RolloutEvent[] = [];
  for (const [id, d] of Object.entries(s.devices)) {
    const o = observations[id];
    if (!o) continue;
    const atTo = o.revision === s.to;
    const wave = s.waves[d.wave]!.name;
    switch (d.status) {
      case 'waiting':
        // Already running the new revision (e.g. the previous server told it and then stopped
        // before recording a later decision): adopt it rather than tell it again.
        if (atTo && o.state === 'installed') enter(d, 'healthy', at);
        break;
      case 'changing':
      case 'healthy':
        if (atTo && o.state === 'failed') {
          enter(d, 'failed', at, o.error ?? 'failed');
          events.push({ kind: 'device-failed', wave, deviceId: id, message: `${id} failed: ${d.error}` });
        } else if (atTo && o.state === 'installed') {
          if (d.status === 'changing') enter(d, 'healthy', at);
        } else if (d.status === 'healthy') {
          // No longer reported installed (stale, reinstalling): its healthy time starts again.
          enter(d, 'changing', at);
        }
        break;
      case 'reverting': {
        const back =
          s.from === undefined ? o.state === 'removed' : o.revision === s.from && o.state === 'installed';
        if (back) enter(d, 'reverted', at);
        else if ((s.from === undefined || o.revision === s.from) && o.state === 'failed') {
          enter(d, 'revertFailed', at, o.error ?? 'failed');
          events.push({
            kind: 'revert-failed',
            wave,
            deviceId: id,
            message: `${id} failed to go back: ${d.error}`,
          });
        }
        break;
      }
      default:
        break; // failed, reverted, revertFailed are final for this rollout
    }
  }
  return events;
}

/** Applies the failure threshold; returns the event when it trips. */
function checkThreshold(s: RolloutState, at: string): RolloutEvent | undefined {
  if (s.phase !== 'progressing' && s.phase !== 'paused') return undefined;
  const failed = failedCount(s) - s.acceptedFailures;
  const limit = failureLimit(s);
  if (failed < limit) return undefined;
  if (s.onFailure === 'rollback') {
    delete s.pause;
    s.phase = 'rollingBack';
    s.rollback = { reason: 'threshold', at };
  } else if (s.phase === 'progressing' || s.pause?.reason === 'operator') {
    // Also over an operator's pause, so status shows why, and resume says what it accepts.
    s.phase = 'paused';
    s.pause = { reason: 'threshold', at };
  } else return undefined;
  return {
    kind: 'threshold',
    message: `${failed} failed device(s) reached the threshold of ${limit}: ${s.phase === 'paused' ? 'paused' : 'rolling back'}`,
  };
}

/** Passes every gate that is met, from the wave in progress on; returns what the next one waits for. */
function advance(s: RolloutState, now: number, at: string, events: RolloutEvent[]): StepResult['gate'] {
  while (s.current < s.waves.length) {
    const w = s.waves[s.current]!;
    let pending = false;
    let until = 0;
    for (const id of w.devices) {
      const d = s.devices[id]!;
      if (d.status === 'waiting' || d.status === 'changing') pending = true;
      else if (d.status === 'healthy')
        until = Math.max(until, Date.parse(d.since) + w.gate.healthySeconds * 1000);
    }
    if (pending) return { wave: w.name, waitingFor: 'devices' };
    if (until > now) return { wave: w.name, waitingFor: 'health', until };
    if (w.gate.manual && !w.promotedAt) return { wave: w.name, waitingFor: 'promote' };
    w.passedAt = at;
    events.push({ kind: 'wave-passed', wave: w.name, message: `wave ${w.name} passed its gate` });
    s.current++;
  }
  s.phase = 'done';
  s.finishedAt = at;
  events.push({ kind: 'done', message: `every wave passed: ${s.to} is rolled out` });
  return undefined;
}

/**
 * The next decision of a rollout at `now` (ms since the epoch). Never tells more devices than
 * `ctx.budget` nor more than `maxConcurrent` minus the devices of this rollout in flight; never
 * tells a device outside its maintenance window or under an on-site hold; never tells a device
 * twice for the same direction.
 */
export function nextStep(
  state: RolloutState,
  observations: Readonly<Record<string, RolloutObservation>>,
  now: number,
  ctx: StepContext,
): StepResult {
  const s = structuredClone(state);
  const at = new Date(now).toISOString();
  const events = observe(s, observations, at);
  const tripped = checkThreshold(s, at);
  if (tripped) events.push(tripped);
  const gate = s.phase === 'progressing' ? advance(s, now, at, events) : undefined;

  let inFlight = 0;
  for (const d of Object.values(s.devices)) if (IN_FLIGHT.has(d.status)) inFlight++;
  let room = Math.max(0, Math.min(ctx.budget, (s.maxConcurrent ?? Infinity) - inFlight));

  const windows = ctx.windows ?? [];
  const openCache = new Map<string, { open: boolean; until?: number }>();
  const windowOf = (id: string) => {
    if (!windows.length) return { open: true };
    const labels = ctx.labels?.[id] ?? {};
    const mine = windowsFor(windows, labels);
    const key = mine.map((w) => w.name).join('\0');
    let r = openCache.get(key);
    if (!r) {
      const open = mine.length === 0 || mine.some((w) => windowOpenAt(w, now));
      r = open ? { open } : { open, until: nextOpeningOf(mine, now) };
      openCache.set(key, r);
    }
    return r;
  };

  const change: string[] = [];
  const revert: string[] = [];
  const waiting: StepResult['waiting'] = [];
  let wakeAt = gate?.until;
  const consider = (id: string, free: boolean): boolean => {
    const hold = observations[id]?.hold;
    if (hold !== undefined) {
      waiting.push({ deviceId: id, reason: 'hold', hold });
      return false;
    }
    const win = windowOf(id);
    if (!win.open) {
      waiting.push({
        deviceId: id,
        reason: 'window',
        ...(win.until !== undefined ? { until: win.until } : {}),
      });
      if (win.until !== undefined) wakeAt = Math.min(wakeAt ?? Infinity, win.until);
      return false;
    }
    if (!free && room <= 0) {
      waiting.push({ deviceId: id, reason: 'cap' });
      return false;
    }
    if (!free) room--;
    return true;
  };

  if (s.phase === 'progressing') {
    for (const id of s.waves[s.current]?.devices ?? []) {
      const d = s.devices[id]!;
      if (d.status !== 'waiting' || !consider(id, false)) continue;
      enter(d, 'changing', at);
      change.push(id);
    }
  } else if (s.phase === 'rollingBack') {
    for (const w of s.waves) {
      for (const id of w.devices) {
        const d = s.devices[id]!;
        // A device still changing is already in flight: sending it back takes no new slot.
        if (!TOLD.has(d.status) || !consider(id, d.status === 'changing')) continue;
        enter(d, 'reverting', at);
        revert.push(id);
      }
    }
    if (!Object.values(s.devices).some((d) => TOLD.has(d.status) || d.status === 'reverting')) {
      s.phase = 'rolledBack';
      s.finishedAt = at;
      events.push({
        kind: 'rolled-back',
        message: `every changed device is back on ${s.from ?? 'no installation'}`,
      });
    }
  }
  const result: StepResult = { state: s, change, revert, waiting, events };
  if (gate) result.gate = gate;
  if (wakeAt !== undefined && Number.isFinite(wakeAt)) result.wakeAt = wakeAt;
  return result;
}
