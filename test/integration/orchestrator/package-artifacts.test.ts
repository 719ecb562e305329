// The rendered desired state names every component as an OCI artifact pinned by manifest digest:
// from the package's oci/ layout (what `margo app publish` writes), or, for a legacy package-relative
// Compose tarball, the artifact the embedded registry synthesises from it (same bytes, same digest).
// What cannot be translated is held with a code naming the field; a missing file is reported.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { composeArtifact, layoutIndex } from '@margo-gitops/oci';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { parse } from 'yaml';
import { bareGit, capabilities, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-digest-');
const dataDir = join(root, 'data');
const reposRoot = join(dataDir, 'repos');
const dev = join(reposRoot, 'devices', 'edge-1.git');
let catalog: WorkTree;
let fleet: WorkTree;
let orch: Orchestrator;

const app = (version: string, pkg: string, key?: string) => `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: pinned
  name: Pinned
  version: ${version}
  catalog:
    organization: [{name: Acme}]
deploymentProfiles:
  - type: compose
    id: c
    components:
      - name: web
        properties:
          packageLocation: ${pkg}
${key ? `          keyLocation: ${key}\n` : ''}`;

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const rendered = () => parse(bareGit(dev, 'show', 'main:deployments/pin.yaml'));
const component = () => rendered().spec.deploymentProfile.components[0];
const deploy = (version: string) =>
  fleet.write(
    {
      'deployments/pin.yaml': `kind: Deployment\nname: pin\napplication: {id: pinned, version: ${version}}\ntargets: {devices: [edge-1]}\n`,
    },
    `deploy pinned ${version}`,
  );

before(async () => {
  await createRepos(reposRoot);
  await ensureDeviceRepo(reposRoot, 'edge-1');
  new WorkTree(root, dev, 'status', { name: 'edge-1', email: 'edge-1@devices.invalid' }).write(
    { 'capabilities.json': capabilities('edge-1', 'Standalone Device', '8Gi') },
    'capabilities',
  );
  catalog = new WorkTree(root, join(reposRoot, 'catalog.git'), 'main');
  fleet = new WorkTree(root, join(reposRoot, 'fleet.git'), 'main');
  fleet.write({ 'devices/edge-1.yaml': 'kind: Device\nid: edge-1\nrole: standalone-device\n' }, 'device');
  orch = new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    registryHost: 'margo.test:8080',
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

test('a legacy package-relative Compose tarball becomes the synthesised artifact of the embedded registry', async () => {
  catalog.write(
    {
      'pinned/1.0.0/margo.yaml': app('1.0.0', './resources/web.tar.gz', 'file:resources/key.asc'),
      'pinned/1.0.0/resources/web.tar.gz': 'tarball one',
    },
    'publish 1.0.0',
  );
  deploy('1.0.0');
  const s = await orch.reconcileNow('test');
  assert.deepEqual(s.failed, []);
  assert.deepEqual(component().properties, {
    repository: 'oci://margo.test:8080/pinned/web',
    revision: '1.0.0',
    wait: true,
  });
  assert.equal(
    component()['x-margo-gitops-extensions'].digest,
    composeArtifact(sha('tarball one'), 11, '1.0.0').digest,
  );

  // New bytes under the same version: the pin follows, so the device pulls and checks again.
  catalog.write({ 'pinned/1.0.0/resources/web.tar.gz': 'tarball two!' }, 'rebuild the package');
  await orch.reconcileNow('test');
  assert.equal(
    component()['x-margo-gitops-extensions'].digest,
    composeArtifact(sha('tarball two!'), 12, '1.0.0').digest,
  );
});

test("a published package's oci/ layout names the artifact: embedded, or on the external registry it was pushed to", async () => {
  const manifest = `sha256:${'c'.repeat(64)}`;
  const index = (registry?: string) =>
    layoutIndex([
      {
        descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: 321 },
        repository: 'pinned/web',
        tag: '1.2.0_build.7',
        component: 'web',
        ...(registry ? { registry } : {}),
      },
    ]).toString();
  catalog.write(
    {
      'pinned/1.2.0+build.7/margo.yaml': app('1.2.0+build.7', 'resources/web.tar.gz'),
      'pinned/1.2.0+build.7/resources/web.tar.gz': 'tarball',
      'pinned/1.2.0+build.7/oci/index.json': index(),
    },
    'publish 1.2.0+build.7',
  );
  deploy('1.2.0+build.7');
  await orch.reconcileNow('test');
  assert.deepEqual(component().properties, {
    repository: 'oci://margo.test:8080/pinned/web',
    revision: '1.2.0_build.7',
    wait: true,
  });
  assert.equal(component()['x-margo-gitops-extensions'].digest, manifest);

  catalog.write(
    {
      'pinned/1.3.0/margo.yaml': app('1.3.0', 'resources/web.tar.gz'),
      'pinned/1.3.0/resources/web.tar.gz': 'tarball',
      'pinned/1.3.0/oci/index.json': index('registry.example.invalid:5001/apps').replace(
        '1.2.0_build.7',
        '1.3.0',
      ),
    },
    'publish 1.3.0 to an external registry',
  );
  deploy('1.3.0');
  await orch.reconcileNow('test');
  assert.equal(component().properties.repository, 'oci://registry.example.invalid:5001/apps/pinned/web');
  assert.equal(component()['x-margo-gitops-extensions'].digest, manifest);
});

test('a download URL cannot be an OCI artifact: held with ORCH_COMPONENT_NOT_OCI naming the field', async () => {
  const before = bareGit(dev, 'rev-parse', 'main');
  catalog.write(
    { 'pinned/1.4.0/margo.yaml': app('1.4.0', 'https://pkgs.example.invalid/web.tar.gz') },
    '1.4.0',
  );
  deploy('1.4.0');
  await orch.reconcileNow('test');
  const o = orch.deviceOutcomes('edge-1').find((x) => x.deployment === 'pin');
  assert.equal(o?.code, 'ORCH_COMPONENT_NOT_OCI');
  assert.equal(o?.status, 'held');
  assert.match(o?.reason ?? '', /components\[0\] \(web\)\.properties\.packageLocation: .*download URL/);
  assert.equal(bareGit(dev, 'rev-parse', 'main'), before);
});

test('a package-relative location naming no catalog file is reported, and the device keeps what it has', async () => {
  catalog.write({ 'pinned/2.0.0/margo.yaml': app('2.0.0', 'resources/missing.tar.gz') }, 'publish 2.0.0');
  const before = bareGit(dev, 'rev-parse', 'main');
  deploy('2.0.0');
  await orch.reconcileNow('test');
  const o = orch.deviceOutcomes('edge-1').find((x) => x.deployment === 'pin');
  assert.equal(o?.code, 'ORCH_CATALOG_INVALID');
  assert.match(o?.reason ?? '', /resources\/missing\.tar\.gz not in the catalog under pinned\/2\.0\.0\//);
  assert.equal(bareGit(dev, 'rev-parse', 'main'), before);
});
