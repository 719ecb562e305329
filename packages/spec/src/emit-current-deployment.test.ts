import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { componentOciRef, emitCurrentApplicationDeployment } from './emit-current-deployment.js';
import type { ApplicationDeployment } from './model.js';
import { parseDocument } from './parse-document.js';

const DIGEST = 'sha256:' + 'ab'.repeat(32);

/** An rc.3 document (no apiVersion/kind) with a pinned Compose component. */
const RC3 = `id: 0f4fa9b4-6a43-4b6b-9b2a-3b7f4b8a1c11
metadata:
  name: hello-dep
  namespace: margo
  deviceId: dev-1
  annotations:
    margo-gitops.io/package-version: 1.0.0
spec:
  applicationId: hello
  deploymentProfile:
    type: compose
    components:
      - name: hello
        properties:
          repository: oci://127.0.0.1:8443/hello/hello
          revision: 1.0.0_build.7
          timeout: 2m0s
        x-margo-gitops-extensions:
          digest: ${DIGEST}
        x-acme-extensions:
          zone: b
  parameters:
    GREETING:
      value: hi
      targets:
        - pointer: ENV.GREETING
          components: [hello]
`;

function model(text: string): ApplicationDeployment {
  const r = parseDocument(text);
  assert.deepEqual(
    r.findings.filter((f) => f.severity === 'error'),
    [],
  );
  return r.model as ApplicationDeployment;
}

test('an rc.3 deployment without apiVersion/kind reads; the component carries repository, revision, digest', () => {
  const m = model(RC3);
  assert.equal(m.deviceId, 'dev-1');
  assert.equal(m.applicationId, 'hello');
  const c = m.profile.components[0]!;
  assert.equal(c.ociDigest, DIGEST);
  assert.deepEqual(componentOciRef(c), {
    repository: 'oci://127.0.0.1:8443/hello/hello',
    revision: '1.0.0_build.7',
    digest: DIGEST,
  });
});

test('emitCurrentApplicationDeployment: the current shape, fixed key order, byte-identical, re-reads equal', () => {
  const m = model(RC3);
  const out = emitCurrentApplicationDeployment(m);
  assert.equal(out, emitCurrentApplicationDeployment(structuredClone(m)));
  assert.equal(
    out,
    `apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
id: 0f4fa9b4-6a43-4b6b-9b2a-3b7f4b8a1c11
metadata:
  name: hello-dep
  namespace: margo
  deviceId: dev-1
  annotations:
    margo-gitops.io/package-version: 1.0.0
spec:
  applicationId: hello
  deploymentProfile:
    type: compose
    components:
      - name: hello
        properties:
          repository: oci://127.0.0.1:8443/hello/hello
          revision: 1.0.0_build.7
          wait: true
          timeout: 2m0s
        x-acme-extensions:
          zone: b
        x-margo-gitops-extensions:
          digest: ${DIGEST}
  parameters:
    GREETING:
      value: hi
      targets:
        - pointer: ENV.GREETING
          components:
            - hello
`,
  );
  const again = model(out);
  assert.equal(again.profile.components[0]!.ociDigest, DIGEST);
  assert.equal(emitCurrentApplicationDeployment(again), out);
});

test('helm profiles are written as type helm; annotations always present; digest dropped when unpinned', () => {
  const m = model(RC3);
  m.profile = { ...m.profile, type: 'helm.v3', rawType: 'helm.v3' };
  const c = m.profile.components[0]!;
  m.profile.components[0] = {
    name: c.name,
    helm: { repository: 'oci://reg.example/charts/hello', revision: '2.0.0', wait: false },
    raw: {},
    extensions: { 'x-margo-gitops-extensions': { digest: DIGEST } },
  };
  delete m.annotations;
  m.parameters = {};
  const doc = parse(emitCurrentApplicationDeployment(m));
  assert.equal(doc.spec.deploymentProfile.type, 'helm');
  assert.deepEqual(doc.metadata.annotations, {});
  assert.deepEqual(doc.spec.deploymentProfile.components[0], {
    name: 'hello',
    properties: { repository: 'oci://reg.example/charts/hello', revision: '2.0.0', wait: false },
  });
});
