/**
 * Progressive rollout on real components (issue 15): `margo serve`, twelve devices enrolled as
 * users enrol them, each running the built agent bundle against Docker. Checked where the truth
 * is: Docker (containers per device's Compose project, their version label, a `docker events`
 * recording), each device's repository (what it was told), the fleet repository
 * (`rollouts/press.json`, the commit log), and the status the operator sees.
 *
 * Fleet: d01, d02 the canaries; line a = d03..d07 (d05, d06 labelled bad=true), line b = d08..d12
 * (d10 bad=true). hello-world 1.1.0 fails on the bad devices (see helloPackages in lab.ts: it
 * needs a folder those devices lack; the label says so).
 * 1. 1.0.0 -> 1.1.0 with waves canary / line-a / line-b, maxConcurrent 3, threshold 2 failures,
 *    onFailure pause: the canary wave passes its gate, line-a trips the threshold, the rollout
 *    pauses; line b (bad d10 too) and the line-a devices not yet told never see 1.1.0 (not told,
 *    no container created); `margo rollout abort` sends every changed device back to 1.0.0.
 * 2. -> 1.2.0 (good everywhere) with waves canary / 50% / rest, maxConcurrent 3: goes to 100% wave
 *    after wave, each wave started only after the previous gate held, never more than 3 devices
 *    changing at once (sampled from the state, from the device repositories + Docker while it
 *    runs, and from Docker's event times afterwards).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RolloutState } from '../../../packages/orchestrator/src/rollout/state.js';
import { loadTestbed, requireComponent } from '../../testbed/env.js';
import { Lab, maxOverlap, type LabDevice, type StatusRow } from './lab.js';

const tag = Date.now().toString(36).slice(-5);
const dev = (n: number) => `p${tag}-${String(n).padStart(2, '0')}`;
const BAD = new Set([5, 6, 10]);
const LINE_A = [3, 4, 5, 6, 7].map(dev);
const LINE_B = [8, 9, 10, 11, 12].map(dev);
const CANARIES = [dev(1), dev(2)];
const DEVICES: LabDevice[] = Array.from({ length: 12 }, (_, i) => {
  const n = i + 1;
  const line = n === 1 || (n >= 3 && n <= 7) ? 'a' : 'b';
  return {
    id: dev(n),
    labels: { site: 'north', line, ...(BAD.has(n) ? { bad: 'true' } : {}) },
    good: !BAD.has(n),
  };
});
const CAP = 3;
const NAME = 'press';

const inFlight = (s: RolloutState | undefined) =>
  s ? Object.values(s.devices).filter((d) => d.status === 'changing' || d.status === 'reverting').length : 0;
const byStatus = (s: RolloutState, status: string) =>
  Object.entries(s.devices)
    .filter(([, d]) => d.status === status)
    .map(([id]) => id)
    .sort();

describe('progressive rollout: 12 agents on Docker', { timeout: 600_000 }, () => {
  let lab: Lab | undefined;
  /** Each device's 1.0.0 container before any rollout. */
  let baseline = new Map<string, { version: string; container: string }>();

  before(async () => {
    if (!loadTestbed()?.components.includes('docker')) return;
    lab = await Lab.withHello('margo-e2e-rollout-', DEVICES, {
      versions: ['1.0.0', '1.1.0', '1.2.0'],
      name: NAME,
      selector: 'site=north',
    });
    baseline = lab.running(NAME);
  });

  after(async () => {
    await lab?.cleanup([NAME]);
  });

  test('a bad version: canary passes, line-a trips the threshold, pause; abort restores 1.0.0', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const x = lab!;
    const t0 = Date.now();
    await x.editDeployment(NAME, (doc) => ({
      ...doc,
      application: { id: 'hello-world', version: '1.1.0' },
      rollout: {
        maxConcurrent: CAP,
        waves: [
          { name: 'canary', devices: CANARIES, gate: { healthySeconds: 5 } },
          { name: 'line-a', selector: { matchLabels: { line: 'a' } }, gate: { healthySeconds: 5 } },
          { name: 'line-b', selector: { matchLabels: { line: 'b' } } },
        ],
        failureThreshold: { count: 2 },
        onFailure: 'pause',
      },
    }));

    let maxChanging = 0;
    const paused = await x.cli.until(240, 'the rollout to 1.1.0 paused', async () => {
      const s = x.rollout(NAME);
      if (!s || s.toVersion !== '1.1.0') return undefined;
      maxChanging = Math.max(maxChanging, inFlight(s));
      assert.notEqual(s.phase, 'done', 'a rollout with 3 failing devices must not finish');
      return s.phase === 'paused' ? s : undefined;
    });
    assert.equal(paused.pause?.reason, 'threshold');
    assert.equal(paused.fromVersion, '1.0.0');
    assert.deepEqual(
      paused.waves.map((w) => [w.name, [...w.devices].sort()]),
      [
        ['canary', CANARIES],
        ['line-a', LINE_A],
        ['line-b', LINE_B],
      ],
    );
    assert.equal(paused.current, 1, 'paused in line-a');
    // The canary wave passed its gate: both healthy for 5 s before line-a started.
    const canaryPassed = Date.parse(paused.waves[0]!.passedAt ?? '');
    assert.ok(canaryPassed > t0, 'the canary gate passed');
    for (const id of CANARIES) {
      const d = paused.devices[id]!;
      assert.equal(d.status, 'healthy', `${id} healthy`);
      assert.ok(canaryPassed - Date.parse(d.since) >= 5000, `${id} healthy 5 s before the gate passed`);
    }
    assert.deepEqual(byStatus(paused, 'failed'), [dev(5), dev(6)], 'the two bad line-a devices failed');
    for (const id of [dev(5), dev(6)])
      assert.match(paused.devices[id]!.error ?? '', /bind source path does not exist|AGENT_COMPOSE_FAILED/);
    for (const id of LINE_B) assert.equal(paused.devices[id]!.status, 'waiting', `${id} not told`);

    // Devices already told finish; nothing new is told while paused.
    const settled = await x.cli.until(120, 'the told devices settled', async () => {
      const s = x.rollout(NAME);
      return s && inFlight(s) === 0 ? s : undefined;
    });
    assert.equal(settled.phase, 'paused');
    const told = Object.entries(settled.devices)
      .filter(([, d]) => d.status !== 'waiting')
      .map(([id]) => id)
      .sort();
    const untold = DEVICES.map((d) => d.id).filter((id) => !told.includes(id));
    assert.ok(untold.length >= LINE_B.length, `line b untouched (untold: ${untold.join(' ')})`);
    for (const id of told) assert.ok(!LINE_B.includes(id), `${id} of line b was told while line-a failed`);

    // Docker: the canaries and the good told devices run 1.1.0; the bad ones run nothing (Compose
    // stopped 1.0.0 before 1.1.0 could not be created); the untold run their 1.0.0 container.
    const run = x.running(NAME);
    for (const id of told) {
      const want = DEVICES.find((d) => d.id === id)!.good ? '1.1.0' : '';
      assert.equal(run.get(id)!.version, want, `${id} runs ${want || 'nothing'} on Docker`);
    }
    const untouched = (when: string) => {
      for (const id of untold) {
        assert.deepEqual(x.running(NAME).get(id), baseline.get(id), `${id}: same 1.0.0 container (${when})`);
        assert.deepEqual(x.everTold(id, NAME), ['1.0.0'], `${id} never told anything but 1.0.0 (${when})`);
        assert.ok(!x.createdVersions(id, NAME).includes('1.1.0'), `${id}: no 1.1.0 container ever (${when})`);
      }
    };
    untouched('paused');

    // What the operator sees: the roll-up and `margo rollout status`.
    const st = await x.status();
    const rollup = st?.deployments.find((d) => d.name === NAME);
    assert.equal(rollup?.rollout?.phase, 'paused', JSON.stringify(rollup?.rollout));
    for (const id of LINE_B) {
      const row: StatusRow | undefined = rollup?.devices.find((r) => r.deviceId === id);
      assert.deepEqual(row?.rollout, { side: 'from', status: 'waiting' }, `${id}: ${JSON.stringify(row)}`);
      assert.equal(row?.state, 'installed', `${id} still runs 1.0.0`);
    }
    for (const id of [dev(5), dev(6)]) {
      const row: StatusRow | undefined = rollup?.devices.find((r) => r.deviceId === id);
      // The agent retries with backoff (`installing` again between attempts); the failure sticks
      // in the rollout.
      assert.deepEqual(row?.rollout, { side: 'to', status: 'failed' }, `${id}: ${JSON.stringify(row)}`);
      assert.match(row?.state ?? '', /^(failed|installing)$/);
    }
    const rs = await x.margo('rollout', 'status', NAME, '-o', 'json');
    assert.equal(rs.code, 0, rs.err);
    for (const s of ['paused', dev(5), dev(6)]) assert.ok(rs.out.includes(s), `rollout status names ${s}`);

    // Abort: every changed device goes back to 1.0.0 (at most 3 at a time).
    const ab = await x.margo('rollout', 'abort', NAME);
    assert.equal(ab.code, 0, `${ab.out}\n${ab.err}`);
    const back = await x.cli.until(240, 'the rollout rolled back', async () => {
      const s = x.rollout(NAME);
      if (!s) return undefined;
      maxChanging = Math.max(maxChanging, inFlight(s));
      return s.phase === 'rolledBack' ? s : undefined;
    });
    assert.equal(back.rollback?.reason, 'aborted');
    for (const id of told) assert.equal(back.devices[id]!.status, 'reverted', `${id} reverted`);
    await x.allInstalled(NAME, '1.0.0');
    for (const id of told) assert.ok(x.everTold(id, NAME).includes('1.1.0'));
    untouched('rolled back');
    assert.ok(maxChanging <= CAP, `at most ${CAP} changing at once (saw ${maxChanging})`);

    // Every decision is a fleet commit: started, paused by the threshold, aborted, rolled back.
    const phases = x.rolloutLog(NAME).map((c) => c.phase);
    for (const p of ['progressing', 'paused', 'rollingBack', 'rolledBack'])
      assert.ok(phases.includes(p), `a commit in phase ${p} (${phases.join(' ')})`);
    t.diagnostic(`told ${told.length}, untold ${untold.length}, max changing ${maxChanging}`);
  });

  test('a good version goes to 100% wave after wave, never more than maxConcurrent changing', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const x = lab!;
    const t0 = Date.now();
    const gates = [4, 3, 0];
    await x.editDeployment(NAME, (doc) => ({
      ...doc,
      application: { id: 'hello-world', version: '1.2.0' },
      rollout: {
        maxConcurrent: CAP,
        waves: [
          { name: 'canary', devices: CANARIES, gate: { healthySeconds: gates[0] } },
          { name: 'half', percent: 50, gate: { healthySeconds: gates[1] } },
          { name: 'rest', percent: 100 },
        ],
        failureThreshold: { count: 1 },
        onFailure: 'pause',
      },
    }));

    // Sampled while it runs: changing devices in the state; on the device side, devices told 1.2.0
    // (their repository, read first) not yet running it on Docker (read second).
    let maxState = 0;
    let maxDevices = 0;
    let samples = 0;
    const done = await x.cli.until(300, 'the rollout to 1.2.0 done', async () => {
      const s = x.rollout(NAME);
      if (!s || s.toVersion !== '1.2.0') return undefined;
      assert.notEqual(s.phase, 'paused', `paused: ${JSON.stringify(s.pause)}`);
      const told = DEVICES.filter((d) => x.toldVersion(d.id, NAME) === '1.2.0').map((d) => d.id);
      const run = x.running(NAME);
      const notYet = told.filter((id) => run.get(id)?.version !== '1.2.0').length;
      samples++;
      maxState = Math.max(maxState, inFlight(s));
      maxDevices = Math.max(maxDevices, notYet);
      assert.ok(inFlight(s) <= CAP, `state: ${inFlight(s)} changing`);
      assert.ok(notYet <= CAP, `${notYet} devices told 1.2.0 and not running it`);
      return s.phase === 'done' ? s : undefined;
    });
    assert.equal(done.fromVersion, '1.0.0', 'from the revision the fleet ran before the aborted rollout');
    assert.deepEqual(
      done.waves.map((w) => w.devices.length),
      [2, 5, 5],
    );
    assert.deepEqual(done.waves[0]!.devices, CANARIES);
    assert.deepEqual(done.waves.flatMap((w) => w.devices).sort(), DEVICES.map((d) => d.id).sort());
    await x.allInstalled(NAME, '1.2.0');

    // Docker's own times: when each device's change began (its old container stopped) and when
    // 1.2.0 started. Waves in order, each after the previous gate held; never more than CAP at once.
    const ev = x.events.filter((e) => e.at >= t0);
    const span = new Map<string, [number, number]>();
    for (const d of DEVICES) {
      const p = x.project(d.id, NAME);
      const mine = ev.filter((e) => e.project === p);
      const c = mine.findIndex((e) => e.action === 'create' && e.version === '1.2.0');
      const started = mine.find((e, i) => i > c && e.action === 'start')?.at;
      assert.ok(c >= 0 && started, `${d.id}: Docker events of its change to 1.2.0`);
      // Its change began with the first event after the container it replaces had started (the
      // old container's kill/stop; earlier events may be a device sent back to 1.0.0 first).
      const before = mine.slice(0, c).map((e) => e.action);
      const begin = mine[before.lastIndexOf('start') + 1]!.at;
      span.set(d.id, [begin, started]);
    }
    done.waves.forEach((w, k) => {
      const passed = Date.parse(w.passedAt ?? '');
      const lastStart = Math.max(...w.devices.map((id) => span.get(id)![1]));
      if (k < done.waves.length - 1) {
        assert.ok(passed >= lastStart + gates[k]! * 1000 - 50, `${w.name}: gate held ${gates[k]} s`);
        const next = done.waves[k + 1]!;
        const nextBegins = Math.min(...next.devices.map((id) => span.get(id)![0]));
        assert.ok(nextBegins >= passed, `${next.name} began after ${w.name}'s gate passed`);
      }
    });
    const overlap = maxOverlap([...span.values()]);
    assert.ok(overlap <= CAP, `Docker: ${overlap} devices changing at once`);
    const phases = x.rolloutLog(NAME).map((c) => c.phase);
    assert.equal(phases.at(-1), 'done');
    t.diagnostic(
      `max changing: state ${maxState}, devices ${maxDevices}, Docker ${overlap} (cap ${CAP}, ${samples} samples); ` +
        `${Math.round((Date.parse(done.finishedAt ?? '') - t0) / 1000)} s to done`,
    );
  });
});
