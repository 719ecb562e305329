import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { baseApp, baseDeployment, yaml } from './test-fixtures.js';
import { validateApplicationPackage, validatePaths } from './validate-files.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-spec-files-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function makePackage(
  dir: string,
  mutate: (d: Record<string, any>) => void = () => {},
  withResources = true,
) {
  await mkdir(join(dir, 'resources'), { recursive: true });
  const app = baseApp();
  mutate(app);
  await writeFile(join(dir, 'margo.yaml'), yaml(app));
  if (withResources) {
    await writeFile(join(dir, 'resources', 'icon.png'), 'png');
    await writeFile(join(dir, 'resources', 'description.md'), '# Hello');
  }
}

test('a good package validates and yields a model', async () => {
  const dir = join(root, 'good');
  await makePackage(dir);
  const r = await validateApplicationPackage(dir);
  assert.deepEqual(r.findings, []);
  assert.equal(r.model?.id, 'com-example-hello');
  assert.equal(r.file, join(dir, 'margo.yaml'));
});

test('missing catalog resources are reported with file and position', async () => {
  const dir = join(root, 'missing-res');
  await makePackage(dir, (a) => (a.metadata.catalog.application.licenseFile = '../../etc/passwd'), false);
  const r = await validateApplicationPackage(dir);
  const codes = r.findings.map((f) => [f.code, f.path]);
  assert.deepEqual(codes, [
    ['SPEC_PACKAGE_RESOURCE_MISSING', '/metadata/catalog/application/icon'],
    ['SPEC_PACKAGE_RESOURCE_MISSING', '/metadata/catalog/application/descriptionFile'],
    ['SPEC_PACKAGE_RESOURCE_MISSING', '/metadata/catalog/application/licenseFile'],
  ]);
  for (const f of r.findings) {
    assert.equal(f.file, join(dir, 'margo.yaml'));
    assert.ok(f.line && f.line > 1);
  }
  assert.match(r.findings.find((f) => f.path.endsWith('licenseFile'))!.message, /outside the package/);
  assert.equal(r.model, undefined);
});

test('URLs in the catalog are not checked', async () => {
  const dir = join(root, 'urls');
  await makePackage(
    dir,
    (a) => (a.metadata.catalog.application = { icon: 'https://example.com/i.png' }),
    false,
  );
  assert.deepEqual((await validateApplicationPackage(dir)).findings, []);
});

test('a folder without margo.yaml given as a package', async () => {
  const dir = join(root, 'empty-pkg');
  await mkdir(dir);
  const r = await validateApplicationPackage(dir);
  assert.equal(r.findings[0]!.code, 'SPEC_PACKAGE_NO_DESCRIPTION');
});

test('validatePaths walks folders, detects packages and kinds, refuses big files before reading', async () => {
  const tree = join(root, 'tree');
  await makePackage(join(tree, 'catalog', 'hello', '1.2.0'));
  await mkdir(join(tree, 'docs'), { recursive: true });
  await writeFile(join(tree, 'docs', 'deployment.yaml'), yaml(baseDeployment()));
  await writeFile(
    join(tree, 'docs', 'bad.json'),
    '{"deploymentId": "x", "status": {"state": "weird"}, "components": []}',
  );
  await writeFile(join(tree, 'docs', 'notes.txt'), 'not a document');
  await writeFile(join(tree, 'docs', 'huge.yaml'), '');
  await truncate(join(tree, 'docs', 'huge.yaml'), 20 * 1024 * 1024);
  await mkdir(join(tree, 'fleet', 'devices'), { recursive: true });
  await writeFile(
    join(tree, 'fleet', 'devices', 'edge-1.yaml'),
    'apiVersion: fleet.margo-gitops.io/v1alpha1\nkind: Device\nid: edge-1\n',
  );
  await mkdir(join(tree, '.git'));
  await writeFile(join(tree, '.git', 'config.yaml'), 'not: [valid');
  await symlink(tree, join(tree, 'docs', 'loop'));
  const results = await validatePaths([tree]);
  const byName = new Map(results.map((r) => [r.file.slice(tree.length + 1), r]));
  assert.deepEqual([...byName.keys()].sort(), [
    'catalog/hello/1.2.0/margo.yaml',
    'docs/bad.json',
    'docs/deployment.yaml',
    'docs/huge.yaml',
    'fleet/devices/edge-1.yaml',
  ]);
  assert.equal(byName.get('catalog/hello/1.2.0/margo.yaml')!.package, true);
  assert.deepEqual(byName.get('catalog/hello/1.2.0/margo.yaml')!.findings, []);
  assert.equal(byName.get('docs/deployment.yaml')!.kind, 'ApplicationDeployment');
  assert.deepEqual(byName.get('docs/deployment.yaml')!.findings, []);
  assert.equal(byName.get('docs/bad.json')!.kind, 'DeploymentStatus');
  assert.deepEqual(
    byName
      .get('docs/bad.json')!
      .findings.map((f) => f.code)
      .sort(),
    ['SPEC_INVALID_DEPLOYMENT_ID', 'SPEC_UNKNOWN_STATE'],
  );
  assert.deepEqual(
    byName.get('docs/huge.yaml')!.findings.map((f) => f.code),
    ['SPEC_FILE_TOO_LARGE'],
  );
  assert.equal(byName.get('fleet/devices/edge-1.yaml')!.kind, 'FleetDevice');
  // A missing path is an I/O finding, not a crash.
  const missing = await validatePaths([join(root, 'nope')]);
  assert.equal(missing[0]!.findings[0]!.code, 'IO_ERROR');
});

