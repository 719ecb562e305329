import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeploymentFingerprint } from './fingerprint.js';
import { changeKind, planActions } from './plan-actions.js';

const fp = (
  name: string,
  opts: { deps?: string[]; src?: string; cfg?: string; type?: 'compose' | 'helm.v3'; comps?: string[] } = {},
): DeploymentFingerprint => ({
  id: `id-${name}`,
  name,
  profileType: opts.type ?? 'compose',
  namespace: 'ns',
  dependsOn: opts.deps ?? [],
  components: (opts.comps ?? ['c']).map((c) => ({
    name: c,
    source: opts.src ?? 's1',
    config: opts.cfg ?? 'k1',
  })),
});

const show = (desired: DeploymentFingerprint[], applied: DeploymentFingerprint[]): string[] =>
  planActions(desired, applied).actions.map((a) => `${a.kind}:${a.name}`);

test('planner: table of desired vs applied -> actions', () => {
  const cases: {
    title: string;
    desired: DeploymentFingerprint[];
    applied: DeploymentFingerprint[];
    expected: string[];
  }[] = [
    { title: 'empty', desired: [], applied: [], expected: [] },
    { title: 'fresh install', desired: [fp('a')], applied: [], expected: ['install:a'] },
    { title: 'noop', desired: [fp('a')], applied: [fp('a')], expected: ['noop:a'] },
    {
      title: 'new revision -> upgrade',
      desired: [fp('a', { src: 's2' })],
      applied: [fp('a')],
      expected: ['upgrade:a'],
    },
    {
      title: 'parameter change -> reconfigure',
      desired: [fp('a', { cfg: 'k2' })],
      applied: [fp('a')],
      expected: ['reconfigure:a'],
    },
    {
      title: 'source and config change -> upgrade',
      desired: [fp('a', { src: 's2', cfg: 'k2' })],
      applied: [fp('a')],
      expected: ['upgrade:a'],
    },
    {
      title: 'component added -> upgrade',
      desired: [fp('a', { comps: ['c', 'd'] })],
      applied: [fp('a')],
      expected: ['upgrade:a'],
    },
    {
      title: 'profile type change -> upgrade',
      desired: [fp('a', { type: 'helm.v3' })],
      applied: [fp('a')],
      expected: ['upgrade:a'],
    },
    { title: 'removal', desired: [], applied: [fp('a')], expected: ['remove:a'] },
    {
      title: 'installs in dependency order',
      desired: [fp('web', { deps: ['api'] }), fp('api', { deps: ['db'] }), fp('db')],
      applied: [],
      expected: ['install:db', 'install:api', 'install:web'],
    },
    {
      title: 'removals first, in reverse dependency order',
      desired: [fp('other')],
      applied: [fp('db'), fp('web', { deps: ['api'] }), fp('api', { deps: ['db'] })],
      expected: ['remove:web', 'remove:api', 'remove:db', 'install:other'],
    },
    {
      title: 'mixed',
      desired: [fp('web', { deps: ['db'], cfg: 'k9' }), fp('db', { src: 's3' }), fp('new')],
      applied: [fp('web', { deps: ['db'] }), fp('db'), fp('old')],
      expected: ['remove:old', 'upgrade:db', 'install:new', 'reconfigure:web'],
    },
  ];
  for (const c of cases) assert.deepEqual(show(c.desired, c.applied), c.expected, c.title);
});

test('planner: cycles are reported and left out; dependents of a cycle too', () => {
  const plan = planActions(
    [fp('a', { deps: ['b'] }), fp('b', { deps: ['a'] }), fp('c', { deps: ['a'] }), fp('d')],
    [],
  );
  assert.deepEqual(
    plan.actions.map((a) => `${a.kind}:${a.name}`),
    ['install:d'],
  );
  assert.deepEqual(plan.problems.map((p) => `${p.code}:${p.name}`).sort(), [
    'AGENT_DEPENDENCY_CYCLE:a',
    'AGENT_DEPENDENCY_CYCLE:b',
    'AGENT_DEPENDENCY_CYCLE:c',
  ]);
});

test('planner: a dependency missing from the desired set is a problem but the action stays planned', () => {
  const plan = planActions([fp('web', { deps: ['ghost'] })], []);
  assert.deepEqual(plan.actions, [
    { kind: 'install', deploymentId: 'id-web', name: 'web', waitFor: ['ghost'] },
  ]);
  assert.equal(plan.problems[0]?.code, 'AGENT_DEPENDENCY_NOT_READY');
});

test('changeKind compares component by component', () => {
  assert.equal(changeKind(fp('a', { comps: ['x', 'y'] }), fp('a', { comps: ['y', 'x'] })), 'upgrade');
  assert.equal(changeKind(fp('a'), fp('a')), 'noop');
});
