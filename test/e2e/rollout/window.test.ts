/**
 * A real, short maintenance window on real components (issue 15): `margo serve`, three devices
 * running the built agent bundle against Docker. The window (`windows/line-a-shift.yaml`, zone
 * Asia/Kathmandu, UTC+05:45, so a server reading the slot in UTC or in its own zone opens it at
 * the wrong time) opens at the next whole minute at least 55 s away and stays open 5 minutes.
 * hello-world 1.0.0 -> 1.2.0 in a one-wave rollout: w03 (in no window group: always open)
 * changes at once; w01 and w02 (group zone=a) keep running 1.0.0, untold, while status says
 * `waiting for window` with the opening time; when the window opens the change reaches them, not
 * a moment before (their repositories still name 1.0.0 and their containers are the same up to
 * the opening; Docker's events show their 1.2.0 containers created after it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { loadTestbed, requireComponent } from '../../testbed/env.js';
import { Lab, type LabDevice } from './lab.js';

const tag = Date.now().toString(36).slice(-5);
const [W1, W2, W3] = ['01', '02', '03'].map((n) => `w${tag}-${n}`) as [string, string, string];
const DEVICES: LabDevice[] = [
  { id: W1, labels: { site: 'west', zone: 'a' }, good: true },
  { id: W2, labels: { site: 'west', zone: 'a' }, good: true },
  { id: W3, labels: { site: 'west', zone: 'b' }, good: true },
];
const NAME = 'line';
const TZ = 'Asia/Kathmandu';

/** Local day (`mon`...) and `HH:MM` of instant `at` in time zone `tz`. */
function local(at: number, tz: string): { day: string; hhmm: string } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { day: get('weekday').toLowerCase().slice(0, 3), hhmm: `${get('hour')}:${get('minute')}` };
}

describe('a real maintenance window', { timeout: 420_000 }, () => {
  let lab: Lab | undefined;
  let baseline = new Map<string, { version: string; container: string }>();

  before(async () => {
    if (!loadTestbed()?.components.includes('docker')) return;
    lab = await Lab.withHello('margo-e2e-window-', DEVICES, {
      versions: ['1.0.0', '1.2.0'],
      name: NAME,
      selector: 'site=west',
    });
    baseline = lab.running(NAME);
  });

  after(async () => {
    await lab?.cleanup([NAME]);
  });

  test('devices outside their window wait, status says so, the change arrives when it opens', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const x = lab!;
    // Kathmandu's offset is whole minutes: its minutes start with UTC's.
    const openAt = Math.ceil((Date.now() + 55_000) / 60_000) * 60_000;
    const start = local(openAt, TZ);
    const end = local(openAt + 5 * 60_000, TZ);
    await x.writeFleetFile(
      'windows/line-a-shift.yaml',
      stringify({
        apiVersion: 'fleet.margo-gitops.io/v1alpha1',
        kind: 'MaintenanceWindow',
        name: 'line-a-shift',
        selector: { matchLabels: { zone: 'a' } },
        timeZone: TZ,
        schedule: [{ days: [start.day], start: start.hhmm, end: end.hhmm }],
      }),
    );
    await x.editDeployment(NAME, (doc) => ({
      ...doc,
      application: { id: 'hello-world', version: '1.2.0' },
      rollout: { waves: [{ name: 'all', percent: 100 }] },
    }));

    // w03 is in no window: it changes now.
    await x.cli.until(120, `${W3} runs 1.2.0`, async () => x.running(NAME).get(W3)?.version === '1.2.0');
    const st = await x.cli.until(60, 'status: w01 and w02 waiting for the window', async () => {
      const s = await x.status();
      const rows = s?.deployments.find((d) => d.name === NAME)?.devices ?? [];
      const w = [W1, W2].map((id) => rows.find((r) => r.deviceId === id));
      return w.every((r) => r?.waiting?.reason === 'window') ? w : undefined;
    });
    for (const row of st) assert.equal(Date.parse(row!.waiting!.until ?? ''), openAt, JSON.stringify(row));
    assert.ok(Date.now() < openAt, 'checked before the window opens (setup too slow otherwise)');
    const table = await x.margo('status', NAME);
    assert.match(table.out, /waiting for window/, table.out);
    const state = x.rollout(NAME)!;
    assert.equal(state.devices[W1]!.status, 'waiting');
    assert.equal(state.devices[W2]!.status, 'waiting');

    // Until the opening nothing reaches them: not told, same 1.0.0 containers.
    while (Date.now() < openAt - 1500) {
      for (const id of [W1, W2]) {
        assert.equal(x.toldVersion(id, NAME), '1.0.0', `${id} told before its window`);
        assert.deepEqual(x.running(NAME).get(id), baseline.get(id), `${id} changed before its window`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }

    await x.cli.until(150, 'w01 and w02 run 1.2.0 after the opening', async () => {
      const run = x.running(NAME);
      return run.get(W1)?.version === '1.2.0' && run.get(W2)?.version === '1.2.0';
    });
    const delays: number[] = [];
    for (const id of [W1, W2]) {
      const p = x.project(id, NAME);
      const created = x.events.filter(
        (e) => e.project === p && e.action === 'create' && e.version === '1.2.0',
      );
      assert.ok(created.length >= 1, `${id}: a 1.2.0 container created`);
      assert.ok(created[0]!.at >= openAt, `${id}: created ${openAt - created[0]!.at} ms before the opening`);
      delays.push(created[0]!.at - openAt);
    }
    await x.allInstalled(NAME, '1.2.0');
    await x.cli.until(60, 'the rollout done', async () => x.rollout(NAME)?.phase === 'done');
    t.diagnostic(
      `window opened ${new Date(openAt).toISOString()} (${start.day} ${start.hhmm} ${TZ}); 1.2.0 containers created ${delays.map((d) => `${(d / 1000).toFixed(1)} s`).join(', ')} after`,
    );
  });
});
