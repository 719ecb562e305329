/**
 * The orchestrator's telemetry hook: what a pass did, every commit it made, every rollout step, and
 * when something a status reader would show changed. `margo serve` feeds metrics, traces and the
 * console's live events from one fan-out of these (packages/cli/src/server-wiring.ts).
 *
 * Callbacks run synchronously inside the pass: keep them cheap. A callback that throws never
 * breaks a pass (the orchestrator calls them through guardTelemetry).
 */

export interface PassInfo {
  reason: string;
  /** Set when the pass looks at one device only (a status push, an enrolment). */
  deviceId?: string;
}

export interface PassResult {
  /** `error` when the pass threw or some device repository was not updated. */
  outcome: 'ok' | 'error';
  /** Device mains written in this pass. */
  devicesWritten: number;
  /** Commits made in this pass (device + fleet). */
  commits: number;
  /** The pass's error code, or the first failed device's. */
  errorCode?: string;
}

export interface PassSpan {
  end(result: PassResult): void;
}

export interface CommitEvent {
  repo: 'fleet' | 'device';
  kind: 'desired-state' | 'rollout' | 'enrolment' | 'other';
  deviceId?: string;
  commit: string;
}

export interface RolloutStepEvent {
  /** Rollout (deployment) name. */
  name: string;
  /** The rollout's phase after the step. */
  phase: string;
  /** What happened in the step (messages, e.g. `wave w1 passed its gate`). */
  events: string[];
  /** The fleet commit that recorded the step (none when the state did not change). */
  commit?: string;
  /** ms since epoch (orchestrator clock). */
  startedAt: number;
  endedAt: number;
}

export interface FleetChange {
  reason: 'pass' | 'status' | 'seen' | 'rollout';
  deviceIds?: string[];
}

export interface OrchestratorTelemetry {
  passStarted(info: PassInfo): PassSpan;
  committed(e: CommitEvent): void;
  rolloutStep(e: RolloutStepEvent): void;
  /**
   * Something a status reader would show changed: a pass wrote, a device reported, or it was seen
   * when not seen within its report window before (not at every poll).
   */
  fleetChanged(e: FleetChange): void;
}

const noSpan: PassSpan = { end: () => undefined };

/** Telemetry that does nothing (the default). */
export const noTelemetry: OrchestratorTelemetry = Object.freeze({
  passStarted: () => noSpan,
  committed: () => undefined,
  rolloutStep: () => undefined,
  fleetChanged: () => undefined,
});

/** Calls `fn`, reporting (never rethrowing) what it throws. */
function attempt<T>(fn: () => T, onError: (e: unknown) => void): T | undefined {
  try {
    return fn();
  } catch (e) {
    try {
      onError(e);
    } catch {
      /* a failing error reporter is ignored too */
    }
    return undefined;
  }
}

/**
 * Wraps telemetry so that no callback can throw into the caller: a throwing callback is reported to
 * `onError` and otherwise ignored (a span whose start threw ends as a no-op).
 */
export function guardTelemetry(
  t: OrchestratorTelemetry,
  onError: (e: unknown) => void = () => undefined,
): OrchestratorTelemetry {
  return {
    passStarted(info) {
      const span = attempt(() => t.passStarted(info), onError);
      return { end: (r) => void attempt(() => span?.end(r), onError) };
    },
    committed: (e) => void attempt(() => t.committed(e), onError),
    rolloutStep: (e) => void attempt(() => t.rolloutStep(e), onError),
    fleetChanged: (e) => void attempt(() => t.fleetChanged(e), onError),
  };
}

/**
 * One telemetry that calls each given one in order. Each member is guarded on its own: one that
 * throws does not keep the others from being called.
 *
 * @example
 * const telemetry = fanOutTelemetry(metrics.telemetry, tracing.telemetry, consoleEvents.telemetry);
 * new Orchestrator({ ...opts, telemetry });
 */
export function fanOutTelemetry(...members: OrchestratorTelemetry[]): OrchestratorTelemetry {
  const ts = members.filter((m) => m !== noTelemetry).map((m) => guardTelemetry(m));
  if (ts.length === 0) return noTelemetry;
  if (ts.length === 1) return ts[0]!;
  return {
    passStarted(info) {
      const spans = ts.map((t) => t.passStarted(info));
      return { end: (r) => spans.forEach((s) => s.end(r)) };
    },
    committed: (e) => ts.forEach((t) => t.committed(e)),
    rolloutStep: (e) => ts.forEach((t) => t.rolloutStep(e)),
    fleetChanged: (e) => ts.forEach((t) => t.fleetChanged(e)),
  };
}

/**
 * Runs one reconcile pass inside a span: `run` records the devices whose main it wrote in
 * `written`; the span ends with them, `commits()` and the outcome (error when the pass threw or a
 * device failed, with the first code), and a pass that wrote something is a fleet change.
 */
export async function observePass<S extends { failed: readonly { code: string }[] }>(
  t: OrchestratorTelemetry,
  info: PassInfo,
  commits: () => number,
  run: (written: string[]) => Promise<S>,
): Promise<S> {
  const span = t.passStarted(info);
  const written: string[] = [];
  const end = (r: Pick<PassResult, 'outcome' | 'errorCode'>) =>
    span.end({ ...r, devicesWritten: written.length, commits: commits() });
  try {
    const summary = await run(written);
    const failed = summary.failed[0];
    end(failed ? { outcome: 'error', errorCode: failed.code } : { outcome: 'ok' });
    return summary;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    end({ outcome: 'error', errorCode: typeof code === 'string' ? code : 'INTERNAL_ERROR' });
    throw e;
  } finally {
    if (written.length) t.fleetChanged({ reason: 'pass', deviceIds: [...written].sort() });
  }
}
