// Issue 15 wiring, through the real orchestrator over real bare repositories: rollouts start when a
// deployment's revision changes, waves advance on what devices report, every decision is committed
// to rollouts/<name>.json on fleet main before any device main changes, a restart resumes, an
// operator's commit to the state file is honoured, and a fleet-wide cap holds across deployments.
// Every pass is run twice: the second must change nothing.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatRolloutState, pauseRollout, resumeRollout } from '@margo-gitops/orchestrator';
import { bareGit } from './helpers.js';
import { deployment, RolloutWorld } from './rollout-world.js';

const canaryThenAll = (extra = '') =>
  `rollout:\n  maxConcurrent: 2\n  waves:\n    - {name: canary, devices: [d1]}\n    - {percent: 100}\n${extra}`;

async function installed(w: RolloutWorld, version: string, rollout: string): Promise<void> {
  await w.init({ 'deployments/web.yaml': deployment(version, rollout) });
  await w.pass();
  for (let i = 0; w.reportAllChanged().length; i++) {
    assert.ok(i < 10, 'first installation stuck');
    await w.pass();
  }
  if (rollout) assert.equal(w.state()!.phase, 'done');
}

test('canary, then the next wave, then done: never more than maxConcurrent devices changing', async (t) => {
  const w = new RolloutWorld(6);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', '');
  assert.deepEqual(
    w.ids.map((id) => w.versionOf(id)),
    Array(6).fill('1.0.0'),
  );
  assert.equal(w.state(), undefined, 'no rollout without rollout:');
  const before = Object.fromEntries(w.ids.map((id) => [id, w.commits(id)]));

  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0 in waves');
  await w.pass();
  const s = w.state()!;
  assert.equal(s.phase, 'progressing');
  assert.equal(s.toVersion, '1.1.0');
  assert.equal(s.fromVersion, '1.0.0');
  assert.deepEqual(w.inFlight(), ['d1'], 'only the canary is told');
  assert.equal(w.versionOf('d1'), '1.1.0');
  for (const id of w.ids.slice(1)) assert.equal(w.versionOf(id), '1.0.0');
  // The decision was on fleet main before d1's main moved: the fleet commit d1's commit was made
  // from already records d1 as told.
  const from = /Margo-Fleet-Commit: ([0-9a-f]{40})/.exec(
    bareGit(w.dev('d1'), 'log', '-1', '--format=%B', 'main'),
  )![1]!;
  assert.equal(
    (JSON.parse(bareGit(w.fleetDir, 'show', `${from}:rollouts/web.json`)) as typeof s).devices.d1!.status,
    'changing',
  );
  const log = bareGit(w.fleetDir, 'log', '--format=%s%n%b', 'main');
  assert.match(log, /^rollout web: told 1 device\(s\) to change/m);
  assert.match(log, /Margo-Rollout: web\nMargo-Rollout-Phase: progressing\nMargo-Trigger: test/);

  let rounds = 0;
  while (w.state()!.phase !== 'done') {
    assert.ok(++rounds < 10, `rollout stuck: ${JSON.stringify(w.state())}`);
    w.reportAllChanged();
    await w.pass();
    assert.ok(w.inFlight().length <= 2, `at most 2 changing: ${w.inFlight().join(',')}`);
  }
  assert.deepEqual(
    w.ids.map((id) => w.versionOf(id)),
    Array(6).fill('1.1.0'),
  );
  assert.ok(rounds >= 3, `5 devices after the canary at 2 at a time take 3 rounds, took ${rounds}`);
  // Each device got exactly the annotation change of the rollout start? No: only the change itself.
  for (const id of w.ids) assert.ok(w.commits(id) <= before[id]! + 2, `${id}: ${w.history(id).join(' ')}`);
  assert.match(bareGit(w.fleetDir, 'log', '-1', '--format=%B', 'main'), /is rolled out/);
});

test('failure threshold with onFailure rollback: changed devices go back, untouched ones never saw the new revision', async (t) => {
  const w = new RolloutWorld(5);
  t.after(() => w.cleanup());
  const rollout = (extra: string) =>
    `rollout:\n  maxConcurrent: 2\n  waves:\n    - {name: canary, devices: [d1, d2]}\n    - {percent: 100}\n${extra}`;
  await installed(w, '1.0.0', rollout(''));
  const old = Object.fromEntries(w.ids.map((id) => [id, w.fileAt(id, 'web')]));
  assert.equal(w.state()!.phase, 'done');

  w.fleetWrite(
    { 'deployments/web.yaml': deployment('1.1.0', rollout('  onFailure: rollback\n')) },
    'web 1.1.0',
  );
  await w.pass();
  assert.deepEqual(w.inFlight(), ['d1', 'd2']);
  w.report('d1');
  w.report('d2', 'failed');
  await w.pass();
  const s = w.state()!;
  assert.equal(s.phase, 'rollingBack');
  assert.equal(s.rollback?.reason, 'threshold');
  for (const id of ['d1', 'd2'])
    assert.equal(w.fileAt(id, 'web'), old[id], `${id} renders the 1.0.0 bytes again`);
  w.reportAllChanged();
  await w.pass();
  assert.equal(w.state()!.phase, 'rolledBack');
  for (const id of ['d3', 'd4', 'd5'])
    assert.ok(!w.history(id).includes('1.1.0'), `${id}: ${w.history(id).join(' ')}`);
  assert.deepEqual(w.history('d1').slice(-2), ['1.1.0', '1.0.0']);
});

