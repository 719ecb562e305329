import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFleet, type FleetDevice } from '@margo-gitops/spec';
import { parse } from 'yaml';
import { deploymentIdFor } from './deployment-id.js';
import {
  desiredForDevice,
  prepareReconcile,
  reconcile,
  type Catalog,
  type DeviceObservation,
} from './desired-state.js';
import { DEPENDS_ON_ANNOTATION } from './render-deployment.js';
import { caps, helloApp } from './test-fixtures.js';

/** The catalog reader's view of a published package: the Compose component's OCI artifact. */
function artifacts(version: string) {
  return new Map([
    [
      'hello-compose',
      { repository: 'hello/hello-compose', tag: version, digest: `sha256:${'a'.repeat(64)}` },
    ],
  ]);
}
/** The embedded registry's address as devices reach it. */
const OPTS = { registryHost: 'margo.test:8080' };

const catalog: Catalog = new Map([
  [
    'hello',
    new Map([
      ['1.2.0', { app: helloApp('1.2.0'), artifacts: artifacts('1.2.0') }],
      ['1.3.0', { app: helloApp('1.3.0'), artifacts: artifacts('1.3.0') }],
    ]),
  ],
]);

const fleetFiles = new Map<string, string>([
  ['devices/small.yaml', 'kind: Device\nid: small\nrole: standalone-device\nlabels: {site: a}\n'],
  ['devices/big.yaml', 'kind: Device\nid: big\nrole: standalone-device\nlabels: {site: a}\n'],
  ['devices/k8s.yaml', 'kind: Device\nid: k8s\nrole: standalone-cluster\nlabels: {site: b}\n'],
  ['devices/new.yaml', 'kind: Device\nid: new\nrole: standalone-device\nlabels: {site: a}\n'],
  [
    'deployments/web.yaml',
    'kind: Deployment\nname: web\napplication: {id: hello, version: ^1.2}\ntargets:\n  selector: {}\nparameters: {greeting: hi}\ndependsOn: [db]\n',
  ],
  [
    'deployments/db.yaml',
    'kind: Deployment\nname: db\napplication: {id: missing, version: "1"}\ntargets: {devices: [k8s]}\n',
  ],
]);
const fleet = parseFleet(fleetFiles);
const obs: Record<string, DeviceObservation> = {
  small: { capabilities: caps({ memoryBytes: 2 * 2 ** 30 }), current: new Map() },
  big: { capabilities: caps(), current: new Map() },
  k8s: { capabilities: caps({ roles: ['standalone-cluster'] }), current: new Map() },
  new: { current: new Map() },
};
const dev = (id: string) => fleet.devices.get(id) as FleetDevice;

test('desired state: matching, not matching, no capabilities, catalog errors', () => {
  const ctx = prepareReconcile(fleet, catalog, OPTS);
  const big = desiredForDevice(ctx, dev('big'), obs.big!);
  assert.deepEqual([...big.files.keys()], ['deployments/web.yaml']);
  const doc = parse(big.files.get('deployments/web.yaml')!.toString());
  assert.equal(doc.apiVersion, 'application.margo.org/v1alpha1');
  assert.equal(doc.id, deploymentIdFor('big', 'web'));
  assert.equal(doc.spec.applicationId, 'hello');
  assert.equal(doc.metadata.deviceId, 'big');
  assert.deepEqual(doc.spec.deploymentProfile.components[0].properties, {
    repository: 'oci://margo.test:8080/hello/hello-compose',
    revision: '1.3.0',
    wait: true,
  });
  assert.equal(
    doc.spec.deploymentProfile.components[0]['x-margo-gitops-extensions'].digest,
    `sha256:${'a'.repeat(64)}`,
  );
  assert.equal(doc.metadata.annotations['margo-gitops.io/application-version'], '1.3.0');
  assert.equal(doc.metadata.annotations[DEPENDS_ON_ANNOTATION], 'db');
  assert.equal(doc.metadata.namespace, 'web');
  assert.equal(doc.spec.deploymentProfile.type, 'compose');
  assert.equal(doc.spec.parameters.greeting.value, 'hi');
  assert.deepEqual(doc.spec.parameters.greeting.targets, [
    { pointer: 'ENV.GREETING', components: ['hello-compose'] },
  ]);

  const small = desiredForDevice(ctx, dev('small'), obs.small!);
  assert.equal(small.files.size, 0);
  assert.deepEqual(
    small.outcomes.map((o) => [o.status, o.reason]),
    [['not-matched', 'needs 4Gi memory, device reports 2Gi']],
  );

  const k8s = desiredForDevice(ctx, dev('k8s'), obs.k8s!);
  assert.deepEqual([...k8s.files.keys()], ['deployments/web.yaml']);
  assert.equal(parse(k8s.files.get('deployments/web.yaml')!.toString()).spec.deploymentProfile.type, 'helm');
  assert.deepEqual(
    k8s.outcomes.map((o) => [o.deployment, o.status, o.code]),
    [
      ['db', 'error', 'ORCH_APP_NOT_FOUND'],
      ['web', 'matched', undefined],
    ],
  );
  const fresh = desiredForDevice(ctx, dev('new'), obs.new!);
  assert.equal(fresh.files.size, 0);
  assert.equal(fresh.outcomes[0]?.reason, 'no capabilities reported');
  assert.equal(fresh.outcomes[0]?.status, 'not-matched');
  assert.equal(fresh.outcomes[0]?.code, 'ORCH_NO_CAPABILITIES');
});

