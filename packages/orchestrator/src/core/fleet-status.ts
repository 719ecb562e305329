import type { DeploymentState, DeploymentStatus, Finding, FleetDevice } from '@margo-gitops/spec';
import type { DeviceRolloutStatus, RolloutPhase, RolloutState } from '../rollout/state.js';
import type { StepResult } from '../rollout/step.js';
import { rolloutSide, type DeploymentOutcome } from './desired-state.js';

/** A device's state for one deployment as the fleet view shows it. */
export type RowState = DeploymentState | 'not-matched' | 'unknown' | 'error';

export interface DeploymentRow {
  deviceId: string;
  deploymentId: string;
  state: RowState;
  /** Why: not-matched reason, hold/error reason, or why it is pending/unknown. */
  reason?: string;
  /** The orchestrator's or the device's error. */
  error?: { code: string; message: string; source?: string };
  /** When the device last reported anything (ISO 8601). */
  lastReportAt?: string;
  /** Why a device of a rollout has not been told yet (`wave`: its wave has not started). */
  waiting?: { reason: 'window' | 'hold' | 'cap' | 'wave'; until?: string; hold?: string };
  /** The device's side of the deployment's rollout and its status there. */
  rollout?: { side: 'from' | 'to'; status: DeviceRolloutStatus };
}

export type StateCounts = Record<RowState, number>;

export interface DeploymentRollup {
  name: string;
  applicationId: string;
  version?: string;
  counts: StateCounts;
  total: number;
  errors: { deviceId: string; code: string; message: string }[];
  devices: DeploymentRow[];
  /** The deployment's rollout: phase, the wave in progress, devices done (at `to`, or back when rolling back) of all. */
  rollout?: { phase: RolloutPhase; wave: string; done: number; total: number };
}

export interface DeviceRow {
  deviceId: string;
  lastReportAt?: string;
  /** When the device last fetched or pushed its repository, as the server saw it (ISO 8601). */
  lastSeenAt?: string;
  /** The last desired-state commit the device acted on, and whether that is the current one. */
  observedCommit?: string;
  upToDate?: boolean;
  /**
   * `reporting`: reported or seen within the device's expected window; `stale`: neither within it;
   * `never`: neither ever.
   */
  reporting: 'reporting' | 'stale' | 'never';
  expectedReportSeconds: number;
  deployments: number;
  /** Last failure writing this device's repository (retried on the next pass). */
  repoError?: { code: string; message: string };
  /**
   * Status files of the latest report that were ignored: unsigned, signed by another device,
   * forged (TRUST_STATUS_*), or unreadable (ORCH_STATUS_INVALID).
   */
  statusProblems?: { path: string; code: string; message: string }[];
  /**
   * The device's `main` held a commit the orchestrator did not sign (shown for
   * FOREIGN_MAIN_SHOWN_MS after it was last seen): someone wrote to the Git host directly.
   */
  desiredStateProblem?: { code: string; message: string; hint: string; commit: string | null; at: string };
  /** The on-site hold (`margo-agent hold`): the device applies no change until released. */
  hold?: { reason: string; since?: string };
}

export interface FleetStatus {
  generatedAt: string;
  fleetCommit: string | null;
  catalogCommit: string | null;
  lastReconcileAt?: string;
  findings: Finding[];
  deployments: DeploymentRollup[];
  devices: DeviceRow[];
  /**
   * Deployments a device still reports although it is no longer desired there (intent deleted or
   * device no longer matching): shows removals in progress (`removing`) and ones that failed.
   * `removed` reports are left out.
   */
  removals: {
    deviceId: string;
    deploymentId: string;
    state: DeploymentState;
    error?: { code: string; message: string };
  }[];
}