test('walked files that are not Margo documents are info, named files are errors', async () => {
  const dir = join(root, 'mixed');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{"name": "x", "version": "1.0.0"}');
  await writeFile(join(dir, 'pod.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\n');
  await writeFile(join(dir, 'list.yaml'), '- a\n- b\n');
  await writeFile(join(dir, 'wrong-kind.yaml'), yaml({ ...baseDeployment(), kind: 'SomethingErroneous' }));
  const walked = await validatePaths([dir]);
  const sev = Object.fromEntries(
    walked.map((r) => [r.file.slice(dir.length + 1), r.findings.map((f) => `${f.severity} ${f.code}`)]),
  );
  assert.deepEqual(sev, {
    'list.yaml': ['info SPEC_NOT_AN_OBJECT'],
    'package.json': ['info SPEC_UNKNOWN_KIND'],
    'pod.yaml': ['info SPEC_UNKNOWN_KIND'],
    // It looks like a Margo document: a wrong kind stays an error.
    'wrong-kind.yaml': ['error SPEC_UNKNOWN_KIND'],
  });
  const named = await validatePaths([join(dir, 'package.json'), join(dir, 'pod.yaml')]);
  for (const r of named) assert.equal(r.findings[0]!.severity, 'error');
});

test('a margo.yaml named explicitly is checked as its package (resources too)', async () => {
  const dir = join(root, 'explicit');
  await makePackage(dir, () => {}, false);
  const [r] = await validatePaths([join(dir, 'margo.yaml')]);
  assert.equal(r!.package, true);
  assert.equal(r!.file, join(dir, 'margo.yaml'));
  assert.ok(r!.findings.some((f) => f.code === 'SPEC_PACKAGE_RESOURCE_MISSING'));
});

test('relative Compose package and key locations must exist (a X.tar.gz may be a folder X/)', async () => {
  const dir = join(root, 'compose-files');
  await makePackage(dir, (a) => {
    a.deploymentProfiles[1].components[0].properties = {
      packageLocation: 'resources/compose.tar.gz',
      keyLocation: 'file:resources/key.asc',
    };
  });
  let r = await validateApplicationPackage(dir);
  assert.deepEqual(
    r.findings.map((f) => [f.code, f.path]),
    [
      ['SPEC_PACKAGE_RESOURCE_MISSING', '/deploymentProfiles/1/components/0/properties/packageLocation'],
      ['SPEC_PACKAGE_RESOURCE_MISSING', '/deploymentProfiles/1/components/0/properties/keyLocation'],
    ],
  );
  assert.match(r.findings[0]!.message, /no folder resources\/compose\/ to pack it from/);
  await mkdir(join(dir, 'resources', 'compose'));
  await writeFile(join(dir, 'resources', 'key.asc'), 'key');
  r = await validateApplicationPackage(dir);
  assert.deepEqual(r.findings, []);
});