test('rendering is byte-for-byte deterministic and ids are stable', () => {
  const a = desiredForDevice(prepareReconcile(fleet, catalog, OPTS), dev('big'), obs.big!);
  const b = desiredForDevice(prepareReconcile(parseFleet(fleetFiles), catalog, OPTS), dev('big'), obs.big!);
  assert.ok(a.files.get('deployments/web.yaml')!.equals(b.files.get('deployments/web.yaml')!));
  assert.equal(deploymentIdFor('big', 'web'), deploymentIdFor('big', 'web'));
  assert.notEqual(deploymentIdFor('big', 'web'), deploymentIdFor('small', 'web'));
  assert.match(
    deploymentIdFor('big', 'web'),
    /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
});

test('errors hold what the device already runs; immutable change is refused per device', () => {
  const ctx = prepareReconcile(fleet, catalog, OPTS);
  const first = desiredForDevice(ctx, dev('big'), obs.big!);
  const bytes = first.files.get('deployments/web.yaml')!;
  const changed = parseFleet(
    new Map([
      ...fleetFiles,
      [
        'deployments/web.yaml',
        fleetFiles.get('deployments/web.yaml')!.replace('greeting: hi', 'greeting: hi, port: 1234'),
      ],
    ]),
  );
  const held = desiredForDevice(prepareReconcile(changed, catalog, OPTS), dev('big'), {
    capabilities: caps(),
    current: new Map([['web', { bytes, parameters: { greeting: 'hi', port: 8080 } }]]),
  });
  assert.equal(held.outcomes[0]?.status, 'held');
  assert.equal(held.outcomes[0]?.code, 'ORCH_PARAMETER_IMMUTABLE');
  assert.ok(held.files.get('deployments/web.yaml')!.equals(bytes));
});

test('a deployment document with errors does not uninstall it: devices keep it', () => {
  const ctx = prepareReconcile(fleet, catalog, OPTS);
  const bytes = desiredForDevice(ctx, dev('big'), obs.big!).files.get('deployments/web.yaml')!;
  const broken = parseFleet(
    new Map([
      ...fleetFiles,
      [
        'deployments/web.yaml',
        'kind: Deployment\nname: web\napplication: {id: hello}\ntargets: {devices: [big]}\n',
      ],
    ]),
  );
  assert.ok(!broken.deployments.has('web'));
  const held = desiredForDevice(prepareReconcile(broken, catalog, OPTS), dev('big'), {
    capabilities: caps(),
    current: new Map([['web', { bytes }]]),
  });
  assert.ok(held.files.get('deployments/web.yaml')!.equals(bytes));
  assert.equal(held.outcomes.find((o) => o.deployment === 'web')?.status, 'held');
  assert.match(held.outcomes.find((o) => o.deployment === 'web')?.reason ?? '', /deployments\/web.yaml/);
  // Deleting the file (no finding) still removes it.
  const deleted = parseFleet(new Map([...fleetFiles].filter(([p]) => p !== 'deployments/web.yaml')));
  assert.equal(
    desiredForDevice(prepareReconcile(deleted, catalog, OPTS), dev('big'), {
      capabilities: caps(),
      current: new Map([['web', { bytes }]]),
    }).files.size,
    0,
  );
});

test('reconcile: every fleet device, including those that reported nothing', () => {
  const all = reconcile({
    fleet,
    catalog,
    ...OPTS,
    observations: new Map(Object.entries(obs).filter(([k]) => k !== 'new')),
  });
  assert.deepEqual([...all.keys()], ['big', 'k8s', 'new', 'small']);
  assert.equal(all.get('new')!.outcomes[0]?.reason, 'no capabilities reported');
  assert.equal(all.get('big')!.files.size, 1);
});
