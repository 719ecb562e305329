/**
 * The state of one rollout: a plain JSON object, so the wiring can commit it to the fleet
 * repository after every decision and a restarted server resumes exactly where it was. Operator
 * decisions (pause, resume, promote, abort) are pure functions from state to state.
 */
import { MargoError, type FailureThreshold, type RolloutGate, type RolloutSpec } from '@margo-gitops/spec';
import { planWaves, type RolloutTarget } from './plan.js';

export const ROLLOUT_STATE_SCHEMA = 'margo-gitops.rollout/v1';

/**
 * Where one device is in the rollout:
 * - `waiting`: not told yet;
 * - `changing`: told to take the new revision, not yet installed and healthy (counts against the cap);
 * - `healthy`: installed at the new revision, continuously since `since`;
 * - `failed`: reported failed at the new revision (counts against the failure threshold; sticky);
 * - `reverting`: told to go back to the previous revision (counts against the cap);
 * - `reverted` / `revertFailed`: back on the previous revision, or failed to get there.
 */
export type DeviceRolloutStatus =
  | 'waiting'
  | 'changing'
  | 'healthy'
  | 'failed'
  | 'reverting'
  | 'reverted'
  | 'revertFailed';

export interface DeviceRolloutState {
  /** Index of its wave in `waves`. */
  wave: number;
  status: DeviceRolloutStatus;
  /** ISO time the device entered `status`. */
  since: string;
  /** The device's error, for `failed` and `revertFailed`. */
  error?: string;
}

export interface WaveState {
  name: string;
  gate: RolloutGate;
  devices: string[];
  promotedAt?: string;
  promotedBy?: string;
  /** ISO time its gate passed. */
  passedAt?: string;
}

/**
 * - `progressing`: waves advance; `paused`: nothing new is told (devices already told finish);
 * - `rollingBack`: devices already told go back to `from`; `rolledBack` and `done` are final.
 */
export type RolloutPhase = 'progressing' | 'paused' | 'rollingBack' | 'rolledBack' | 'done';

export interface RolloutState {
  schema: typeof ROLLOUT_STATE_SCHEMA;
  deployment: string;
  /** Revision the devices ran before; absent for a first installation (rolling back then removes it). */
  from?: string;
  /** Revision being rolled out (opaque to the state machine, compared with what devices report). */
  to: string;
  /** Fleet blob of `deployments/<name>.yaml` at `from` (the wiring re-reads that intent to render `from`). */
  fromBlob?: string;
  /** Fleet blob of `deployments/<name>.yaml` at `to`. */
  toBlob?: string;
  /** Application version `from` resolved to (pins the `from` rendering). */
  fromVersion?: string;
  /** Application version `to` resolved to. */
  toVersion?: string;
  maxConcurrent?: number;
  failureThreshold: FailureThreshold;
  onFailure: 'pause' | 'rollback';
  phase: RolloutPhase;
  /** Index of the wave in progress; `waves.length` once every gate passed. */
  current: number;
  waves: WaveState[];
  devices: Record<string, DeviceRolloutState>;
  /** Failures an operator accepted by resuming: the threshold counts failures beyond them. */
  acceptedFailures: number;
  pause?: { reason: 'threshold' | 'operator'; at: string; by?: string };
  rollback?: { reason: 'threshold' | 'aborted'; at: string; by?: string };
  startedAt: string;
  finishedAt?: string;
}

export interface CreateRolloutInput {
  deployment: string;
  from?: string;
  to: string;
  spec: RolloutSpec;
  targets: readonly RolloutTarget[];
  now: number;
}

/**
 * A new rollout in phase `progressing`, its waves planned (planWaves). Also returns the devices a
 * wave names that are not targets, for the caller to report.
 */
