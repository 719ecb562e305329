// Smoke: clone and push through the independent Git HTTP server (nginx + fcgiwrap +
// git http-backend), anonymously and through the basic-auth location.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireComponent } from '../testbed/env.ts';
import { mustRun, run, uniqueName } from './util.ts';

const gitEnv = {
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'smoke',
  GIT_AUTHOR_EMAIL: 'smoke@localhost',
  GIT_COMMITTER_NAME: 'smoke',
  GIT_COMMITTER_EMAIL: 'smoke@localhost',
};
const git = (args: string[], cwd?: string) => mustRun('git', args, { env: gitEnv, cwd, timeoutMs: 60_000 });

test('git clone and push through nginx + git-http-backend', async (t) => {
  const tb = requireComponent(t, 'git');
  if (!tb) return;
  const repo = `${uniqueName('smoke')}.git`;
  const work = mkdtempSync(join(tmpdir(), 'margo-smoke-git-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(join(tb.gitRoot!, repo), { recursive: true, force: true });
  });
  await git(['init', '-q', '--bare', '-b', 'main', join(tb.gitRoot!, repo)]);

  const url = `${tb.gitHttp}/${repo}`;
  await git(['clone', '-q', url, join(work, 'a')]);
  writeFileSync(join(work, 'a', 'hello.txt'), 'hello through nginx\n');
  await git(['add', 'hello.txt'], join(work, 'a'));
  await git(['commit', '-q', '-m', 'first'], join(work, 'a'));
  await git(['push', '-q', 'origin', 'HEAD:main'], join(work, 'a'));

  await git(['clone', '-q', url, join(work, 'b')]);
  assert.equal(readFileSync(join(work, 'b', 'hello.txt'), 'utf8'), 'hello through nginx\n');
  // the push really landed in the server's repository root
  const head = (await git(['--git-dir', join(tb.gitRoot!, repo), 'rev-parse', 'main'])).trim();
  const local = (await git(['rev-parse', 'HEAD'], join(work, 'a'))).trim();
  assert.equal(head, local);
});

test('the basic-auth git location refuses anonymous access and accepts the testbed user', async (t) => {
  const tb = requireComponent(t, 'git');
  if (!tb) return;
  const url = `${tb.gitHttpAuth}/testbed.git`;
  const denied = await run('git', ['ls-remote', url], { env: gitEnv, timeoutMs: 30_000 });
  assert.notEqual(denied.code, 0);
  const withCreds = url.replace(
    '://',
    `://${encodeURIComponent(tb.gitUser!)}:${encodeURIComponent(tb.gitPassword!)}@`,
  );
  const out = await git(['ls-remote', withCreds]);
  assert.match(out, /refs\/heads\/main/);
  const work = mkdtempSync(join(tmpdir(), 'margo-smoke-gitauth-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  await git(['clone', '-q', withCreds, join(work, 'c')]);
  assert.ok(existsSync(join(work, 'c', 'README.md')));
});