/** What the roll-up needs to know about one device. */
export interface DeviceView {
  device: FleetDevice;
  outcomes: DeploymentOutcome[];
  /** ms since epoch of the device's last status report (its status commit's time, device clock). */
  reportedAt?: number;
  /** ms since epoch of the device's last fetch or push, on the orchestrator's clock. */
  seenAt?: number;
  /** The device's `main` head as the orchestrator last wrote it. */
  mainCommit?: string;
  /** The last `main` commit the device says it acted on (status `observed.json`). */
  observedCommit?: string;
  statuses: ReadonlyMap<string, DeploymentStatus>;
  /** deployment name -> ms when its desired file last changed on the device. */
  changedAt: Readonly<Record<string, number>>;
  repoError?: { code: string; message: string };
  statusProblems?: readonly { path: string; code: string; message: string }[];
  /** The last time `main` held a commit the orchestrator did not sign. */
  foreignMain?: { commit: string | null; code: string; reason: string; at: number };
  hold?: { reason: string; since?: string };
}

/** A deployment's rollout for the roll-up: its stored state and who waits, from the last step. */
export interface RolloutRollupInput {
  state: RolloutState;
  waiting?: StepResult['waiting'];
}

/** How long a foreign commit found on a device's `main` stays listed as a device problem. */
export const FOREIGN_MAIN_SHOWN_MS = 7 * 24 * 3600 * 1000;

/** The device problem for a foreign `main` commit: what happened, and what is true about it. */
export function foreignMainProblem(
  deviceId: string,
  f: { commit: string | null; code: string; reason: string; at: number },
  restoredTo: string | undefined,
): NonNullable<DeviceRow['desiredStateProblem']> {
  const what = f.commit ? `commit ${f.commit.slice(0, 12)}` : 'no commit (main deleted)';
  const after = restoredTo
    ? `the orchestrator replaced it with its own signed state (${restoredTo.slice(0, 12)})`
    : 'the orchestrator could not restore its own state yet (see repoError)';
  return {
    code: 'ORCH_DEVICE_REPO_TAMPERED',
    message: `main of devices/${deviceId}.git held ${what}, which the orchestrator did not sign (${f.code}: ${f.reason}); ${after}`,
    hint: 'Someone with write access to the Git host changed this repository directly. The device refuses desired state without a valid signature and keeps running its last verified state. Check the Git host access logs and rotate the credentials that can write there.',
    commit: f.commit,
    at: new Date(f.at).toISOString(),
  };
}

export interface RollupInput {
  now: number;
  fleetCommit: string | null;
  catalogCommit: string | null;
  lastReconcileAt?: number;
  findings: Finding[];
  /** Every deployment intent name with its application id, so intents that match nothing are listed too. */
  intents: { name: string; applicationId: string }[];
  devices: DeviceView[];
  /** Rollouts by deployment name (only those at the deployment's current revision). */
  rollouts?: ReadonlyMap<string, RolloutRollupInput>;
}

export function emptyCounts(): StateCounts {
  return {
    pending: 0,
    installing: 0,
    installed: 0,
    failed: 0,
    removing: 0,
    removed: 0,
    'not-matched': 0,
    unknown: 0,
    error: 0,
  };
}

/**
 * `reportedAt` is a status commit's time, which Git keeps in whole seconds: a report made in the
 * same second as a change, after it, carries an earlier time than the change. Such a report counts
 * as after the change. Otherwise a deployment whose change the device confirms without more work
 * (an unchanged deployment restored after tampering) would stay `pending`: the device makes no
 * other status commit for it. A report from earlier in that second is then taken as current until
 * the device's next report, which a real change brings within a poll interval.
 */
const COMMIT_TIME_RESOLUTION_MS = 1000;

/**
 * Rolls the fleet up per deployment. A device that has not reported within its expected window is
 * `unknown` (never shown healthy); a device whose last report predates the orchestrator's latest
 * change of a deployment is `pending` for it until it reports again.
 *
 * @example
 * const status = rollupFleetStatus({ now: Date.now(), fleetCommit, catalogCommit, findings: [], intents, devices });
 * status.deployments[0].counts.installed;
 */
