import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FleetStatus } from '@margo-gitops/orchestrator';
import { maskSealed } from './git-read.js';
import { ConsoleSnapshots, type FleetEvent } from './snapshot.js';
import { changedKeys, deviceItems, fingerprints, overview, pageDevices, parsePageQuery } from './views.js';

type Row = FleetStatus['deployments'][number]['devices'][number];

function fleet(
  n: number,
  opts: { failed?: string[]; stale?: string[]; held?: string[]; state?: Row['state'] } = {},
): FleetStatus {
  const ids = Array.from({ length: n }, (_, i) => `dev${String(i).padStart(5, '0')}`);
  const rows: Row[] = ids.map((id) => ({
    deviceId: id,
    deploymentId: `d-${id}`,
    state: opts.failed?.includes(id) ? 'failed' : (opts.state ?? 'installed'),
    ...(opts.failed?.includes(id) ? { error: { code: 'AGENT_COMPOSE_FAILED', message: 'boom' } } : {}),
  }));
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return {
    generatedAt: '2026-12-03T08:00:00.000Z',
    fleetCommit: 'f'.repeat(40),
    catalogCommit: 'c'.repeat(40),
    findings: [],
    removals: [],
    deployments: [
      {
        name: 'hello',
        applicationId: 'hello-world',
        version: '1.0.0',
        counts: counts as FleetStatus['deployments'][number]['counts'],
        total: rows.length,
        errors: rows.filter((r) => r.error).map((r) => ({ deviceId: r.deviceId, ...r.error! })),
        devices: rows,
      },
    ],
    devices: ids.map((id) => ({
      deviceId: id,
      reporting: opts.stale?.includes(id) ? 'stale' : 'reporting',
      lastSeenAt: '2026-12-03T07:59:00.000Z',
      expectedReportSeconds: 300,
      deployments: 1,
      ...(opts.held?.includes(id) ? { hold: { reason: 'maintenance' } } : {}),
    })),
  };
}

test('device list: problems first, then by id; filters, search and paging', () => {
  const st = fleet(5, { failed: ['dev00003'], stale: ['dev00001'], held: ['dev00004'] });
  const items = deviceItems(st);
  assert.deepEqual(
    items.map((d) => d.deviceId),
    ['dev00003', 'dev00000', 'dev00001', 'dev00002', 'dev00004'],
  );
  assert.deepEqual(items[0]!.problem, { code: 'AGENT_COMPOSE_FAILED', message: 'hello: boom' });
  const q = (s: string) => {
    const p = parsePageQuery(new URLSearchParams(s));
    assert.notEqual(typeof p, 'string', String(p));
    return pageDevices(items, p as Exclude<typeof p, string>);
  };
  const ids = (s: string) => q(s).items.map((d) => d.deviceId);
  assert.equal(q('').total, 5);
  assert.deepEqual(ids('filter=stale'), ['dev00001']);
  assert.deepEqual(ids('filter=held'), ['dev00004']);
  assert.deepEqual(ids('filter=problems'), ['dev00003']);
  assert.equal(q('filter=reporting').total, 4);
  assert.deepEqual(ids('q=0002'), ['dev00002']);
  assert.deepEqual(ids('offset=1&limit=2'), ['dev00000', 'dev00001']);
  assert.equal(q('offset=9').items.length, 0);
  for (const bad of ['limit=0', 'limit=501', 'offset=-1', 'limit=x', 'filter=odd'])
    assert.equal(typeof parsePageQuery(new URLSearchParams(bad)), 'string', bad);
});

test('overview: counts by freshness, deployments with non-zero counts, problems worst first', () => {
  const st = fleet(4, { failed: ['dev00002'], stale: ['dev00001'], held: ['dev00000'] });
  st.devices[3]!.repoError = { code: 'ORCH_DEVICE_REPO_WRITE_FAILED', message: 'disk full' };
  st.findings.push({
    code: 'ORCH_FLEET_SCHEMA',
    severity: 'error',
    message: 'bad',
    path: '/x',
    file: 'deployments/x.yaml',
    line: 3,
  });
  const o = overview(st, deviceItems(st), [
    {
      name: 'hello',
      state: {
        phase: 'progressing',
        current: 1,
        waves: [{ name: 'canary' }, { name: 'w2' }, { name: 'w3' }],
      },
    },
  ]);
  assert.deepEqual(o.devices, { total: 4, reporting: 3, stale: 1, never: 0, held: 1, withProblems: 2 });
  assert.deepEqual(o.deployments[0], {
    name: 'hello',
    app: 'hello-world',
    version: '1.0.0',
    targets: 4,
    counts: { installed: 3, failed: 1 },
    rollout: { phase: 'progressing', wave: 2, waves: 3, waveName: 'w2' },
  });
  assert.deepEqual(
    o.problems.map((p) => [p.kind, p.id]),
    [
      ['finding', 'deployments/x.yaml:3'],
      ['device', 'dev00003'],
      ['deployment', 'hello'],
      ['device', 'dev00002'],
    ],
  );
});

