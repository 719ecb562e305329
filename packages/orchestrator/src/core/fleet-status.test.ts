import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeploymentState, DeploymentStatus, FleetDevice } from '@margo-gitops/spec';
import type { DeploymentOutcome } from './desired-state.js';
import { rollupFleetStatus, type DeviceView, type RowState } from './fleet-status.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const device = (id: string): FleetDevice => ({ kind: 'Device', id, labels: {}, expectedReportSeconds: 300 });
const outcome = (
  id: string,
  status: DeploymentOutcome['status'],
  extra: Partial<DeploymentOutcome> = {},
): DeploymentOutcome => ({
  deployment: 'web',
  deviceId: id,
  deploymentId: `dep-${id}`,
  status,
  applicationId: 'hello',
  version: '1.0.0',
  ...extra,
});
const report = (
  id: string,
  state: DeploymentState,
  error?: { code: string; message: string },
): Map<string, DeploymentStatus> =>
  new Map([
    [
      `dep-${id}`,
      {
        kind: 'DeploymentStatus',
        apiVersion: 'x',
        deploymentId: `dep-${id}`,
        state,
        components: [],
        original: {},
        ...(error ? { error } : {}),
      },
    ],
  ]);

const cases: { name: string; view: DeviceView; want: RowState; reason?: RegExp }[] = [
  {
    name: 'installed and fresh',
    view: {
      device: device('a'),
      outcomes: [outcome('a', 'matched')],
      reportedAt: NOW - 10_000,
      statuses: report('a', 'installed'),
      changedAt: { web: NOW - 60_000 },
    },
    want: 'installed',
  },
  {
    name: 'installed but silent too long -> unknown',
    view: {
      device: device('b'),
      outcomes: [outcome('b', 'matched')],
      reportedAt: NOW - 301_000,
      statuses: report('b', 'installed'),
      changedAt: {},
    },
    want: 'unknown',
    reason: /more than 300s/,
  },
  {
    name: 'no report for long but polling (nothing to report) -> its state',
    view: {
      device: device('p'),
      outcomes: [outcome('p', 'matched')],
      reportedAt: NOW - 3_600_000,
      seenAt: NOW - 2000,
      statuses: report('p', 'installed'),
      changedAt: { web: NOW - 7_200_000 },
    },
    want: 'installed',
  },
  {
    name: 'not seen for longer than expected, whatever its own clock wrote -> unknown',
    view: {
      device: device('q'),
      outcomes: [outcome('q', 'matched')],
      reportedAt: NOW + 60_000, // a device clock running ahead
      seenAt: NOW - 301_000,
      statuses: report('q', 'installed'),
      changedAt: {},
    },
    want: 'unknown',
    reason: /no report or poll for more than 300s/,
  },
  {
    name: 'device clock 10 min behind, but it acted on the current desired commit -> its state',
    view: {
      device: device('u'),
      outcomes: [outcome('u', 'matched')],
      reportedAt: NOW - 600_000,
      seenAt: NOW - 1000,
      mainCommit: 'a'.repeat(40),
      observedCommit: 'a'.repeat(40),
      statuses: report('u', 'installed'),
      changedAt: { web: NOW - 5000 },
    },
    want: 'installed',
  },
  {
    name: 'same clock, acted on an older desired commit -> pending',
    view: {
      device: device('v'),
      outcomes: [outcome('v', 'matched')],
      reportedAt: NOW - 600_000,
      seenAt: NOW - 1000,
      mainCommit: 'a'.repeat(40),
      observedCommit: 'b'.repeat(40),
      statuses: report('v', 'installed'),
      changedAt: { web: NOW - 5000 },
    },
    want: 'pending',
    reason: /not reported since the change/,
  },
  {
    name: 'never reported -> unknown',
    view: { device: device('c'), outcomes: [outcome('c', 'matched')], statuses: new Map(), changedAt: {} },
    want: 'unknown',
    reason: /never reported/,
  },
  {
    name: 'report predates the change -> pending',
    view: {
      device: device('d'),
      outcomes: [outcome('d', 'matched')],
      reportedAt: NOW - 20_000,
      statuses: report('d', 'installed'),
      changedAt: { web: NOW - 10_000 },
    },
    want: 'pending',
    reason: /not reported since the change/,
  },
  {
    // Git commit times have whole seconds: a report 300 ms after a change at .500 carries .000.
    name: 'report in the same second as the change, after it -> its state',
    view: {
      device: device('s'),
      outcomes: [outcome('s', 'matched')],
      reportedAt: NOW - 10_000,
      statuses: report('s', 'installed'),
      changedAt: { web: NOW - 10_000 + 500 },
    },
    want: 'installed',
  },
  {
    name: 'report in the second before the change -> pending',
    view: {
      device: device('t'),
      outcomes: [outcome('t', 'matched')],
      reportedAt: NOW - 11_000,
      statuses: report('t', 'installed'),
      changedAt: { web: NOW - 10_000 + 500 },
    },
    want: 'pending',
    reason: /not reported since the change/,
  },
  {
    name: 'not yet reported this deployment -> pending',
    view: {
      device: device('e'),
      outcomes: [outcome('e', 'matched')],
      reportedAt: NOW - 1000,
      statuses: new Map(),
      changedAt: {},
    },
    want: 'pending',
  },
  {
    name: 'failed with the device error',
    view: {
      device: device('f'),
      outcomes: [outcome('f', 'matched')],
      reportedAt: NOW - 1000,
      statuses: report('f', 'failed', { code: 'AGENT_X', message: 'boom' }),
      changedAt: {},
    },
    want: 'failed',
  },
  {
    name: 'not matched with reason',
    view: {
      device: device('g'),
      outcomes: [outcome('g', 'not-matched', { reason: 'needs 4Gi memory, device reports 2Gi' })],
      reportedAt: NOW,
      statuses: new Map(),
      changedAt: {},
    },
    want: 'not-matched',
    reason: /4Gi/,
  },
  {
    name: 'orchestrator error',
    view: {
      device: device('h'),
      outcomes: [
        outcome('h', 'error', {
          code: 'ORCH_APP_NOT_FOUND',
          reason: 'application hello is not in the catalog',
        }),
      ],
      statuses: new Map(),
      changedAt: {},
    },
    want: 'error',
  },
];

