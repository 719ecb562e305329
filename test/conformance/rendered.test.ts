/**
 * Conformance of the orchestrator's real output: the example packages (Compose hello-world as a
 * legacy package-relative tarball, Helm helm-app as a published oci/ layout) are put into a real
 * catalog repository, deployed through a real fleet repository to devices that reported current
 * (rc.2) capabilities, reconciled by the Orchestrator, and every deployment file committed on the
 * devices' `main` validates against the upstream OpenAPI's `appDeploymentManifest` with zero violations.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { layoutIndex, OCI_MANIFEST } from '@margo-gitops/oci';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { bareGit, tempRoot, WorkTree } from '../integration/orchestrator/helpers.js';
import { expectOpenApiValid, openApiPresent, OPENAPI_FILE } from './openapi.js';

const skip = openApiPresent ? false : `OpenAPI file not found at ${OPENAPI_FILE}`;
const { root, cleanup } = tempRoot('margo-conformance-render-');
const reposRoot = join(root, 'data', 'repos');
const example = (p: string) => readFileSync(new URL(`../../examples/${p}`, import.meta.url), 'utf8');
const CHART_MANIFEST = `sha256:${'4d'.repeat(32)}`;

/** A device's rc.2 capabilities (what our agent reports). */
const caps = (id: string, type: 'helm' | 'compose') =>
  JSON.stringify({
    properties: {
      id,
      vendor: 'Acme',
      modelNumber: 'X1',
      serialNumber: `SN-${id}`,
      cpus: [{ cores: 4, architecture: 'amd64' }],
      memory: '8Gi',
      storage: '100Gi',
      otelCollector: false,
      supportedRuntimes: ['oci'],
      supportedDeploymentTypes: [type],
    },
  });

let orch: Orchestrator;

before(async () => {
  if (skip) return;
  await createRepos(reposRoot);
  for (const [id, type] of [
    ['edge-1', 'compose'],
    ['k8s-1', 'helm'],
  ] as const) {
    await ensureDeviceRepo(reposRoot, id);
    new WorkTree(root, join(reposRoot, 'devices', `${id}.git`), 'status', {
      name: id,
      email: `${id}@devices.invalid`,
    }).write({ 'capabilities.json': caps(id, type) }, 'capabilities');
  }
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    {
      'hello-world/1.0.0/margo.yaml': example('hello-world/margo.yaml'),
      'hello-world/1.0.0/resources/compose.tar.gz': 'a packed compose folder',
      'helm-app/1.0.0/margo.yaml': example('helm-app/margo.yaml'),
      'helm-app/1.0.0/oci/index.json': layoutIndex([
        {
          descriptor: { mediaType: OCI_MANIFEST, digest: CHART_MANIFEST, size: 400 },
          repository: 'helm-app/hello',
          tag: '1.0.0',
          component: 'hello',
        },
      ]).toString(),
    },
    'publish the examples',
  );
  new WorkTree(root, join(reposRoot, 'fleet.git'), 'main').write(
    {
      'devices/edge-1.yaml': 'kind: Device\nid: edge-1\nrole: standalone-device\n',
      'devices/k8s-1.yaml': 'kind: Device\nid: k8s-1\nrole: standalone-cluster\n',
      'deployments/hello.yaml':
        'kind: Deployment\nname: hello\napplication: {id: hello-world, version: 1.0.0}\ntargets: {devices: [edge-1]}\nparameters: {GREETING: "Hi: there"}\n',
      'deployments/chart.yaml':
        'kind: Deployment\nname: chart\napplication: {id: helm-app, version: 1.0.0}\ntargets: {devices: [k8s-1]}\n',
    },
    'deploy',
  );
  orch = new Orchestrator({
    dataDir: join(root, 'data'),
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    registryHost: '127.0.0.1:8470',
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

test("the orchestrator's rendered deployments are valid rc.2 appDeploymentManifests", { skip }, async () => {
  const s = await orch.reconcileNow('conformance');
  assert.deepEqual(s.failed, []);
  const outcomes = ['edge-1', 'k8s-1'].flatMap((id) => orch.deviceOutcomes(id));
  assert.deepEqual(
    outcomes.map((o) => [o.deviceId, o.status, o.code]),
    [
      ['edge-1', 'matched', undefined],
      ['k8s-1', 'matched', undefined],
    ],
    JSON.stringify(outcomes),
  );
  const seen: string[] = [];
  for (const [id, file, type] of [
    ['edge-1', 'deployments/hello.yaml', 'compose'],
    ['k8s-1', 'deployments/chart.yaml', 'helm'],
  ] as const) {
    const doc = parse(bareGit(join(reposRoot, 'devices', `${id}.git`), 'show', `main:${file}`));
    expectOpenApiValid('appDeploymentManifest', doc);
    assert.equal(doc.metadata.deviceId, id);
    assert.equal(doc.spec.deploymentProfile.type, type);
    const c = doc.spec.deploymentProfile.components[0];
    assert.match(c.properties.repository, /^oci:\/\/127\.0\.0\.1:8470\//);
    assert.match(c['x-margo-gitops-extensions'].digest, /^sha256:[0-9a-f]{64}$/);
    seen.push(`${id}:${c.properties.repository}`);
  }
  assert.deepEqual(seen, [
    'edge-1:oci://127.0.0.1:8470/hello-world/hello',
    'k8s-1:oci://127.0.0.1:8470/helm-app/hello',
  ]);
});