export function createRollout(input: CreateRolloutInput): { state: RolloutState; notTargeted: string[] } {
  const plan = planWaves(input.deployment, input.targets, input.spec);
  const at = new Date(input.now).toISOString();
  const devices: Record<string, DeviceRolloutState> = {};
  plan.waves.forEach((w, i) => {
    for (const d of w.devices) devices[d] = { wave: i, status: 'waiting', since: at };
  });
  const state: RolloutState = {
    schema: ROLLOUT_STATE_SCHEMA,
    deployment: input.deployment,
    to: input.to,
    failureThreshold: { ...input.spec.failureThreshold },
    onFailure: input.spec.onFailure,
    phase: 'progressing',
    current: 0,
    waves: plan.waves.map((w) => ({ name: w.name, gate: { ...w.gate }, devices: [...w.devices] })),
    devices,
    acceptedFailures: 0,
    startedAt: at,
  };
  if (input.from !== undefined) state.from = input.from;
  if (input.spec.maxConcurrent !== undefined) state.maxConcurrent = input.spec.maxConcurrent;
  return { state, notTargeted: plan.notTargeted };
}

/**
 * Follows a change of the deployment's targets during a rollout (a device enrolled or relabelled):
 * targets gone are dropped whatever their status (the deployment leaves them by the ordinary
 * path); new targets join the last wave, so they change only after every gate has held. A
 * finished rollout is left as it is: new targets then simply get the new revision.
 */
export function retarget(state: RolloutState, targets: readonly string[], now: number): RolloutState {
  if (state.phase === 'done' || state.phase === 'rolledBack') return state;
  const wanted = new Set(targets);
  const added = [...wanted].filter((id) => !(id in state.devices)).sort();
  const gone = Object.keys(state.devices).filter((id) => !wanted.has(id));
  if (!added.length && !gone.length) return state;
  const devices: Record<string, DeviceRolloutState> = {};
  for (const [id, d] of Object.entries(state.devices)) if (wanted.has(id)) devices[id] = d;
  const last = state.waves.length - 1;
  const at = new Date(now).toISOString();
  for (const id of added) devices[id] = { wave: last, status: 'waiting', since: at };
  const waves = state.waves.map((w, i) => ({
    ...w,
    devices: [...w.devices.filter((id) => wanted.has(id)), ...(i === last ? added : [])],
  }));
  return { ...state, waves, devices };
}

const STATUSES = new Set<string>([
  'waiting',
  'changing',
  'healthy',
  'failed',
  'reverting',
  'reverted',
  'revertFailed',
]);
const PHASES = new Set<string>(['progressing', 'paused', 'rollingBack', 'rolledBack', 'done']);

function invalid(message: string): MargoError {
  return new MargoError('ROLLOUT_STATE_INVALID', `rollout state: ${message}`);
}

/**
 * Checks a rollout state read back (e.g. JSON from the fleet repository) and returns it typed.
 * Throws ROLLOUT_STATE_INVALID naming the first problem.
 */
export function parseRolloutState(value: unknown): RolloutState {
  const s = value as RolloutState;
  if (!s || typeof s !== 'object') throw invalid('not an object');
  if (s.schema !== ROLLOUT_STATE_SCHEMA) throw invalid(`unknown schema ${JSON.stringify(s.schema)}`);
  if (typeof s.deployment !== 'string' || typeof s.to !== 'string')
    throw invalid('deployment and to must be strings');
  for (const k of ['from', 'fromBlob', 'toBlob', 'fromVersion', 'toVersion'] as const)
    if (s[k] !== undefined && typeof s[k] !== 'string') throw invalid(`${k} must be a string`);
  if (!PHASES.has(s.phase)) throw invalid(`unknown phase ${JSON.stringify(s.phase)}`);
  if (!Array.isArray(s.waves)) throw invalid('waves must be a list');
  if (!Number.isInteger(s.current) || s.current < 0 || s.current > s.waves.length)
    throw invalid('current is out of range');
  if (!Number.isInteger(s.acceptedFailures) || s.acceptedFailures < 0)
    throw invalid('acceptedFailures must be >= 0');
  if (!s.devices || typeof s.devices !== 'object') throw invalid('devices must be an object');
  const t = s.failureThreshold as { count?: unknown; percent?: unknown } | undefined;
  if (!t || (typeof t.count !== 'number' && typeof t.percent !== 'number'))
    throw invalid('failureThreshold needs count or percent');
  if (s.onFailure !== 'pause' && s.onFailure !== 'rollback')
    throw invalid('onFailure must be pause or rollback');
  let placed = 0;
  s.waves.forEach((w, i) => {
    if (!w || typeof w.name !== 'string' || !Array.isArray(w.devices) || !w.gate)
      throw invalid(`wave ${i} is malformed`);
    for (const d of w.devices) {
      if (s.devices[d]?.wave !== i)
        throw invalid(`device ${String(d)} of wave ${w.name} has no matching entry`);
      placed++;
    }
  });
  for (const [id, d] of Object.entries(s.devices)) {
    if (!STATUSES.has(d?.status))
      throw invalid(`device ${id} has unknown status ${JSON.stringify(d?.status)}`);
    if (typeof d.since !== 'string' || Number.isNaN(Date.parse(d.since)))
      throw invalid(`device ${id} has no valid since`);
  }
  if (placed !== Object.keys(s.devices).length) throw invalid('a device is in no wave or in two');
  return s;
}

