import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateContent } from '../validate-content.js';
import { parseDeploymentIntent, parseFleet, parseMaintenanceWindow } from './index.js';

const head = `kind: Deployment
name: web
application: {id: hello, version: 1.0.0}
targets: {selector: {}}
`;

test('rollout: parsed with defaults filled in', () => {
  const r = parseDeploymentIntent(
    `${head}rollout:
  maxConcurrent: 5
  waves:
    - name: canary
      devices: [edge-1, edge-2]
      gate: {healthySeconds: 300, manual: true}
    - selector: {matchExpressions: [{key: tier, operator: In, values: [1]}]}
    - percent: 50
  failureThreshold: {percent: 10}
  onFailure: rollback
`,
    'deployments/web.yaml',
  );
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.value?.rollout, {
    maxConcurrent: 5,
    waves: [
      { name: 'canary', devices: ['edge-1', 'edge-2'], gate: { healthySeconds: 300, manual: true } },
      {
        name: 'wave-2',
        selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['1'] }] },
        gate: { healthySeconds: 0, manual: false },
      },
      { name: 'wave-3', percent: 50, gate: { healthySeconds: 0, manual: false } },
    ],
    failureThreshold: { percent: 10 },
    onFailure: 'rollback',
  });
});

test('rollout: defaults are one failure and pause, no per-deployment cap', () => {
  const r = parseDeploymentIntent(`${head}rollout: {waves: [{percent: 100}]}\n`);
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.value?.rollout?.failureThreshold, { count: 1 });
  assert.equal(r.value?.rollout?.onFailure, 'pause');
  assert.equal(r.value?.rollout?.maxConcurrent, undefined);
});

const bad: { name: string; rollout: string; code: string; line: number; column?: number }[] = [
  {
    name: 'wave with two ways',
    rollout: 'rollout:\n  waves:\n    - {percent: 10}\n    - {percent: 10, devices: [edge-1]}\n',
    code: 'ROLLOUT_WAVE_INVALID',
    line: 8,
    column: 7,
  },
  {
    name: 'wave with none',
    rollout: 'rollout:\n  waves:\n    - gate: {manual: true}\n',
    code: 'ROLLOUT_WAVE_INVALID',
    line: 7,
  },
  {
    name: 'duplicate wave name',
    rollout: 'rollout:\n  waves:\n    - {name: a, percent: 10}\n    - {name: a, percent: 10}\n',
    code: 'ROLLOUT_WAVE_NAME_DUPLICATE',
    line: 8,
  },
  {
    name: 'device in two waves',
    rollout: 'rollout:\n  waves:\n    - devices: [edge-1]\n    - devices: [edge-2, edge-1]\n',
    code: 'ROLLOUT_WAVE_DEVICE_TWICE',
    line: 8,
  },
  {
    name: 'threshold with count and percent',
    rollout: 'rollout:\n  waves: [{percent: 1}]\n  failureThreshold: {count: 1, percent: 5}\n',
    code: 'ROLLOUT_THRESHOLD_INVALID',
    line: 7,
  },
  { name: 'percent 0', rollout: 'rollout:\n  waves: [{percent: 0}]\n', code: 'ORCH_FLEET_SCHEMA', line: 6 },
  {
    name: 'percent over 100',
    rollout: 'rollout:\n  waves:\n    - percent: 101\n',
    code: 'ORCH_FLEET_SCHEMA',
    line: 7,
  },
  {
    name: 'onFailure unknown',
    rollout: 'rollout:\n  waves: [{percent: 1}]\n  onFailure: retry\n',
    code: 'ORCH_FLEET_SCHEMA',
    line: 7,
  },
  { name: 'no waves', rollout: 'rollout: {maxConcurrent: 2}\n', code: 'ORCH_FLEET_SCHEMA', line: 5 },
  {
    name: 'maxConcurrent 0',
    rollout: 'rollout:\n  maxConcurrent: 0\n  waves: [{percent: 1}]\n',
    code: 'ORCH_FLEET_SCHEMA',
    line: 6,
  },
];
for (const c of bad) {
  test(`rollout: ${c.name} -> ${c.code} at its line`, () => {
    const r = parseDeploymentIntent(head + c.rollout, 'deployments/web.yaml');
    assert.equal(r.value, undefined);
    const f = r.findings.find((x) => x.code === c.code);
    assert.ok(f, JSON.stringify(r.findings));
    assert.equal(f.file, 'deployments/web.yaml');
    assert.equal(f.line, c.line, JSON.stringify(f));
    if (c.column) assert.equal(f.column, c.column);
  });
}

