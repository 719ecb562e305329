import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildDeploymentStatus, emitDeploymentStatus } from './deployment-status.js';
import { emitApplicationDeployment } from './emit-application-deployment.js';
import type {
  ApplicationDeployment,
  ApplicationDescription,
  DeploymentStatus,
  DesiredStateManifest,
  DeviceCapabilities,
} from './model.js';
import { parseDocument } from './parse-document.js';
import { baseApp, baseDeployment, yaml } from './test-fixtures.js';

function model<T>(text: string): T {
  const r = parseDocument(text);
  assert.deepEqual(
    r.findings.filter((f) => f.severity === 'error'),
    [],
  );
  assert.ok(r.model);
  return r.model as T;
}

test('application description eras normalise to one model', () => {
  const g24 = `apiVersion: margo.org/v1-alpha1
kind: application
metadata:
  id: com-example-hello
  name: Hello
  version: 1.0
  catalog:
    organization: [{ name: Example }]
deploymentProfiles:
  - type: docker-compose
    components:
      - name: hello
        properties: { packageLocation: https://example.com/p.tar.gz, timeout: 8m30s, wait: "false" }
  - type: helm.v3
    components:
      - name: hello-chart
        properties: { repository: oci://example/charts/hello, revision: 1.10 }
parameters:
  greeting:
    value: Hi
    targets:
      - { pointer: ENV.GREETING, components: [hello] }
      - { pointer: config.greeting, components: [hello-chart] }
`;
  const app = model<ApplicationDescription>(g24);
  assert.equal(app.id, 'com-example-hello');
  assert.equal(app.idPlacement, 'metadata');
  assert.equal(app.version, '1.0', 'YAML float 1.0 is kept as written');
  assert.equal(app.profiles[0]!.type, 'compose');
  assert.equal(app.profiles[0]!.rawType, 'docker-compose');
  assert.equal(app.profiles[0]!.id, 'compose-0');
  assert.deepEqual(app.profiles[0]!.components[0]!.compose, {
    packageLocation: 'https://example.com/p.tar.gz',
    wait: false,
    timeoutSeconds: 510,
  });
  assert.equal(app.profiles[1]!.components[0]!.helm!.revision, '1.10');
  assert.equal(app.profiles[1]!.components[0]!.helm!.wait, true, 'wait defaults to true');
  assert.deepEqual(app.parameters.greeting!.targets, [
    { pointer: 'GREETING', rawPointer: 'ENV.GREETING', components: ['hello'] },
    { pointer: 'config.greeting', rawPointer: 'config.greeting', components: ['hello-chart'] },
  ]);

  const later = model<ApplicationDescription>(yaml(baseApp()));
  assert.equal(later.idPlacement, 'top-level');
  assert.equal(later.profiles[0]!.id, 'hello-helm');
  assert.equal(later.configuration!.sections[0]!.settings[0]!.immutable, true);
  assert.equal(later.configuration!.sections[0]!.settings[1]!.immutable, false);
});

test('requirements from requiredResources and rc.3 deviceConstraints', () => {
  const a = baseApp();
  a.deploymentProfiles[0].requiredResources = {
    cpu: { cores: 1.5, architectures: ['amd64', 'x86_64'] },
    memory: '1024Mi',
    storage: '10Gi',
    peripherals: [{ type: 'gpu', manufacturer: 'NVIDIA' }],
    interfaces: [{ type: 'ethernet' }],
  };
  a.deploymentProfiles[1].deviceConstraints = {
    capacityRequirements: { cpu: { cores: 2 }, memory: '2Gi' },
    eligibilityRules: [
      { labelSelector: { matchExpressions: [{ key: 'site', operator: 'In', values: ['a'] }] } },
      {
        propertySelector: {
          matchExpressions: [
            {
              key: '/peripherals',
              operator: 'ContainsAny',
              itemSelector: { matchExpressions: [{ key: '/type', operator: 'In', values: ['gpu'] }] },
            },
          ],
        },
      },
    ],
  };
  const app = model<ApplicationDescription>(yaml(a));
  assert.deepEqual(app.profiles[0]!.requirements, {
    cpuCores: 1.5,
    architectures: ['amd64'],
    memoryBytes: 1024 * 1024 ** 2,
    storageBytes: 10 * 1024 ** 3,
    peripherals: [{ type: 'gpu', manufacturer: 'NVIDIA' }],
    interfaces: [{ type: 'ethernet' }],
  });
  assert.deepEqual(app.profiles[1]!.requirements, { cpuCores: 2, memoryBytes: 2 * 1024 ** 3 });
  assert.deepEqual(app.profiles[1]!.eligibility, [
    { labelSelector: [{ key: 'site', operator: 'In', values: ['a'] }] },
    {
      propertySelector: [
        {
          key: '/peripherals',
          operator: 'ContainsAny',
          itemSelector: [{ key: '/type', operator: 'In', values: ['gpu'] }],
        },
      ],
    },
  ]);
});

