import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { catalogApp, catalogList } from './read-api.js';

// A real bare catalog repository written with git: the catalog list is kept per catalog commit, so a
// publish (the head moving) must show at once, and an unchanged head must answer the same.
test('catalog list follows the catalog head (read once per commit)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'margo-console-catalog-'));
  try {
    const data = join(dir, 'data');
    const bare = join(data, 'repos', 'catalog.git');
    const work = join(dir, 'work');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' });
    await mkdir(bare, { recursive: true });
    git(bare, 'init', '-q', '--bare', '-b', 'main');
    assert.deepEqual(await catalogList(data), { apps: [] });
    git(dir, 'init', '-q', '-b', 'main', work);
    const publish = async (version: string) => {
      await mkdir(join(work, 'app-a', version), { recursive: true });
      await writeFile(join(work, 'app-a', version, 'margo.yaml'), 'not a package\n');
      git(work, 'add', '-A');
      git(work, 'commit', '-q', '-m', `publish ${version}`);
      git(work, 'push', '-q', bare, 'main');
    };
    await publish('1.0.0');
    const first = await catalogList(data);
    assert.deepEqual(first, {
      apps: [
        { id: 'app-a', name: 'app-a', latest: '1.0.0', versions: [{ version: '1.0.0', yanked: false }] },
      ],
    });
    assert.equal(await catalogList(data), first, 'same head: the same answer');
    await publish('1.1.0');
    assert.deepEqual(
      (await catalogList(data)).apps[0]!.versions.map((v) => v.version),
      ['1.1.0', '1.0.0'],
    );
    assert.equal((await catalogApp(data, 'app-a')).latest, '1.1.0');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