for (const c of cases) {
  test(`rollup: ${c.name}`, () => {
    const s = rollupFleetStatus({
      now: NOW,
      fleetCommit: 'f',
      catalogCommit: 'c',
      findings: [],
      intents: [{ name: 'web', applicationId: 'hello' }],
      devices: [c.view],
    });
    const row = s.deployments[0]!.devices[0]!;
    assert.equal(row.state, c.want);
    if (c.reason) assert.match(row.reason ?? '', c.reason);
    assert.equal(s.deployments[0]!.counts[c.want], 1);
  });
}

test('rollup: counts, errors and an intent matching nothing', () => {
  const s = rollupFleetStatus({
    now: NOW,
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    intents: [
      { name: 'web', applicationId: 'hello' },
      { name: 'idle', applicationId: 'x' },
    ],
    devices: cases.map((c) => c.view),
  });
  const web = s.deployments.find((d) => d.name === 'web')!;
  assert.equal(web.total, cases.length);
  assert.equal(web.counts.unknown, cases.filter((c) => c.want === 'unknown').length);
  assert.deepEqual(web.errors.map((e) => e.code).sort(), ['AGENT_X', 'ORCH_APP_NOT_FOUND']);
  assert.equal(s.deployments.find((d) => d.name === 'idle')!.total, 0);
  assert.deepEqual(s.devices.find((d) => d.deviceId === 'b')?.reporting, 'stale');
  const polling = s.devices.find((d) => d.deviceId === 'p')!;
  assert.equal(polling.reporting, 'reporting');
  assert.equal(polling.lastSeenAt, new Date(NOW - 2000).toISOString());
  assert.equal(polling.lastReportAt, new Date(NOW - 3_600_000).toISOString());
  assert.equal(polling.observedCommit, undefined);
  const u = s.devices.find((d) => d.deviceId === 'u')!;
  assert.deepEqual([u.observedCommit, u.upToDate], ['a'.repeat(40), true]);
  assert.equal(s.devices.find((d) => d.deviceId === 'v')!.upToDate, false);
});