test('original round-trips: serialising it re-parses to the same data', () => {
  for (const doc of [baseApp(), baseDeployment()]) {
    const m = model<{ original: unknown }>(yaml(doc));
    assert.deepEqual(parse(stringify(m.original)), doc);
    assert.deepEqual(model<{ original: unknown }>(stringify(m.original)).original, doc);
  }
});

test('deployment eras normalise to one model', () => {
  const d = baseDeployment();
  const dep = model<ApplicationDeployment>(yaml(d));
  assert.equal(dep.id, 'a3e2f5dc-912e-494f-8395-52cf3769bc06');
  assert.equal(dep.idPlacement, 'annotations');
  assert.equal(dep.applicationId, 'com-example-hello');
  assert.equal(dep.parameters.greeting!.targets[0]!.pointer, 'GREETING');
  d.id = d.metadata.annotations.id;
  delete d.metadata.annotations.id;
  d.spec.applicationId = d.metadata.annotations.applicationId;
  delete d.metadata.annotations;
  d.metadata.deviceId = 'edge-1';
  const rc3 = model<ApplicationDeployment>(yaml(d));
  assert.equal(rc3.idPlacement, 'top-level');
  assert.equal(rc3.id, dep.id);
  assert.equal(rc3.applicationId, 'com-example-hello');
  assert.equal(rc3.deviceId, 'edge-1');
});

test('emitApplicationDeployment: canonical 2024 shape, byte-identical, valid, stable across eras', () => {
  const dep = model<ApplicationDeployment>(yaml(baseDeployment()));
  const out = emitApplicationDeployment(dep);
  assert.equal(out, emitApplicationDeployment(structuredClone(dep)));
  assert.equal(
    out,
    `apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
metadata:
  annotations:
    applicationId: com-example-hello
    id: a3e2f5dc-912e-494f-8395-52cf3769bc06
  name: hello-deployment
  namespace: margo
spec:
  deploymentProfile:
    type: compose
    components:
      - name: hello-compose
        properties:
          packageLocation: https://example.com/hello.tar.gz
          wait: true
  parameters:
    greeting:
      value: Hi
      targets:
        - pointer: ENV.GREETING
          components:
            - hello-compose
`,
  );
  const again = parseDocument(out);
  assert.deepEqual(again.findings, []);
  // Key order of the input does not matter; numbers that look like strings stay strings.
  const d = baseDeployment();
  d.spec.parameters = {
    z: { value: '4', targets: [{ pointer: 'Z', components: ['hello-compose'] }] },
    a: { value: 4, targets: [{ pointer: 'ENV.A', components: ['hello-compose'] }] },
  };
  d.spec.deploymentProfile.type = 'docker-compose';
  d.spec.deploymentProfile.components[0].properties.timeout = '1m5s';
  const emitted = emitApplicationDeployment(model<ApplicationDeployment>(yaml(d)));
  const back = parse(emitted);
  assert.deepEqual(Object.keys(back.spec.parameters), ['a', 'z']);
  assert.equal(back.spec.parameters.z.value, '4');
  assert.equal(back.spec.parameters.a.value, 4);
  assert.equal(back.spec.parameters.z.targets[0].pointer, 'ENV.Z');
  assert.equal(back.spec.deploymentProfile.type, 'compose');
  assert.equal(back.spec.deploymentProfile.components[0].properties.timeout, '1m5s');
  assert.deepEqual(parseDocument(emitted).findings, []);
});

test('emitApplicationDeployment for Helm keeps repository, revision, timeout, wait', () => {
  const d = baseDeployment();
  d.spec.deploymentProfile = {
    type: 'helm',
    components: [
      {
        name: 'db',
        properties: {
          repository: 'oci://r/db',
          revision: '2.3.7',
          timeout: '8m30s',
          wait: 'true',
          'x-acme-extensions': { a: 1 },
        },
      },
    ],
  };
  d.spec.parameters = { p: { value: 'v', targets: [{ pointer: 'a.b[0].c', components: ['db'] }] } };
  const back = parse(emitApplicationDeployment(model<ApplicationDeployment>(yaml(d))));
  assert.deepEqual(back.spec.deploymentProfile, {
    type: 'helm.v3',
    components: [
      {
        name: 'db',
        properties: {
          repository: 'oci://r/db',
          revision: '2.3.7',
          timeout: '8m30s',
          wait: true,
          'x-acme-extensions': { a: 1 },
        },
      },
    ],
  });
  assert.equal(back.spec.parameters.p.targets[0].pointer, 'a.b[0].c');
});