function transition(message: string, state: RolloutState): MargoError {
  return new MargoError(
    'ROLLOUT_TRANSITION_INVALID',
    `rollout ${state.deployment} is ${state.phase}: ${message}`,
    {
      data: { phase: state.phase },
    },
  );
}

/** Number of failures that trips the threshold: the count, or the percentage of all targets rounded up (at least 1). */
export function failureLimit(state: Pick<RolloutState, 'failureThreshold' | 'devices'>): number {
  const t = state.failureThreshold;
  if ('count' in t) return t.count;
  const total = Object.keys(state.devices).length;
  return Math.max(1, Math.ceil((t.percent * total) / 100 - 1e-9));
}

/** Failed devices so far (at the new revision). */
export function failedCount(state: Pick<RolloutState, 'devices'>): number {
  let n = 0;
  for (const d of Object.values(state.devices)) if (d.status === 'failed') n++;
  return n;
}

/** Operator pause: nothing new is told until resume; devices already told carry on. */
export function pauseRollout(state: RolloutState, now: number, by?: string): RolloutState {
  if (state.phase !== 'progressing') throw transition('only a progressing rollout can be paused', state);
  return {
    ...state,
    phase: 'paused',
    pause: { reason: 'operator', at: new Date(now).toISOString(), ...(by ? { by } : {}) },
  };
}

/**
 * Resume a paused rollout. The failures seen so far are accepted: the threshold counts only new
 * ones, otherwise a rollout paused by its threshold would pause again at once.
 */
export function resumeRollout(state: RolloutState, _now: number, _by?: string): RolloutState {
  if (state.phase !== 'paused') throw transition('only a paused rollout can be resumed', state);
  const { pause: _pause, ...rest } = state;
  return { ...rest, phase: 'progressing', acceptedFailures: failedCount(state) };
}

/**
 * Promote a wave with a manual gate: the wave in progress, or a later one named by `wave` (an
 * approval given ahead). The health part of the gate still applies.
 */
export function promoteWave(state: RolloutState, now: number, by?: string, wave?: string): RolloutState {
  if (state.phase !== 'progressing' && state.phase !== 'paused') {
    throw transition('only a progressing or paused rollout can be promoted', state);
  }
  const index = wave === undefined ? state.current : state.waves.findIndex((w) => w.name === wave);
  const w = state.waves[index];
  if (!w) throw transition(wave === undefined ? 'every wave has passed' : `it has no wave ${wave}`, state);
  if (index < state.current) throw transition(`wave ${w.name} has already passed`, state);
  if (!w.gate.manual) throw transition(`wave ${w.name} has no manual gate`, state);
  const waves = state.waves.map((x, i) =>
    i === index ? { ...x, promotedAt: new Date(now).toISOString(), ...(by ? { promotedBy: by } : {}) } : x,
  );
  return { ...state, waves };
}

/** Abort: every device already told goes back to the previous revision (see nextStep). */
export function abortRollout(state: RolloutState, now: number, by?: string): RolloutState {
  if (state.phase !== 'progressing' && state.phase !== 'paused') {
    throw transition('only a progressing or paused rollout can be aborted', state);
  }
  const { pause: _pause, ...rest } = state;
  return {
    ...rest,
    phase: 'rollingBack',
    rollback: { reason: 'aborted', at: new Date(now).toISOString(), ...(by ? { by } : {}) },
  };
}