test('a restart in the middle of a wave resumes; no device main gets an extra commit', async (t) => {
  const w = new RolloutWorld(5);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', '');
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0');
  await w.pass();
  w.report('d1');
  await w.pass(); // the canary passed, two devices of the next wave told
  assert.equal(w.inFlight().length, 2);
  const heads = w.heads();
  await w.orch.stop();
  w.orch = w.newOrchestrator();
  await w.pass('restart');
  assert.deepEqual(w.heads(), heads, 'the restarted orchestrator re-derives the same desired states');
  w.reportAllChanged();
  await w.pass();
  assert.equal(w.inFlight().length, 2, 'and carries on with the wave');
  const third = w.newOrchestrator();
  // Even with its local state gone, the desired states come from the fleet: nothing moves.
  const heads2 = w.heads();
  await third.reconcileNow('fresh');
  assert.deepEqual(w.heads(), heads2);
  await third.stop();
});

test("an operator's pause committed to rollouts/web.json is honoured, and resume carries on", async (t) => {
  const w = new RolloutWorld(5);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', '');
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0');
  await w.pass();
  w.fleetWrite(
    { 'rollouts/web.json': formatRolloutState(pauseRollout(w.state()!, w.clock, 'olivia')) },
    'pause',
  );
  w.report('d1');
  const heads = w.heads();
  await w.pass();
  const s = w.state()!;
  assert.equal(s.phase, 'paused');
  assert.equal(s.devices.d1!.status, 'healthy', 'devices told before the pause finish');
  for (const id of w.ids.slice(1)) assert.equal(w.heads()[id], heads[id], `${id} not told while paused`);
  w.fleetWrite({ 'rollouts/web.json': formatRolloutState(resumeRollout(w.state()!, w.clock)) }, 'resume');
  await w.pass();
  assert.equal(w.inFlight().length, 2);
});

test('maxConcurrentChanges caps devices changing across two deployments without rollout:', async (t) => {
  const w = new RolloutWorld(4, { maxConcurrentChanges: 2 });
  t.after(() => w.cleanup());
  await w.init({
    'deployments/web.yaml': deployment('1.0.0'),
    'deployments/api.yaml': deployment('1.0.0').replace('name: web', 'name: api'),
  });
  const pending = () => {
    let n = 0;
    for (const id of w.ids) {
      const h = w.head(w.dev(id));
      if (!h) continue;
      const since = w.reported.get(id);
      const changed = since
        ? bareGit(w.dev(id), 'diff', '--name-only', since, h).split('\n').filter(Boolean).length
        : bareGit(w.dev(id), 'ls-tree', '-r', '--name-only', h).split('\n').filter(Boolean).length;
      n += changed;
    }
    return n;
  };
  let rounds = 0;
  for (;;) {
    await w.pass();
    assert.ok(pending() <= 2, `at most 2 deployment changes in flight, found ${pending()}`);
    if (w.state('web')?.phase === 'done' && w.state('api')?.phase === 'done') break;
    assert.ok(++rounds < 10, 'stuck');
    w.reportAllChanged();
  }
  for (const id of w.ids) {
    assert.equal(w.versionOf(id, 'web'), '1.0.0');
    assert.equal(w.versionOf(id, 'api'), '1.0.0');
  }
  assert.ok(rounds >= 3, `8 changes at 2 at a time take 4 rounds, took ${rounds + 1}`);
});

test('a second revision during a rollout supersedes it: changed devices go back, then follow the new plan', async (t) => {
  const w = new RolloutWorld(4);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', canaryThenAll());
  const r1 = w.state()!.to;
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0');
  await w.pass();
  assert.equal(w.versionOf('d1'), '1.1.0');
  const r2 = w.state()!.to;
  const second = `rollout:\n  waves:\n    - {name: canary, devices: [d2]}\n    - {percent: 100}\n`;
  w.fleetWrite(
    { 'deployments/web.yaml': deployment('1.1.0', second, 'parameters: {greeting: bye}\n') },
    'web 1.1.0 bye',
  );
  await w.pass();
  const s = w.state()!;
  assert.notEqual(s.to, r2);
  assert.equal(s.from, r1, 'from is what the fleet ran before the superseded rollout');
  assert.equal(w.versionOf('d1'), '1.0.0', 'd1 went back to 1.0.0 and waits for its wave');
  assert.equal(w.versionOf('d2'), '1.1.0');
  assert.match(w.fileAt('d2', 'web')!, /bye/);
  for (const id of ['d3', 'd4']) assert.deepEqual(w.history(id), ['1.0.0']);
});