test('DeploymentStatus: every era parses; builder + emitter round-trip', () => {
  const g24 = model<DeploymentStatus>(
    JSON.stringify({
      apiVersion: 'deployment.margo/v1',
      kind: 'DeploymentStatus',
      deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
      status: { state: 'Installing' },
      components: [
        { name: 'a', state: 'Success' },
        { name: 'b', state: 'Installing' },
      ],
    }),
  );
  assert.equal(g24.state, 'installing');
  assert.equal(g24.components[0]!.state, 'installed');
  const bad = parseDocument(
    JSON.stringify({
      deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
      status: { state: 'running' },
      components: [],
    }),
  );
  assert.deepEqual(
    bad.findings.map((f) => [f.code, f.path]),
    [['SPEC_UNKNOWN_STATE', '/status/state']],
  );

  const built = buildDeploymentStatus({
    deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
    deviceId: 'edge-1',
    deploymentName: 'hello',
    components: [
      { name: 'db', state: 'installed' },
      {
        name: 'web',
        state: 'failed',
        error: { code: 'AGENT_HELM_INSTALL_FAILED', message: 'timed out', source: 'web' },
      },
    ],
  });
  assert.equal(built.state, 'failed');
  assert.deepEqual(built.error, { code: 'AGENT_HELM_INSTALL_FAILED', message: 'timed out', source: 'hello' });
  const json = emitDeploymentStatus(built);
  assert.equal(json, emitDeploymentStatus(built));
  const parsed = JSON.parse(json);
  assert.equal(parsed.apiVersion, 'deployment.margo/v1');
  assert.equal(parsed.status.state, 'failed');
  const again = model<DeploymentStatus>(json);
  assert.equal(again.state, 'failed');
  assert.equal(again.components[1]!.error!.code, 'AGENT_HELM_INSTALL_FAILED');
  const r1 = JSON.parse(emitDeploymentStatus(built, 'r1'));
  assert.equal(r1.kind, 'DeploymentStatusManifest');
  assert.deepEqual(parseDocument(emitDeploymentStatus(built, 'r1')).findings, []);
});

test('DeviceCapabilities: G24 cpus array and DM cpu object normalise alike', () => {
  const g24 = model<DeviceCapabilities>(
    JSON.stringify({
      apiVersion: 'device.margo/v1',
      kind: 'DeviceCapabilities',
      properties: {
        id: 'edge-1',
        vendor: 'V',
        modelNumber: 'M',
        serialNumber: 'S',
        roles: ['Standalone Device'],
        resources: {
          cpus: [{ cpuArchitecture: 'x86_64', cores: 4, frequency: 2 }],
          memory: '8Gi',
          storage: '64 Gi',
        },
        peripherals: [{ type: 'GPU', name: 'g' }],
        interfaces: [{ type: 'Wi-Fi' }],
      },
    }),
  );
  const dm = model<DeviceCapabilities>(
    JSON.stringify({
      apiVersion: 'device.margo.org/v1alpha1',
      kind: 'DeviceCapabilitiesManifest',
      properties: {
        id: 'edge-1',
        vendor: 'V',
        modelNumber: 'M',
        serialNumber: 'S',
        roles: ['standalone device'],
        resources: {
          cpu: { cores: 4, architecture: 'amd64' },
          memory: '8 Gi',
          storage: '64Gi',
          peripherals: [{ type: 'gpu' }],
          interfaces: [{ type: 'wifi' }],
        },
      },
    }),
  );
  for (const c of [g24, dm]) {
    assert.deepEqual(c.roles, ['standalone-device']);
    assert.equal(c.cpu!.cores, 4);
    assert.equal(c.cpu!.architecture, 'amd64');
    assert.equal(c.memoryBytes, 8 * 1024 ** 3);
    assert.equal(c.storageBytes, 64 * 1024 ** 3);
    assert.equal(c.peripherals[0]!.type, 'gpu');
    assert.equal(c.interfaces[0]!.type, 'wifi');
  }
});

test('DesiredStateManifest keeps huge manifestVersion exactly', () => {
  const m = model<DesiredStateManifest>(
    '{"manifestVersion": 18446744073709551615, "bundle": null, "deployments": []}',
  );
  assert.equal(m.manifestVersion, '18446744073709551615');
  assert.equal(m.bundle, null);
});
