import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitEnv, runGit } from './git-remote.js';

const README: Record<string, string> = {
  catalog:
    '# Application catalog\n\nOne folder per application and version: `<appId>/<version>/margo.yaml` plus `resources/`.\nPublish with `margo app publish DIR` (a git push; invalid packages are refused).\n',
  fleet:
    '# Fleet repository\n\n- `devices/<id>.yaml`: one `kind: Device` per device\n- `deployments/<name>.yaml`: one `kind: Deployment` intent per deployment\n\nChange it with `margo device ...`, `margo deploy`, or by committing here.\n',
};

/**
 * Gives bare `<dataDir>/repos/{catalog,fleet}.git` (created when missing) a first commit on main,
 * seeded from `<templateDir>/<name>/` (or a README when the template has no such folder). Native git.
 */
export async function seedRepos(dataDir: string, templateDir: string): Promise<void> {
  const env = gitEnv(undefined, {
    ...process.env,
    GIT_AUTHOR_NAME: 'margo init',
    GIT_AUTHOR_EMAIL: 'margo@localhost',
    GIT_COMMITTER_NAME: 'margo init',
    GIT_COMMITTER_EMAIL: 'margo@localhost',
  });
  for (const name of ['catalog', 'fleet']) {
    const bare = join(dataDir, 'repos', `${name}.git`);
    await mkdir(bare, { recursive: true });
    await runGit(['init', '--quiet', '--bare', '--initial-branch=main', bare], { env });
    const work = await mkdtemp(join(tmpdir(), 'margo-init-'));
    try {
      await runGit(['init', '--quiet', '--initial-branch=main', work], { env });
      const tpl = join(templateDir, name);
      const hasTpl = await stat(tpl).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (hasTpl && (await readdir(tpl)).length) await cp(tpl, work, { recursive: true });
      else await writeFile(join(work, 'README.md'), README[name]!);
      for (const sub of name === 'fleet' ? ['devices', 'deployments'] : []) {
        await mkdir(join(work, sub), { recursive: true });
        if ((await readdir(join(work, sub))).length === 0) await writeFile(join(work, sub, '.gitkeep'), '');
      }
      await runGit(['add', '-A'], { cwd: work, env });
      await runGit(['commit', '--quiet', '-m', `margo init: ${name} repository`], { cwd: work, env });
      await runGit(['push', '--quiet', bare, 'HEAD:refs/heads/main'], { cwd: work, env });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

/** Creates and seeds the repositories with native git only (tests without the git package's createRepos). */
export const createReposNative = seedRepos;
