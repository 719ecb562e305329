import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeploymentState } from '@margo-gitops/spec';
import { aggregateComponentStates, buildDeploymentStatus } from './build-status.js';

test('aggregate: the most severe component state wins', () => {
  const cases: [DeploymentState[], DeploymentState][] = [
    [[], 'pending'],
    [['installed'], 'installed'],
    [['installed', 'installing'], 'installing'],
    [['installed', 'pending'], 'pending'],
    [['installing', 'pending'], 'installing'],
    [['installed', 'failed', 'installing'], 'failed'],
    [['removing', 'removed'], 'removing'],
    [['removed', 'removed'], 'removed'],
    [['installed', 'removed'], 'installed'],
  ];
  for (const [states, expected] of cases)
    assert.equal(aggregateComponentStates(states), expected, states.join(','));
});

test('status document: per-component state, progress, error with source', () => {
  const doc = buildDeploymentStatus({
    deploymentId: 'd-1',
    name: 'shop',
    deviceId: 'dev-1',
    commit: 'abc',
    components: [
      { name: 'db', state: 'installed', progress: 'deployed' },
      { name: 'web', state: 'failed', error: { code: 'AGENT_HELM_FAILED', message: 'boom' } },
    ],
  });
  assert.deepEqual(doc.status, {
    state: 'failed',
    error: { code: 'AGENT_HELM_FAILED', message: 'boom', source: 'shop' },
  });
  assert.deepEqual(doc.components, [
    { name: 'db', state: 'installed', progress: 'deployed' },
    { name: 'web', state: 'failed', error: { code: 'AGENT_HELM_FAILED', message: 'boom', source: 'web' } },
  ]);
  assert.equal(doc.kind, 'DeploymentStatus');
  assert.equal(doc.deploymentId, 'd-1');
  // Deterministic: same input, same bytes.
  assert.equal(
    JSON.stringify(doc),
    JSON.stringify(
      buildDeploymentStatus({
        deploymentId: 'd-1',
        name: 'shop',
        deviceId: 'dev-1',
        commit: 'abc',
        components: [
          { name: 'db', state: 'installed', progress: 'deployed' },
          { name: 'web', state: 'failed', error: { code: 'AGENT_HELM_FAILED', message: 'boom' } },
        ],
      }),
    ),
  );
});

test('status document: overall error and forced state for an unreadable document', () => {
  const doc = buildDeploymentStatus({
    deploymentId: 'd-2',
    name: 'x',
    deviceId: 'dev',
    components: [],
    state: 'failed',
    error: { code: 'AGENT_INVALID_DOCUMENT', message: 'bad yaml' },
  });
  assert.deepEqual(doc.status, {
    state: 'failed',
    error: { code: 'AGENT_INVALID_DOCUMENT', message: 'bad yaml', source: 'x' },
  });
});