export function rollupFleetStatus(input: RollupInput): FleetStatus {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const rollups = new Map<string, DeploymentRollup>();
  for (const i of [...input.intents].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    rollups.set(i.name, {
      name: i.name,
      applicationId: i.applicationId,
      counts: emptyCounts(),
      total: 0,
      errors: [],
      devices: [],
    });
  }
  const devices: DeviceRow[] = [];
  const removals: FleetStatus['removals'] = [];
  const waits = new Map<string, Map<string, StepResult['waiting'][number]>>();
  for (const [name, ro] of input.rollouts ?? []) {
    waits.set(name, new Map((ro.waiting ?? []).map((w) => [w.deviceId, w])));
    const r = rollups.get(name);
    if (r) r.rollout = rolloutLine(ro.state);
  }
  for (const v of [...input.devices].sort((a, b) => (a.device.id < b.device.id ? -1 : 1))) {
    const windowMs = v.device.expectedReportSeconds * 1000;
    // A device that polls is alive even when it has nothing new to report (no heartbeat commits).
    // Every status push is also a contact, and the server's clock beats the device's, so the time
    // of the last report counts only when the device has not been seen since this server started.
    const lastContact = v.seenAt ?? v.reportedAt;
    const fresh = lastContact !== undefined && input.now - lastContact <= windowMs;
    const lastReportAt = iso(v.reportedAt);
    const lastSeenAt = iso(v.seenAt);
    // A device that says it acted on the current desired commit has seen every change in it: no
    // clock comparison needed (status commit times come from the device's clock).
    const caughtUp = v.observedCommit !== undefined && v.observedCommit === v.mainCommit;
    devices.push({
      deviceId: v.device.id,
      ...(lastReportAt ? { lastReportAt } : {}),
      ...(lastSeenAt ? { lastSeenAt } : {}),
      ...(v.observedCommit ? { observedCommit: v.observedCommit, upToDate: caughtUp } : {}),
      reporting: lastContact === undefined ? 'never' : fresh ? 'reporting' : 'stale',
      expectedReportSeconds: v.device.expectedReportSeconds,
      deployments: v.outcomes.filter((o) => o.status === 'matched' || o.status === 'held').length,
      ...(v.repoError ? { repoError: v.repoError } : {}),
      ...(v.hold ? { hold: { ...v.hold } } : {}),
      ...(v.statusProblems?.length ? { statusProblems: v.statusProblems.map((p) => ({ ...p })) } : {}),
      ...(v.foreignMain && input.now - v.foreignMain.at <= FOREIGN_MAIN_SHOWN_MS
        ? {
            desiredStateProblem: foreignMainProblem(
              v.device.id,
              v.foreignMain,
              v.mainCommit !== v.foreignMain.commit ? v.mainCommit : undefined,
            ),
          }
        : {}),
    });
    const desiredIds = new Set(
      v.outcomes.filter((o) => o.status === 'matched' || o.status === 'held').map((o) => o.deploymentId),
    );
    for (const [id, st] of [...v.statuses].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (desiredIds.has(id) || st.state === 'removed') continue;
      removals.push({
        deviceId: v.device.id,
        deploymentId: id,
        state: st.state,
        ...(st.error ? { error: { code: st.error.code, message: st.error.message } } : {}),
      });
    }
    for (const o of v.outcomes) {
      const r = rollups.get(o.deployment);
      if (!r) continue;
      if (o.version) r.version ??= o.version;
      const row: DeploymentRow = {
        deviceId: o.deviceId,
        deploymentId: o.deploymentId,
        state: 'pending',
        ...(lastReportAt ? { lastReportAt } : {}),
      };
      if (o.status === 'not-matched') {
        row.state = 'not-matched';
        row.reason = o.reason ?? 'does not match';
      } else if (o.status === 'error') {
        row.state = 'error';
        row.reason = o.reason ?? 'could not be computed';
        row.error = { code: o.code ?? 'INTERNAL_ERROR', message: row.reason };
      } else {
        if (o.status === 'held') {
          row.error = {
            code: o.code ?? 'INTERNAL_ERROR',
            message: `kept the previous desired state: ${o.reason ?? ''}`,
          };
        }
        const s = v.statuses.get(o.deploymentId);
        const changed = v.changedAt[o.deployment];
        if (!fresh) {
          row.state = 'unknown';
          row.reason =
            lastContact === undefined
              ? 'the device has never reported'
              : `no report or poll for more than ${v.device.expectedReportSeconds}s`;
        } else if (!s) {
          row.state = 'pending';
          row.reason = 'the device has not reported this deployment yet';
        } else if (
          !caughtUp &&
          changed !== undefined &&
          v.reportedAt! + COMMIT_TIME_RESOLUTION_MS <= changed
        ) {
          row.state = 'pending';
          row.reason = `the device has not reported since the change of ${iso(changed)}`;
        } else {
          row.state = s.state;
          if (s.error)
            row.error = {
              code: s.error.code,
              message: s.error.message,
              ...(s.error.source ? { source: s.error.source } : {}),
            };
        }
      }
      const ro = input.rollouts?.get(o.deployment);
      if (ro) rolloutRow(row, o, ro, waits.get(o.deployment));
      if (row.error)
        r.errors.push({ deviceId: row.deviceId, code: row.error.code, message: row.error.message });
      r.counts[row.state]++;
      r.total++;
      r.devices.push(row);
    }
  }
  const lastReconcileAt = iso(input.lastReconcileAt);
  return {
    generatedAt: new Date(input.now).toISOString(),
    fleetCommit: input.fleetCommit,
    catalogCommit: input.catalogCommit,
    ...(lastReconcileAt ? { lastReconcileAt } : {}),
    findings: input.findings,
    deployments: [...rollups.values()],
    devices,
    removals,
  };
}