const window = `kind: MaintenanceWindow
name: nights
selector: {matchLabels: {line: a}}
timeZone: Europe/Berlin
schedule:
  - days: [mon, tue]
    start: 22:00
    end: 04:00
`;

test('window: parsed (unquoted HH:MM stays a string under YAML 1.2)', () => {
  const r = parseMaintenanceWindow(window, 'windows/nights.yaml');
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.value, {
    kind: 'MaintenanceWindow',
    name: 'nights',
    selector: { matchLabels: { line: 'a' } },
    timeZone: 'Europe/Berlin',
    schedule: [{ days: ['mon', 'tue'], start: '22:00', end: '04:00' }],
  });
});

const badWindows: { name: string; text: string; code: string; line: number }[] = [
  {
    name: 'unknown zone',
    text: window.replace('Europe/Berlin', 'Europe/Atlantis'),
    code: 'ROLLOUT_WINDOW_TIMEZONE_INVALID',
    line: 4,
  },
  {
    name: 'empty slot',
    text: window.replace('04:00', '22:00'),
    code: 'ROLLOUT_WINDOW_TIME_INVALID',
    line: 8,
  },
  { name: 'bad hour', text: window.replace('22:00', '25:00'), code: 'ORCH_FLEET_SCHEMA', line: 7 },
  { name: 'start 24:00', text: window.replace('22:00', '24:00'), code: 'ORCH_FLEET_SCHEMA', line: 7 },
  { name: 'bad day', text: window.replace('tue', 'tuesday'), code: 'ORCH_FLEET_SCHEMA', line: 6 },
  {
    name: 'no selector',
    text: window.replace('selector: {matchLabels: {line: a}}\n', ''),
    code: 'ORCH_FLEET_SCHEMA',
    line: 1,
  },
  {
    name: 'file name',
    text: window.replace('name: nights', 'name: days'),
    code: 'ORCH_FLEET_NAME_MISMATCH',
    line: 2,
  },
];
for (const c of badWindows) {
  test(`window: ${c.name} -> ${c.code} at its line`, () => {
    const r = parseMaintenanceWindow(c.text, 'windows/nights.yaml');
    const f = r.findings.find((x) => x.code === c.code);
    assert.ok(f, JSON.stringify(r.findings));
    assert.equal(f.line, c.line, JSON.stringify(f));
  });
}

test('window: 00:00-24:00 is the whole day and valid', () => {
  const r = parseMaintenanceWindow(window.replace('22:00', '00:00').replace('04:00', '24:00'));
  assert.deepEqual(r.findings, []);
});

test('parseFleet: reads windows/ and refuses a duplicate', () => {
  const fleet = parseFleet(
    new Map([
      ['windows/nights.yaml', window],
      ['windows/nights.yml', window],
      ['windows/README.md', '# not a window'],
    ]),
  );
  assert.deepEqual([...(fleet.windows?.keys() ?? [])], ['nights']);
  assert.deepEqual(
    fleet.findings.map((f) => f.code),
    ['ORCH_FLEET_DUPLICATE'],
  );
});

test('margo validate (validateContent) checks a fleet maintenance window and a rollout', () => {
  const w = validateContent(
    `apiVersion: fleet.margo-gitops.io/v1alpha1\n${window.replace('Europe/Berlin', 'Mars/Base')}`,
    {
      file: 'windows/nights.yaml',
    },
  );
  assert.equal(w.kind, 'FleetMaintenanceWindow');
  assert.deepEqual(
    w.findings.map((f) => [f.code, f.line]),
    [['ROLLOUT_WINDOW_TIMEZONE_INVALID', 5]],
  );
  const d = validateContent(`apiVersion: fleet.margo-gitops.io/v1alpha1\n${head}rollout:\n  waves: [{}]\n`);
  assert.equal(d.kind, 'FleetDeployment');
  assert.deepEqual(
    d.findings.map((f) => f.code),
    ['ROLLOUT_WAVE_INVALID'],
  );
});