test('fingerprints: only what changed is named; lastSeenAt moving alone is no change', () => {
  const a = fleet(3);
  const b = fleet(3);
  b.devices[0]!.lastSeenAt = '2026-12-03T08:01:00.000Z';
  const fa = fingerprints(a, deviceItems(a), []);
  assert.deepEqual(changedKeys(fa.devices, fingerprints(b, deviceItems(b), []).devices), []);
  const c = fleet(3, { failed: ['dev00001'] });
  const fc = fingerprints(c, deviceItems(c), []);
  assert.deepEqual(changedKeys(fa.devices, fc.devices), ['dev00001']);
  assert.deepEqual(changedKeys(fa.deployments, fc.deployments), ['hello']);
  assert.deepEqual(changedKeys(fa.devices, fingerprints(fleet(2), deviceItems(fleet(2)), []).devices), [
    'dev00002',
  ]);
});

test('snapshots: one computation shared by concurrent readers; fleet events only when something changed', async () => {
  let status = fleet(3);
  let computations = 0;
  const snaps = new ConsoleSnapshots(
    () => ({
      getFleetStatus: async () => {
        computations++;
        await new Promise((r) => setTimeout(r, 20));
        return structuredClone(status);
      },
    }),
    { debounceMs: 10, tickMs: 60_000 },
  );
  try {
    const [x, y, z] = await Promise.all([snaps.get(), snaps.get(), snaps.get()]);
    assert.equal(computations, 1);
    assert.ok(x === y && y === z);
    assert.equal(await snaps.get(), x, 'no change: the same snapshot');
    const events: FleetEvent[] = [];
    const off = snaps.listen((e) => events.push(e));
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    snaps.telemetry.fleetChanged({ reason: 'seen', deviceIds: ['dev00000'] });
    await until(() => computations === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(computations, 2, 'recomputed after the change');
    assert.equal(events.length, 0, 'nothing visible changed');
    status = fleet(3, { failed: ['dev00002'] });
    snaps.telemetry.fleetChanged({ reason: 'status', deviceIds: ['dev00002'] });
    snaps.telemetry.fleetChanged({ reason: 'status', deviceIds: ['dev00002'] });
    await until(() => events.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(computations, 3, 'two changes within the debounce: one computation');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.devices, ['dev00002']);
    assert.deepEqual(events[0]!.deployments, ['hello']);
    off();
    assert.equal(snaps.listenerCount, 0);
  } finally {
    snaps.close();
  }
});

test('maskSealed: every sealed value becomes <sealed>, the rest of the file is untouched', () => {
  const yaml = [
    'kind: Deployment',
    'name: db',
    'parameters:',
    '  USER: app',
    'secrets:',
    '  PASSWORD:',
    '    sealed:',
    '      dev1: mgs1.AAAA',
    '      "dev-2": >-',
    '        mgs1.BBBB',
    '        CCCC',
    '  TOKEN:',
    '    sealed: {dev1: mgs1.DDDD}',
    'dependsOn: []',
    '',
  ].join('\n');
  const out = maskSealed(yaml);
  assert.ok(!/mgs1|BBBB|CCCC|DDDD/.test(out), out);
  assert.equal(
    out,
    [
      'kind: Deployment',
      'name: db',
      'parameters:',
      '  USER: app',
      'secrets:',
      '  PASSWORD:',
      '    sealed:',
      '      dev1: <sealed>',
      '      "dev-2": <sealed>',
      '  TOKEN:',
      '    sealed: <sealed>',
      'dependsOn: []',
      '',
    ].join('\n'),
  );
  assert.equal(maskSealed('secrets: {A: {sealed: {d: x}}}\n'), 'secrets: <sealed>\n');
});

test('snapshots: an old one is answered at once and refreshed behind; a new fleet head is a change', async () => {
  let now = 0;
  let head = 'f'.repeat(40);
  let computations = 0;
  let gate: Promise<void> = Promise.resolve();
  const snaps = new ConsoleSnapshots(
    () => ({
      getFleetStatus: async () => {
        computations++;
        await gate;
        return { ...fleet(2), fleetCommit: head };
      },
    }),
    { maxAgeMs: 1000, waitForFreshMs: 20, now: () => now, fleetHead: async () => head },
  );
  try {
    const first = await snaps.get();
    now = 5000;
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const t0 = Date.now();
    assert.equal(await snaps.get(), first, 'the old snapshot, at once');
    assert.ok(Date.now() - t0 < 15, 'no wait for an age-only refresh');
    assert.equal(computations, 2, 'refreshing behind');
    open();
    await new Promise((r) => setTimeout(r, 10));
    const second = await snaps.get();
    assert.notEqual(second, first);
    head = 'e'.repeat(40);
    const third = await snaps.get();
    assert.equal(computations, 3, 'the fleet head moved: recomputed');
    assert.equal(third.status.fleetCommit, head);
    await snaps.get();
    assert.equal(computations, 3, 'the same head again: no recomputation');
  } finally {
    snaps.close();
  }
});
