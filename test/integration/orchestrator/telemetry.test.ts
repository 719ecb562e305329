// The orchestrator's telemetry hook over real bare repositories: every pass is reported with what
// it wrote (checked against the repositories' histories), every commit with its id, rollout steps
// with their fleet commit, and the fleet changes (pass, status read, device seen, rollout). One
// member of the fan-out throws on every call: the passes must not notice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fanOutTelemetry,
  Orchestrator,
  type CommitEvent,
  type FleetChange,
  type OrchestratorTelemetry,
  type PassInfo,
  type PassResult,
  type RolloutStepEvent,
} from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { bareGit } from './helpers.js';
import { deployment, RolloutWorld } from './rollout-world.js';

class Recorder implements OrchestratorTelemetry {
  passes: { info: PassInfo; result?: PassResult }[] = [];
  commits: CommitEvent[] = [];
  steps: RolloutStepEvent[] = [];
  changes: FleetChange[] = [];
  passStarted(info: PassInfo) {
    const p: { info: PassInfo; result?: PassResult } = { info };
    this.passes.push(p);
    return { end: (r: PassResult) => void (p.result = r) };
  }
  committed(e: CommitEvent) {
    this.commits.push(e);
  }
  rolloutStep(e: RolloutStepEvent) {
    this.steps.push(e);
  }
  fleetChanged(e: FleetChange) {
    this.changes.push(e);
  }
  clear() {
    this.passes = [];
    this.commits = [];
    this.steps = [];
    this.changes = [];
  }
  changed(reason: FleetChange['reason']): string[] {
    return this.changes.filter((c) => c.reason === reason).flatMap((c) => c.deviceIds ?? []);
  }
}

const boom = () => {
  throw new Error('telemetry failure');
};
const throwing: OrchestratorTelemetry = {
  passStarted: boom,
  committed: boom,
  rolloutStep: boom,
  fleetChanged: boom,
};

const canary = 'rollout:\n  waves:\n    - {name: canary, devices: [d1]}\n    - {percent: 100}\n';

test('a pass reports what it did; a throwing telemetry member breaks nothing', async (t) => {
  const rec = new Recorder();
  const w = new RolloutWorld(3, { telemetry: fanOutTelemetry(throwing, rec) });
  t.after(() => w.cleanup());
  await w.init({ 'deployments/web.yaml': deployment('1.0.0') });

  const s = await w.orch.reconcileNow('first');
  assert.deepEqual(s.failed, []);
  assert.equal(s.committed, 3);
  assert.equal(rec.passes.length, 1);
  assert.deepEqual(rec.passes[0], {
    info: { reason: 'first' },
    result: { outcome: 'ok', devicesWritten: 3, commits: 3 },
  });
  assert.deepEqual(
    [...rec.commits].sort((a, b) => a.deviceId!.localeCompare(b.deviceId!)),
    w.ids.map((id) => ({ repo: 'device', kind: 'desired-state', deviceId: id, commit: w.head(w.dev(id)) })),
  );
  assert.deepEqual(rec.changed('pass'), w.ids);
  assert.deepEqual(rec.changed('status').sort(), w.ids, 'every first status read is a change');

  // Nothing changed: a pass that writes nothing says so and reports no fleet change.
  rec.clear();
  await w.orch.reconcileNow('again');
  assert.deepEqual(rec.passes, [
    { info: { reason: 'again' }, result: { outcome: 'ok', devicesWritten: 0, commits: 0 } },
  ]);
  assert.deepEqual(rec.commits, []);
  assert.deepEqual(rec.changes, []);

  // A device seen, a device reporting (status push), a device-only pass.
  rec.clear();
  w.orch.notifyDeviceSeen('d2');
  assert.deepEqual(rec.changes, [{ reason: 'seen', deviceIds: ['d2'] }]);
  w.orch.notifyDeviceSeen('d2');
  assert.equal(rec.changes.length, 1, 'seen again within its report window: no fleet change');
  w.report('d1');
  await w.orch.reconcileDevice('d1', 'status push d1');
  assert.deepEqual(rec.passes[0]?.info, { reason: 'status push d1', deviceId: 'd1' });
  assert.equal(rec.passes[0]?.result?.commits, 0);
  assert.deepEqual(rec.changed('status'), ['d1']);
});

test('rollout commits and steps are reported with their fleet commits', async (t) => {
  const rec = new Recorder();
  const w = new RolloutWorld(3, { telemetry: rec });
  t.after(() => w.cleanup());
  await w.init({ 'deployments/web.yaml': deployment('1.0.0') });
  await w.pass();
  w.reportAllChanged();
  await w.pass();

  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canary) }, 'web 1.1.0 in waves');
  const fleetBefore = w.head(w.fleetDir)!;
  const devBefore = Object.fromEntries(w.ids.map((id) => [id, w.commits(id)]));
  rec.clear();
  w.clock += 1000;
  await w.orch.reconcileNow('deploy');
  const fleetCommits = bareGit(w.fleetDir, 'rev-list', `${fleetBefore}..main`).split('\n').filter(Boolean);
  const devCommits = w.ids.reduce((n, id) => n + w.commits(id) - devBefore[id]!, 0);
  assert.ok(fleetCommits.length >= 1, 'the rollout state was committed');
  assert.equal(devCommits, 1, 'only the canary is told');
  assert.deepEqual(rec.passes[0]?.result, {
    outcome: 'ok',
    devicesWritten: 1,
    commits: fleetCommits.length + devCommits,
  });
  const rolloutCommits = rec.commits.filter((c) => c.kind === 'rollout');
  assert.deepEqual(rolloutCommits.map((c) => c.commit).sort(), [...fleetCommits].sort());
  assert.ok(rolloutCommits.every((c) => c.repo === 'fleet'));
  const step = rec.steps.find((s) => s.name === 'web');
  assert.ok(step, 'a step was reported');
  assert.equal(step.phase, 'progressing');
  assert.ok(step.commit && fleetCommits.includes(step.commit), 'the step names its fleet commit');
  assert.ok(step.endedAt >= step.startedAt);
  assert.ok(rec.changes.some((c) => c.reason === 'rollout' && c.deviceIds?.includes('d1')));
  assert.deepEqual(rec.changed('pass'), ['d1']);
});

test('a pass that fails ends its span with the error code', async (t) => {
  const rec = new Recorder();
  const w = new RolloutWorld(1);
  t.after(() => w.cleanup());
  await w.init({ 'deployments/web.yaml': deployment('1.0.0') });
  const o = new Orchestrator({
    dataDir: w.dataDir,
    reposRoot: w.reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    signerEpoch: () => {
      throw new Error('no key');
    },
    telemetry: rec,
  });
  await assert.rejects(o.reconcileNow('broken'), { code: 'ORCH_SIGNER_FAILED' });
  assert.deepEqual(rec.passes, [
    {
      info: { reason: 'broken' },
      result: { outcome: 'error', errorCode: 'ORCH_SIGNER_FAILED', devicesWritten: 0, commits: 0 },
    },
  ]);
});
