// Every example under examples/ is valid, publishes to a real catalog repository (native git), and
// deploys (the intent lands in the fleet repository). Installation on real runtimes is covered by
// test/e2e/cli.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validatePaths } from '@margo-gitops/spec';
import { parse as parseYaml } from 'yaml';
import { memoryIo } from './io.js';
import { main } from './main.js';
import { createReposNative } from './native-repos.js';
import { HELLO_IMAGE } from './commands/quickstart.js';
import { examplesDir, reposTemplateDir } from './paths.js';
import type { Services } from './services.js';

let root: string;
let env: NodeJS.ProcessEnv;
async function margo(...args: string[]) {
  const io = memoryIo();
  const code = await main(['node', 'margo', ...args], { io, env, cwd: root, services: {} as Services });
  return { code, out: io.stdout(), err: io.stderr() };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-examples-'));
  await createReposNative(root, reposTemplateDir);
  env = { ...process.env, MARGO_CONFIG: join(root, 'config.json'), MARGO_SERVER: root };
});
after(() => rm(root, { recursive: true, force: true }));

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

describe('examples/', () => {
  it('hello-world runs the image the quickstart hint names', async () => {
    const compose = await readFile(join(examplesDir, 'hello-world/resources/compose/compose.yaml'), 'utf8');
    assert.match(compose, new RegExp(`image: ${HELLO_IMAGE.replace(/\./g, '\\.')}\\n`));
  });

  // A user with Docker and internet runs these files unchanged: no reference to the testbed's
  // registries or its own image, and every image is the one public reference the testbed pre-loads.
  it('names only public images, the one the testbed pre-loads, and charts shipped in the package', async () => {
    const files = await listFiles(examplesDir);
    assert.ok(files.length >= 20, `only ${files.length} files`);
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      assert.doesNotMatch(
        text,
        /127\.0\.0\.1:500[01]|localhost:500[01]|margo\/echo/,
        relative(examplesDir, f),
      );
    }
    const images: string[] = [];
    for (const f of files.filter((x) => /(docker-)?compose\.ya?ml$/.test(x))) {
      const doc = parseYaml(await readFile(f, 'utf8')) as { services: Record<string, { image: string }> };
      for (const svc of Object.values(doc.services)) images.push(svc.image);
    }
    for (const f of files.filter((x) => /\/charts\/[^/]+\/values\.yaml$/.test(x))) {
      const v = parseYaml(await readFile(f, 'utf8')) as { image: { repository: string; tag: string } };
      images.push(`${v.image.repository}:${v.image.tag}`);
    }
    assert.equal(images.length, 6, images.join(' '));
    assert.deepEqual([...new Set(images)], [HELLO_IMAGE]);
    const lib = await readFile(join(examplesDir, '../test/testbed/lib.sh'), 'utf8');
    assert.match(
      lib,
      new RegExp(`^PUBLIC_IMAGES="([^"]* )?${HELLO_IMAGE.replace(/\./g, '\\.')}( [^"]*)?"$`, 'm'),
    );
    // Helm components name a chart folder of their package whose version is the revision.
    for (const app of ['helm-app', 'multi-component']) {
      const desc = parseYaml(await readFile(join(examplesDir, app, 'margo.yaml'), 'utf8')) as {
        deploymentProfiles: { type: string; components: { properties: Record<string, string> }[] }[];
      };
      for (const p of desc.deploymentProfiles.filter((x) => x.type === 'helm.v3')) {
        for (const c of p.components) {
          const chart = parseYaml(
            await readFile(join(examplesDir, app, c.properties.repository!, 'Chart.yaml'), 'utf8'),
          ) as { version: string };
          assert.equal(chart.version, c.properties.revision, `${app} ${c.properties.repository}`);
        }
      }
    }
  });

  it('every file is valid', async () => {
    const results = await validatePaths([examplesDir]);
    assert.ok(results.length >= 6, `only ${results.length} files found`);
    for (const r of results) {
      const errors = r.findings.filter((f) => f.severity === 'error');
      assert.deepEqual(errors, [], r.file);
    }
  });

  it('every application publishes and deploys', async () => {
    const apps = (await readdir(examplesDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && d.name !== 'devices')
      .map((d) => d.name);
    assert.deepEqual(apps.sort(), ['hello-world', 'helm-app', 'multi-component']);
    // A device the selector matches (deploy refuses a selector matching none).
    const fleet = join(root, 'fleet-work');
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', fleet, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a]);
    execFileSync('git', ['clone', '-q', join(root, 'repos/fleet.git'), fleet]);
    await mkdir(join(fleet, 'devices'), { recursive: true });
    await writeFile(join(fleet, 'devices/ex1.yaml'), 'kind: Device\nid: ex1\nlabels: {site: test}\n');
    git('add', '-A');
    git('commit', '-qm', 'add ex1');
    git('push', '-q', 'origin', 'HEAD:main');
    for (const app of apps) {
      const p = await margo('app', 'publish', join(examplesDir, app), '-o', 'json');
      assert.equal(p.code, 0, `${app}: ${p.err}`);
      const d = await margo('deploy', `${app}@1.0.0`, '--name', `${app}-test`, '--selector', 'site=test');
      assert.equal(d.code, 0, `${app}: ${d.err}`);
    }
    const files = execFileSync(
      'git',
      ['--git-dir', join(root, 'repos/catalog.git'), 'ls-tree', '-r', '--name-only', 'main'],
      { encoding: 'utf8' },
    );
    assert.match(files, /hello-world\/1\.0\.0\/resources\/compose\.tar\.gz/);
    assert.match(files, /multi-component\/1\.0\.0\/resources\/compose\.tar\.gz/);
    assert.match(files, /helm-app\/1\.0\.0\/charts\/hello\/Chart\.yaml/);
    const tar = execFileSync(
      'sh',
      [
        '-c',
        `git --git-dir ${join(root, 'repos/catalog.git')} cat-file blob main:hello-world/1.0.0/resources/compose.tar.gz | tar -tz`,
      ],
      { encoding: 'utf8' },
    );
    // A Margo Compose Archive: one top-level folder named after the component.
    assert.deepEqual(tar.trim().split('\n'), ['hello/', 'hello/compose.yaml']);
    // Every component, Compose folder or chart shipped in the package, is packed into the package's
    // OCI layout (what the server's registry serves), under <appId>/<component>.
    const packed = (app: string) => {
      const index = JSON.parse(
        execFileSync(
          'git',
          [
            '--git-dir',
            join(root, 'repos/catalog.git'),
            'cat-file',
            'blob',
            `main:${app}/1.0.0/oci/index.json`,
          ],
          { encoding: 'utf8' },
        ),
      ) as { manifests: { annotations?: Record<string, string> }[] };
      return [...new Set(index.manifests.map((m) => m.annotations?.['io.margo-gitops.repository']))].sort();
    };
    assert.deepEqual(packed('hello-world'), ['hello-world/hello']);
    assert.deepEqual(packed('helm-app'), ['helm-app/hello']);
    assert.deepEqual(packed('multi-component'), [
      'multi-component/backend',
      'multi-component/frontend',
      'multi-component/web-and-api',
    ]);
  });
});
