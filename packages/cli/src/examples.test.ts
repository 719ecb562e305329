// Every example under examples/ is valid, publishes to a real catalog repository (native git), and
// deploys (the intent lands in the fleet repository). Installation on real runtimes is covered by
// test/e2e/cli.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validatePaths } from '@margo-gitops/spec';
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

describe('examples/', () => {
  it('hello-world runs the image the quickstart hint names', async () => {
    const compose = await readFile(
      join(examplesDir, 'hello-world/resources/compose/docker-compose.yml'),
      'utf8',
    );
    assert.match(compose, new RegExp(`image: ${HELLO_IMAGE.replace(/\./g, '\\.')}\\n`));
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
    assert.deepEqual(tar.trim().split('\n'), ['docker-compose.yml']);
  });
});
