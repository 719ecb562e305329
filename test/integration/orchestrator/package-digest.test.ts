// The rendered desired state pins package-relative Compose files (package and signing key) by
// SHA-256, so the bytes a device downloads from the catalog route are covered by the signed
// manifest; a location naming no file in the catalog is reported instead of deployed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
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

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const rendered = () => parse(bareGit(dev, 'show', 'main:deployments/pin.yaml'));
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
    resolvePackageLocation: (id, version, loc) => `http://margo.test/catalog/${id}/${version}/${loc}`,
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

test('package and key locations carry the SHA-256 of the catalog files', async () => {
  catalog.write(
    {
      'pinned/1.0.0/margo.yaml': app('1.0.0', './resources/web.tar.gz', 'file:resources/key.asc'),
      'pinned/1.0.0/resources/web.tar.gz': 'tarball one',
      'pinned/1.0.0/resources/key.asc': 'public key',
    },
    'publish 1.0.0',
  );
  deploy('1.0.0');
  const s = await orch.reconcileNow('test');
  assert.deepEqual(s.failed, []);
  const c = rendered().spec.deploymentProfile.components[0].properties;
  assert.equal(
    c.packageLocation,
    `http://margo.test/catalog/pinned/1.0.0/resources/web.tar.gz#sha256=${sha('tarball one')}`,
  );
  assert.equal(
    c.keyLocation,
    `http://margo.test/catalog/pinned/1.0.0/resources/key.asc#sha256=${sha('public key')}`,
  );

  // New bytes under the same version: the pin follows, so the device re-downloads and re-checks.
  catalog.write({ 'pinned/1.0.0/resources/web.tar.gz': 'tarball two' }, 'rebuild the package');
  await orch.reconcileNow('test');
  assert.match(
    rendered().spec.deploymentProfile.components[0].properties.packageLocation,
    new RegExp(`#sha256=${sha('tarball two')}$`),
  );
});

test('absolute package URLs are kept as written (the publisher pins or signs them)', async () => {
  catalog.write(
    { 'pinned/1.1.0/margo.yaml': app('1.1.0', 'https://pkgs.example.invalid/web.tar.gz') },
    '1.1.0',
  );
  deploy('1.1.0');
  await orch.reconcileNow('test');
  assert.equal(
    rendered().spec.deploymentProfile.components[0].properties.packageLocation,
    'https://pkgs.example.invalid/web.tar.gz',
  );
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
