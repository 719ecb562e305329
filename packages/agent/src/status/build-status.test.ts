import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from '@margo-gitops/spec';
import { buildDeploymentStatus, statusFileContent } from './build-status.js';

test('status document: per-component state, progress, error with source; parses back', () => {
  const input = {
    deploymentId: 'ad9b614e-8912-45f4-a523-372358765def',
    name: 'shop',
    deviceId: 'dev-1',
    commit: 'abc',
    components: [
      { name: 'db', state: 'installed' as const, progress: 'deployed' },
      { name: 'web', state: 'failed' as const, error: { code: 'AGENT_HELM_FAILED', message: 'boom' } },
    ],
  };
  const doc = buildDeploymentStatus(input);
  assert.deepEqual(doc.status, {
    state: 'failed',
    error: { code: 'AGENT_HELM_FAILED', message: 'boom', source: 'shop' },
  });
  assert.deepEqual(doc.components, [
    { name: 'db', state: 'installed', progress: 'deployed' },
    { name: 'web', state: 'failed', error: { code: 'AGENT_HELM_FAILED', message: 'boom', source: 'web' } },
  ]);
  assert.equal(doc.deploymentId, input.deploymentId);
  assert.equal(
    statusFileContent(doc),
    statusFileContent(buildDeploymentStatus(input)),
    'deterministic bytes',
  );
  const back = parseDocument(statusFileContent(doc), { file: 'status.json' });
  assert.equal(back.kind, 'DeploymentStatus');
  assert.deepEqual(
    back.findings.filter((f) => f.severity === 'error'),
    [],
  );
});

test('status document: aggregate of installing + installed is installing', () => {
  const doc = buildDeploymentStatus({
    deploymentId: 'd',
    name: 'x',
    deviceId: 'dev',
    components: [
      { name: 'a', state: 'installed' },
      { name: 'b', state: 'installing', progress: 'downloading' },
    ],
  });
  assert.deepEqual(doc.status, { state: 'installing' });
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

test('status document: current shape, adoptedManifestVersion as an exact JSON number beyond 2^53', () => {
  const big = '18446744073709551615';
  const doc = buildDeploymentStatus({
    deploymentId: 'ad9b614e-8912-45f4-a523-372358765def',
    name: 'shop',
    deviceId: 'dev-1',
    adoptedManifestVersion: big,
    components: [{ name: 'web', state: 'installed' }],
  });
  assert.deepEqual(Object.keys(doc), [
    'deploymentId',
    'deviceId',
    'adoptedManifestVersion',
    'status',
    'components',
    'x-margo-gitops-extensions',
  ]);
  const text = statusFileContent(doc);
  assert.match(text, /\n {2}"adoptedManifestVersion": 18446744073709551615,\n/);
  const back = parseDocument(text, { file: 'status.json' });
  assert.deepEqual(back.findings, []);
  assert.equal(back.model?.kind === 'DeploymentStatus' && back.model.adoptedManifestVersion, big);
  // Not given: left out rather than invented.
  const none = buildDeploymentStatus({ deploymentId: 'd', name: 'x', deviceId: 'dev', components: [] });
  assert.equal('adoptedManifestVersion' in none, false);
});
