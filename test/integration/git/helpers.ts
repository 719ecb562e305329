/** Shared set-up for the embedded Git server integration tests: a data folder, tokens and a running server. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  NativeGitStore,
  TokenStore,
  createRepos,
  ensureDeviceRepo,
  startGitServer,
  type GitHttpHandlerOptions,
  type PushEvent,
  type Role,
  type StartedGitServer,
} from '@margo-gitops/git';
import { execGit } from '../../../packages/git/src/exec-git.ts';

export const author = { name: 'Margo Test', email: 'test@margo.invalid', timestamp: 1_700_000_000 };

export interface Env {
  root: string;
  repos: string;
  tokens: TokenStore;
  srv: StartedGitServer;
  events: PushEvent[];
  token: Record<Role, string>;
  url: (repo: string) => string;
}

export async function tempDir(t: TestContext, prefix = 'margo-git-it-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A data folder with catalog, fleet, devices d1 and d2 (each seeded with main, devices also status), tokens per role, a running server. */
export async function startEnv(t: TestContext, opts: Partial<GitHttpHandlerOptions> = {}): Promise<Env> {
  const root = await tempDir(t);
  const repos = join(root, 'repos');
  await createRepos(repos);
  for (const id of ['d1', 'd2']) await ensureDeviceRepo(repos, id);
  for (const name of ['catalog.git', 'fleet.git', 'devices/d1.git', 'devices/d2.git']) {
    const s = new NativeGitStore(join(repos, name));
    await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: new Map([['README.md', `${name}\n`]]),
      message: 'seed',
      author,
    });
    if (name.startsWith('devices/')) {
      await s.commitFiles({
        ref: 'status',
        expectedOid: null,
        changes: new Map([['capabilities.json', '{}']]),
        message: 'seed',
        author,
      });
    }
  }
  const tokens = TokenStore.open(join(root, 'auth', 'tokens.json'));
  const token = {
    admin: tokens.issueToken('admin').token,
    publisher: tokens.issueToken('publisher').token,
    operator: tokens.issueToken('operator').token,
    viewer: tokens.issueToken('viewer').token,
    device: tokens.issueToken('device', { deviceId: 'd1' }).token,
  };
  const events: PushEvent[] = [];
  const srv = await startGitServer({
    reposRoot: repos,
    tokens,
    rateLimit: false,
    onPush: (e) => events.push(e),
    ...opts,
  });
  t.after(() => srv.close());
  return { root, repos, tokens, srv, events, token, url: (repo) => `${srv.url}/${repo}` };
}

/** Refs and object count of a bare repository: equal snapshots mean nothing was written. */
export async function snapshot(gitdir: string): Promise<string> {
  const refs = (
    await execGit(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname) %(refname)'])
  ).stdout.toString();
  const objects = (await execGit(['--git-dir', gitdir, 'count-objects', '-v'])).stdout
    .toString()
    .split('\n')
    .filter((l) => /^(count|in-pack):/.test(l))
    .join(' ');
  return `${refs}\n${objects}`;
}

export { execGit };
