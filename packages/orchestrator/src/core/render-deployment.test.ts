import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderApplicationDeployment } from './render-deployment.js';
import { helloApp } from './test-fixtures.js';

const compose = helloApp().profiles.find((p) => p.type === 'compose')!;
const withLocation = (loc: string) => ({
  ...compose,
  components: compose.components.map((c) => ({ ...c, compose: { ...c.compose!, packageLocation: loc } })),
});

const cases: [string, string][] = [
  ['https://example.invalid/x.tar.gz', 'https://example.invalid/x.tar.gz'],
  ['resources/x.tar.gz', 'http://srv/catalog/hello/1.2.0/resources/x.tar.gz'],
  ['./resources/x.tar.gz', 'http://srv/catalog/hello/1.2.0/resources/x.tar.gz'],
  ['file:resources/x.tar.gz', 'http://srv/catalog/hello/1.2.0/resources/x.tar.gz'],
  ['file:///abs/x.tar.gz', 'file:///abs/x.tar.gz'],
];
for (const [given, want] of cases) {
  test(`render: packageLocation ${given} -> ${want}`, () => {
    const yaml = renderApplicationDeployment({
      deploymentId: '00000000-0000-5000-8000-000000000001',
      name: 'web',
      namespace: 'web',
      applicationId: 'hello',
      applicationVersion: '1.2.0',
      profile: withLocation(given),
      parameters: {},
      dependsOn: [],
      resolveLocation: (l) => `http://srv/catalog/hello/1.2.0/${l}`,
    });
    assert.equal(parse(yaml).spec.deploymentProfile.components[0].properties.packageLocation, want);
  });
}

test('render: same input, same bytes; dependsOn sorted into one annotation', () => {
  const input = {
    deploymentId: '00000000-0000-5000-8000-000000000001',
    name: 'web',
    namespace: 'ns',
    applicationId: 'hello',
    applicationVersion: '1.2.0',
    profile: compose,
    parameters: {},
    dependsOn: ['b', 'a'],
  };
  const a = renderApplicationDeployment(input);
  assert.equal(a, renderApplicationDeployment({ ...input, dependsOn: ['a', 'b'] }));
  const doc = parse(a);
  assert.equal(doc.metadata.annotations['margo-gitops.io/depends-on'], 'a,b');
  assert.equal(doc.metadata.namespace, 'ns');
  assert.equal(doc.apiVersion, 'application.margo.org/v1alpha1');
});
