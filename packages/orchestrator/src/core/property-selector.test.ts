import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelMatchExpression } from '@margo-gitops/spec';
import { chooseProfile } from './choose-profile.js';
import { unmetPropertySelector } from './property-selector.js';
import { caps, helloApp } from './test-fixtures.js';

const reported = {
  properties: {
    id: 'd1',
    cpus: [{ architecture: 'arm64', cores: 4 }],
    supportedDeploymentTypes: ['compose', 'helm'],
    otelCollector: true,
    'a/b': 'slash',
    peripherals: [
      { type: 'gpu', manufacturer: 'NVIDIA', model: 'T4' },
      { type: 'camera', manufacturer: 'Basler' },
    ],
  },
};

const cases: [string, LabelMatchExpression, boolean][] = [
  ['In hit', { key: '/cpus/0/architecture', operator: 'In', values: ['arm64', 'arm'] }, true],
  ['In miss', { key: '/cpus/0/architecture', operator: 'In', values: ['amd64'] }, false],
  ['In on a missing property', { key: '/gpu', operator: 'In', values: ['x'] }, false],
  ['NotIn hit', { key: '/cpus/0/architecture', operator: 'NotIn', values: ['amd64'] }, true],
  ['NotIn on a missing property', { key: '/gpu', operator: 'NotIn', values: ['x'] }, true],
  ['Exists', { key: '/otelCollector', operator: 'Exists' }, true],
  ['DoesNotExist miss', { key: '/otelCollector', operator: 'DoesNotExist' }, false],
  ['Gt', { key: '/cpus/0/cores', operator: 'Gt', values: ['2'] }, true],
  ['Lt miss', { key: '/cpus/0/cores', operator: 'Lt', values: ['2'] }, false],
  [
    'ContainsAll',
    { key: '/supportedDeploymentTypes', operator: 'ContainsAll', values: ['compose', 'helm'] },
    true,
  ],
  [
    'ContainsAll miss',
    { key: '/supportedDeploymentTypes', operator: 'ContainsAll', values: ['compose', 'custom'] },
    false,
  ],
  [
    'ContainsAny',
    { key: '/supportedDeploymentTypes', operator: 'ContainsAny', values: ['custom', 'helm'] },
    true,
  ],
  ['escaped pointer', { key: '/a~1b', operator: 'In', values: ['slash'] }, true],
  [
    'ContainsAny itemSelector: one item matches every item expression',
    {
      key: '/peripherals',
      operator: 'ContainsAny',
      itemSelector: [
        { key: '/type', operator: 'In', values: ['gpu'] },
        { key: '/manufacturer', operator: 'In', values: ['NVIDIA'] },
      ],
    },
    true,
  ],
  [
    'ContainsAny itemSelector miss: no single item is an NVIDIA camera',
    {
      key: '/peripherals',
      operator: 'ContainsAny',
      itemSelector: [
        { key: '/type', operator: 'In', values: ['camera'] },
        { key: '/manufacturer', operator: 'In', values: ['NVIDIA'] },
      ],
    },
    false,
  ],
  [
    'ContainsAll itemSelector: each item expression matched by some item',
    {
      key: '/peripherals',
      operator: 'ContainsAll',
      itemSelector: [
        { key: '/type', operator: 'In', values: ['camera'] },
        { key: '/manufacturer', operator: 'In', values: ['NVIDIA'] },
      ],
    },
    true,
  ],
  [
    'ContainsAll itemSelector miss',
    {
      key: '/peripherals',
      operator: 'ContainsAll',
      itemSelector: [
        { key: '/type', operator: 'In', values: ['gpu'] },
        { key: '/type', operator: 'In', values: ['lidar'] },
      ],
    },
    false,
  ],
  [
    'itemSelector on a property that is not a list',
    { key: '/otelCollector', operator: 'ContainsAny', itemSelector: [{ key: '/type', operator: 'Exists' }] },
    false,
  ],
];
for (const [name, e, ok] of cases) {
  test(`propertySelector: ${name}`, () => {
    const unmet = unmetPropertySelector(reported, [e]);
    assert.equal(unmet.length === 0, ok, JSON.stringify(unmet));
  });
}

test('propertySelector: the reason names the property and the need', () => {
  assert.deepEqual(
    unmetPropertySelector(reported, [{ key: '/cpus/0/architecture', operator: 'In', values: ['amd64'] }]),
    ['device property /cpus/0/architecture is arm64, needs In [amd64]'],
  );
});

test('propertySelector: an itemSelector reason names the item expressions', () => {
  assert.deepEqual(
    unmetPropertySelector(reported, [
      {
        key: '/peripherals',
        operator: 'ContainsAny',
        itemSelector: [{ key: '/type', operator: 'In', values: ['lidar'] }],
      },
    ]),
    [
      'device property /peripherals is [{"type":"gpu","manufacturer":"NVIDIA","model":"T4"},{"type":"camera","manufacturer":"Basler"}], needs ContainsAny items matching /type In [lidar]',
    ],
  );
});

test('eligibility rules take part in the profile choice (any rule suffices)', () => {
  const app = helloApp();
  const withRules = (rules: NonNullable<(typeof app.profiles)[number]['eligibility']>) => ({
    ...app,
    profiles: app.profiles.map((p) => (p.type === 'compose' ? { ...p, eligibility: rules } : p)),
  });
  const device = {
    id: 'd',
    labels: { zone: 'x' },
    role: 'standalone-device' as const,
    capabilities: caps({ original: reported }),
  };
  const no = chooseProfile(
    withRules([{ propertySelector: [{ key: '/cpus/0/architecture', operator: 'In', values: ['amd64'] }] }]),
    device,
  );
  assert.ok(!no.ok);
  assert.match(no.reason, /device property \/cpus\/0\/architecture is arm64/);
  const yes = chooseProfile(
    withRules([
      { propertySelector: [{ key: '/cpus/0/architecture', operator: 'In', values: ['amd64'] }] },
      {
        labelSelector: [{ key: 'zone', operator: 'In', values: ['x'] }],
        propertySelector: [{ key: '/otelCollector', operator: 'Exists' }],
      },
    ]),
    device,
  );
  assert.ok(yes.ok);
});