test('rollup: deployments still reported but no longer desired are listed as removals', () => {
  const statuses = new Map<string, DeploymentStatus>([
    ...report('x', 'installed'),
    [
      'old-1',
      {
        kind: 'DeploymentStatus',
        apiVersion: 'x',
        deploymentId: 'old-1',
        state: 'removing',
        components: [],
        original: {},
      },
    ],
    [
      'old-2',
      {
        kind: 'DeploymentStatus',
        apiVersion: 'x',
        deploymentId: 'old-2',
        state: 'removed',
        components: [],
        original: {},
      },
    ],
    [
      'old-3',
      {
        kind: 'DeploymentStatus',
        apiVersion: 'x',
        deploymentId: 'old-3',
        state: 'failed',
        error: { code: 'AGENT_Y', message: 'stuck' },
        components: [],
        original: {},
      },
    ],
  ]);
  const s = rollupFleetStatus({
    now: NOW,
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    intents: [{ name: 'web', applicationId: 'hello' }],
    devices: [
      { device: device('x'), outcomes: [outcome('x', 'matched')], reportedAt: NOW, statuses, changedAt: {} },
    ],
  });
  assert.deepEqual(s.removals, [
    { deviceId: 'x', deploymentId: 'old-1', state: 'removing' },
    { deviceId: 'x', deploymentId: 'old-3', state: 'failed', error: { code: 'AGENT_Y', message: 'stuck' } },
  ]);
});

test('rollout roll-up: the deployment line, each device side and status, why devices wait, holds', async () => {
  const { createRollout } = await import('../rollout/state.js');
  const { state } = createRollout({
    deployment: 'web',
    from: 'r1',
    to: 'r2',
    spec: {
      waves: [
        { name: 'canary', devices: ['a'], gate: { healthySeconds: 0, manual: false } },
        { name: 'rest', percent: 100, gate: { healthySeconds: 0, manual: false } },
      ],
      failureThreshold: { count: 1 },
      onFailure: 'pause',
    },
    targets: ['a', 'b', 'c'].map((deviceId) => ({ deviceId, labels: {} })),
    now: NOW,
  });
  state.devices.a!.status = 'healthy';
  state.current = 1;
  state.devices.b!.status = 'changing';
  const view = (id: string, extra: Partial<DeviceView> = {}): DeviceView => ({
    device: device(id),
    outcomes: [outcome(id, 'matched')],
    reportedAt: NOW - 1000,
    statuses: report(id, 'installed'),
    changedAt: {},
    ...extra,
  });
  const st = rollupFleetStatus({
    now: NOW,
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    intents: [{ name: 'web', applicationId: 'hello' }],
    devices: [view('a'), view('b'), view('c', { hold: { reason: 'night shift', since: 'x' } })],
    rollouts: new Map([
      ['web', { state, waiting: [{ deviceId: 'c', reason: 'hold' as const, hold: 'night shift' }] }],
    ]),
  });
  const web = st.deployments[0]!;
  assert.deepEqual(web.rollout, { phase: 'progressing', wave: 'rest', done: 1, total: 3 });
  const row = (id: string) => web.devices.find((d) => d.deviceId === id)!;
  assert.deepEqual(row('a').rollout, { side: 'to', status: 'healthy' });
  assert.deepEqual(row('b').rollout, { side: 'to', status: 'changing' });
  assert.deepEqual(row('c').rollout, { side: 'from', status: 'waiting' });
  assert.deepEqual(row('c').waiting, { reason: 'hold', hold: 'night shift' });
  assert.deepEqual(st.devices.find((d) => d.deviceId === 'c')!.hold, { reason: 'night shift', since: 'x' });
  // A later wave not started: waiting for wave.
  state.current = 0;
  state.devices.b!.status = 'waiting';
  const st2 = rollupFleetStatus({
    now: NOW,
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    intents: [{ name: 'web', applicationId: 'hello' }],
    devices: [view('b')],
    rollouts: new Map([['web', { state }]]),
  });
  assert.deepEqual(st2.deployments[0]!.devices[0]!.waiting, { reason: 'wave' });
  assert.equal(st2.deployments[0]!.rollout!.wave, 'canary');
  // Paused: a later wave has still not started, and status says so.
  const st3 = rollupFleetStatus({
    now: NOW,
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    intents: [{ name: 'web', applicationId: 'hello' }],
    devices: [view('b')],
    rollouts: new Map([['web', { state: { ...state, phase: 'paused' as const } }]]),
  });
  assert.deepEqual(st3.deployments[0]!.devices[0]!.waiting, { reason: 'wave' });
});
