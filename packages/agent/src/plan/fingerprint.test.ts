import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument, type ApplicationDeployment } from '@margo-gitops/spec';
import { fingerprintOf } from './fingerprint.js';

const doc = (digest: string, type = 'compose') =>
  parseDocument(`id: 0f4fa9b4-6a43-4b6b-9b2a-3b7f4b8a1c11
metadata: {name: web, namespace: web, deviceId: edge-1, annotations: {}}
spec:
  applicationId: hello
  deploymentProfile:
    type: ${type}
    components:
      - name: web
        properties: {repository: oci://srv:8470/hello/web, revision: 1.0.0}
        x-margo-gitops-extensions: {digest: "sha256:${digest.repeat(64)}"}
`).model as ApplicationDeployment;

test('a new pinned digest under the same repository and revision is a new source (an upgrade)', () => {
  for (const type of ['compose', 'helm']) {
    const a = fingerprintOf(doc('a', type)).components[0]!.source;
    assert.equal(a, fingerprintOf(doc('a', type)).components[0]!.source);
    assert.notEqual(a, fingerprintOf(doc('b', type)).components[0]!.source);
  }
});
