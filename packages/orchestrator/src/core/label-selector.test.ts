import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FleetDevice, LabelSelector } from '@margo-gitops/spec';
import { matchesSelector } from './label-selector.js';
import { selectTargets } from './select-targets.js';

const labels = { site: 'plant-a', tier: 'gold', cores: '8' };
const cases: [string, LabelSelector, boolean][] = [
  ['empty selector matches all', {}, true],
  ['matchLabels hit', { matchLabels: { site: 'plant-a' } }, true],
  ['matchLabels miss', { matchLabels: { site: 'plant-b' } }, false],
  ['In hit', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] }, true],
  ['In miss', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['bronze'] }] }, false],
  ['In on missing key', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }, false],
  ['NotIn hit', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['bronze'] }] }, true],
  ['NotIn miss', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, false],
  ['NotIn on missing key', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['x'] }] }, true],
  ['Exists', { matchExpressions: [{ key: 'site', operator: 'Exists' }] }, true],
  ['Exists miss', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
  ['DoesNotExist', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
  ['DoesNotExist miss', { matchExpressions: [{ key: 'site', operator: 'DoesNotExist' }] }, false],
  ['Gt', { matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }, true],
  ['Lt miss', { matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }, false],
  [
    'all ANDed',
    {
      matchLabels: { site: 'plant-a' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['bronze'] }],
    },
    false,
  ],
];
for (const [name, sel, want] of cases) {
  test(`selector: ${name}`, () => assert.equal(matchesSelector(labels, sel), want));
}

const dev = (id: string, l: Record<string, string>): [string, FleetDevice] => [
  id,
  { kind: 'Device', id, labels: l, expectedReportSeconds: 60 },
];
const fleet = new Map([
  dev('a', { site: 'x' }),
  dev('b', { site: 'y' }),
  dev('c', { site: 'x', beta: 'true' }),
]);

const targetCases: [string, { devices: string[]; selector?: LabelSelector }, string[], string[]][] = [
  ['ids only', { devices: ['b'] }, ['b'], []],
  ['selector only', { devices: [], selector: { matchLabels: { site: 'x' } } }, ['a', 'c'], []],
  [
    'union, deduplicated',
    { devices: ['a', 'b'], selector: { matchLabels: { site: 'x' } } },
    ['a', 'b', 'c'],
    [],
  ],
  ['unregistered id reported', { devices: ['zz', 'a'] }, ['a'], ['zz']],
  ['nothing', { devices: [] }, [], []],
];
for (const [name, targets, ids, unregistered] of targetCases) {
  test(`targets: ${name}`, () => {
    assert.deepEqual(selectTargets({ targets }, fleet), { deviceIds: ids, unregistered });
  });
}
