import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppliedDeployment } from '../state/state-store.js';
import { planDesired } from './plan-desired.js';

const ID = (n: number) => `0f4fa9b4-6a43-4b6b-9b2a-3b7f4b8a1c1${n}`;

const yaml = (n: number, name: string, type = 'compose', dependsOn?: string) =>
  Buffer.from(`id: ${ID(n)}
metadata:
  name: ${name}
  namespace: ${name}
  deviceId: edge-1
  annotations: {${dependsOn ? `margo-gitops.io/depends-on: "${dependsOn}"` : ''}}
spec:
  applicationId: hello
  deploymentProfile:
    type: ${type}
    components:
      - name: web
        properties: {repository: "oci://srv:8470/hello/${name}", revision: 1.0.0}
`);

const applied = (n: number, name: string): AppliedDeployment => ({
  id: ID(n),
  name,
  profileType: 'compose',
  namespace: name,
  dependsOn: [],
  annotations: {},
  components: [],
  appliedAt: '',
  commit: 'c'.repeat(40),
});

test('planDesired: rejected, unsupported and cyclic deployments fail in that order and keep their last good state', () => {
  const files = new Map<string, Buffer>([
    ['deployments/a.yaml', yaml(1, 'a')],
    ['deployments/b.yaml', Buffer.from('id: not valid: [')],
    ['deployments/c.yaml', yaml(3, 'c', 'helm')],
    ['deployments/d.yaml', yaml(4, 'd', 'compose', 'e')],
    ['deployments/e.yaml', yaml(5, 'e', 'compose', 'd')],
    ['margo-manifest.json', Buffer.from('{}')],
  ]);
  const out = planDesired(
    files,
    [applied(2, 'b'), applied(3, 'c'), applied(6, 'gone')],
    (t) => t === 'compose',
  );
  assert.deepEqual(
    out.failures.map((f) => [f.name, f.error.code, f.id ?? null, f.components ?? null]),
    [
      ['b', 'AGENT_INVALID_DOCUMENT', ID(2), null],
      ['c', 'AGENT_PROFILE_UNSUPPORTED', ID(3), ['web']],
      ['d', 'AGENT_DEPENDENCY_CYCLE', ID(4), ['web']],
      ['e', 'AGENT_DEPENDENCY_CYCLE', ID(5), ['web']],
    ],
  );
  assert.equal(out.failures[0]!.file, 'deployments/b.yaml');
  assert.deepEqual([...out.deployments.keys()].sort(), [ID(1), ID(4), ID(5)]);
  // b and c are frozen (neither applied nor removed); only the deployment gone from the state is removed.
  assert.deepEqual(
    out.plan.actions.map((a) => `${a.kind}:${a.name}`),
    ['remove:gone', 'install:a'],
  );
});

test('planDesired: a rejected file whose id cannot be read and matches nothing applied is logged only', () => {
  const out = planDesired(new Map([['deployments/x.yaml', Buffer.from(': :')]]), [], () => true);
  assert.equal(out.failures.length, 1);
  assert.equal(out.failures[0]!.id, undefined);
  assert.equal(out.rejected.length, 1);
  assert.deepEqual(out.plan.actions, []);
});