const BACK = new Set<DeviceRolloutStatus>(['reverted', 'revertFailed']);

/** The rollout line of a deployment: phase, wave in progress, devices done of all. */
function rolloutLine(s: RolloutState): NonNullable<DeploymentRollup['rollout']> {
  const back = s.phase === 'rollingBack' || s.phase === 'rolledBack';
  const ids = Object.keys(s.devices);
  const done = ids.filter((id) =>
    back ? BACK.has(s.devices[id]!.status) : s.devices[id]!.status === 'healthy',
  ).length;
  return { phase: s.phase, wave: s.waves[s.current]?.name ?? '(all passed)', done, total: ids.length };
}

/** Adds a device's side, status and wait reason in the rollout to its row. */
function rolloutRow(
  row: DeploymentRow,
  o: DeploymentOutcome,
  ro: RolloutRollupInput,
  waits: Map<string, StepResult['waiting'][number]> | undefined,
): void {
  const d = ro.state.devices[o.deviceId];
  if (o.code === 'ROLLOUT_WAITING' && (ro.state.phase === 'progressing' || ro.state.phase === 'paused')) {
    // A first installation not yet told: pending, not a mismatch.
    row.state = 'pending';
    delete row.error;
  }
  if (!d) return;
  row.rollout = { side: rolloutSide({ state: ro.state }, o.deviceId), status: d.status };
  const w = waits?.get(o.deviceId);
  if (w)
    row.waiting = {
      reason: w.reason,
      ...(w.until !== undefined ? { until: new Date(w.until).toISOString() } : {}),
      ...(w.hold !== undefined ? { hold: w.hold } : {}),
    };
  else if (
    d.status === 'waiting' &&
    (ro.state.phase === 'progressing' || ro.state.phase === 'paused') &&
    d.wave > ro.state.current
  )
    row.waiting = { reason: 'wave' };
}