test('editing only the rollout block starts nothing', async (t) => {
  const w = new RolloutWorld(4);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', canaryThenAll());
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0');
  await w.pass();
  const state = bareGit(w.fleetDir, 'show', 'main:rollouts/web.json');
  const heads = w.heads();
  w.fleetWrite(
    {
      'deployments/web.yaml': deployment(
        '1.1.0',
        canaryThenAll('  failureThreshold: {count: 3}\n'),
        'description: now with a threshold\n',
      ),
    },
    'edit the rollout block only',
  );
  await w.pass();
  assert.equal(bareGit(w.fleetDir, 'show', 'main:rollouts/web.json'), state);
  assert.match(bareGit(w.fleetDir, 'log', '-1', '--format=%s', 'main'), /edit the rollout block only/);
  for (const id of w.ids) assert.equal(w.heads()[id], heads[id]);
});

test('a data folder from before rollouts: a deployment devices run is not taken for a first installation', async (t) => {
  const w = new RolloutWorld(4);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', '');
  await w.orch.stop();
  rmSync(join(w.dataDir, 'state', 'orchestrator-rollouts.json'));
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.0.0', canaryThenAll()) }, 'web in waves from now on');
  w.orch = w.newOrchestrator();
  await w.pass('upgrade');
  for (const id of w.ids) assert.equal(w.versionOf(id), '1.0.0', `${id} keeps web`);
  assert.equal(w.state(), undefined, 'nothing to roll out');
  w.reportAllChanged();
  w.fleetWrite({ 'deployments/web.yaml': deployment('1.1.0', canaryThenAll()) }, 'web 1.1.0');
  await w.pass();
  assert.equal(w.state()!.fromVersion, '1.0.0');
  assert.deepEqual(w.inFlight(), ['d1']);
});

test('maintenance window and a gate health time: devices wait, the views say why and until when', async (t) => {
  const w = new RolloutWorld(3);
  t.after(() => w.cleanup());
  await installed(w, '1.0.0', '');
  const h = new Date(w.clock).getUTCHours();
  const hh = (x: number) => `${String(x % 24).padStart(2, '0')}:00`;
  const rollout =
    'rollout:\n  waves:\n    - {name: canary, devices: [d1], gate: {healthySeconds: 600}}\n    - {percent: 100}\n';
  w.fleetWrite(
    {
      'windows/nights.yaml':
        'kind: MaintenanceWindow\nname: nights\nselector: {matchLabels: {site: a}}\ntimeZone: UTC\n' +
        `schedule: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "${hh(h + 2)}", end: "${(h + 3) % 24 === 0 ? '24:00' : hh(h + 3)}"}]\n`,
      'deployments/web.yaml': deployment('1.1.0', rollout),
    },
    'web 1.1.0 at night',
  );
  await w.pass();
  assert.deepEqual(w.inFlight(), [], 'outside the window nobody is told');
  const v = (await w.orch.rolloutView('web'))!;
  assert.equal(v.state.phase, 'progressing');
  assert.deepEqual(
    v.waiting.map((x) => [x.deviceId, x.reason]),
    [['d1', 'window']],
  );
  const opens = v.waiting[0]!.until!;
  assert.equal(new Date(opens).getUTCHours(), (h + 2) % 24);
  assert.equal(v.wakeAt, opens);
  const st = (await w.orch.getFleetStatus()).deployments.find((d) => d.name === 'web')!;
  assert.deepEqual(st.rollout, { phase: 'progressing', wave: 'canary', done: 0, total: 3 });
  assert.equal(st.devices.find((r) => r.deviceId === 'd1')!.waiting?.reason, 'window');
  assert.deepEqual(st.devices.find((r) => r.deviceId === 'd2')!.waiting, { reason: 'wave' });

  w.clock = opens + 1000;
  await w.pass();
  assert.deepEqual(w.inFlight(), ['d1']);
  w.report('d1');
  await w.pass();
  const gate = (await w.orch.rolloutView('web'))!.gate!;
  assert.equal(gate.waitingFor, 'health');
  assert.equal(gate.until, w.clock + 600_000);
  assert.deepEqual(w.inFlight(), []);
  w.clock += 601_000;
  await w.pass();
  assert.deepEqual(w.inFlight(), ['d2', 'd3']);
  assert.deepEqual(
    (await w.orch.rolloutViews()).map((x) => x.name),
    ['web'],
  );
});
