import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ociProfile, type ArtifactRef } from './oci-components.js';
import { renderApplicationDeployment } from './render-deployment.js';
import { helloApp } from './test-fixtures.js';

const app = helloApp();
const compose = app.profiles.find((p) => p.type === 'compose')!;
const helm = app.profiles.find((p) => p.type === 'helm.v3')!;
const DIGEST = `sha256:${'b'.repeat(64)}`;
const published = new Map<string, ArtifactRef>([
  ['hello-compose', { repository: 'hello/hello-compose', tag: '1.2.0', digest: DIGEST }],
]);
const withLocation = (loc: string) => ({
  ...compose,
  components: compose.components.map((c) => ({ ...c, compose: { ...c.compose!, packageLocation: loc } })),
});

const render = (profile = compose, deviceId = 'edge-1') =>
  renderApplicationDeployment({
    deploymentId: '00000000-0000-5000-8000-000000000001',
    name: 'web',
    namespace: 'ns',
    applicationId: 'hello',
    applicationVersion: '1.2.0',
    profile,
    parameters: {},
    dependsOn: ['b', 'a'],
    deviceId,
  });

test('oci: a published Compose component becomes the embedded registry artifact, pinned by digest', () => {
  const r = ociProfile({ profile: compose, artifacts: published, registryHost: 'srv:8080' });
  assert.ok(r.ok);
  const doc = parse(render(r.profile));
  const c = doc.spec.deploymentProfile.components[0];
  assert.deepEqual(c.properties, {
    repository: 'oci://srv:8080/hello/hello-compose',
    revision: '1.2.0',
    wait: true,
  });
  assert.deepEqual(c['x-margo-gitops-extensions'], { digest: DIGEST });
  assert.equal(doc.spec.deploymentProfile.type, 'compose');
});

test('oci: an artifact pushed to an external registry is named there', () => {
  const ext = new Map([
    ['hello-compose', { ...published.get('hello-compose')!, registry: 'reg.example:5001/apps' }],
  ]);
  const r = ociProfile({ profile: compose, artifacts: ext });
  assert.ok(r.ok);
  assert.equal(
    r.profile.components[0]!.compose!.repository,
    'oci://reg.example:5001/apps/hello/hello-compose',
  );
});

test('oci: a Helm chart already in an OCI registry is kept, type helm.v3 is written helm, + becomes _', () => {
  const withBuild = {
    ...helm,
    components: helm.components.map((c) => ({ ...c, helm: { ...c.helm!, revision: '0.1.0+b7' } })),
  };
  const r = ociProfile({ profile: withBuild, registryHost: 'srv:8080' });
  assert.ok(r.ok);
  const doc = parse(render(r.profile));
  assert.equal(doc.spec.deploymentProfile.type, 'helm');
  assert.deepEqual(doc.spec.deploymentProfile.components[0].properties, {
    repository: 'oci://127.0.0.1:5000/charts/hello',
    revision: '0.1.0_b7',
    wait: true,
    timeout: '5m0s',
  });
  assert.equal(doc.spec.deploymentProfile.components[0]['x-margo-gitops-extensions'], undefined);
});

const refused: [string, typeof compose, RegExp][] = [
  ['a download URL', withLocation('https://example.invalid/x.tar.gz'), /packageLocation: .*download URL/],
  ['a file URL', withLocation('file:///abs/x.tar.gz'), /packageLocation: .*download URL/],
  [
    'an unpublished package file',
    withLocation('resources/other.tar.gz'),
    /packageLocation: .*no OCI artifact/,
  ],
  [
    'a Helm repository over https',
    {
      ...helm,
      components: helm.components.map((c) => ({
        ...c,
        helm: { ...c.helm!, repository: 'https://charts.example' },
      })),
    },
    /\.repository: .*not an OCI repository/,
  ],
];
for (const [what, profile, reason] of refused) {
  test(`oci: ${what} cannot be translated -> ORCH_COMPONENT_NOT_OCI naming the field`, () => {
    const r = ociProfile({ profile, registryHost: 'srv:8080' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.code, 'ORCH_COMPONENT_NOT_OCI');
    assert.match(r.reason, /components\[0\] \(hello-(compose|chart)\)\.properties/);
    assert.match(r.reason, reason);
  });
}

test('oci: an embedded artifact without a registry address -> ORCH_REGISTRY_UNSET', () => {
  const r = ociProfile({ profile: compose, artifacts: published });
  assert.deepEqual(r.ok ? undefined : r.code, 'ORCH_REGISTRY_UNSET');
});

test('render: the current Margo shape; same input, same bytes; dependsOn sorted into one annotation', () => {
  const r = ociProfile({ profile: compose, artifacts: published, registryHost: 'srv:8080' });
  assert.ok(r.ok);
  const a = render(r.profile);
  assert.equal(a, render(r.profile));
  const doc = parse(a);
  assert.equal(doc.id, '00000000-0000-5000-8000-000000000001');
  assert.deepEqual(Object.keys(doc.metadata), ['name', 'namespace', 'deviceId', 'annotations']);
  assert.equal(doc.metadata.deviceId, 'edge-1');
  assert.equal(doc.metadata.annotations['margo-gitops.io/depends-on'], 'a,b');
  assert.equal(doc.metadata.annotations['margo-gitops.io/application-version'], '1.2.0');
  assert.equal(doc.metadata.annotations.id, undefined);
  assert.equal(doc.spec.applicationId, 'hello');
  assert.equal(doc.metadata.namespace, 'ns');
});
