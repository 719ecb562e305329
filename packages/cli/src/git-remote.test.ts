// How pushes that lose a race are recognised and retried: git's own verdicts (on stdout with
// --porcelain, on stderr without) are conflicts, a server's refusal of the content is not; and
// concurrent writers of one bare repository all land, none dropped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  backoffDelay,
  classifyGitFailure,
  commitChange,
  isPushConflict,
  rejectedRefs,
} from './git-remote.js';

const PUSH = ['push', '--porcelain', 'origin', 'HEAD:refs/heads/main'];

describe('classifyGitFailure', () => {
  it('reads a lost race from the --porcelain status lines on stdout', () => {
    const stdout = 'To /tmp/r.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone\n';
    const stderr = "error: failed to push some refs to '/tmp/r.git'\n";
    assert.deepEqual(rejectedRefs(stdout), ['[rejected] (fetch first)']);
    assert.equal(classifyGitFailure(PUSH, stderr, undefined, stdout).code, 'CLI_PUSH_CONFLICT');
    // The old classifier read only stderr: this is the exact case it missed.
    assert.equal(classifyGitFailure(PUSH, stderr).code, 'CLI_GIT_FAILED');
  });

  it('a ref update that lost on the server is a conflict', () => {
    const stdout =
      'To http://127.0.0.1/git/fleet.git\n!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)\nDone\n';
    assert.equal(isPushConflict(stdout, ''), true);
    assert.equal(
      isPushConflict(
        '',
        ' ! [remote rejected] HEAD -> main (failed to update ref)\nerror: failed to push some refs\n',
      ),
      true,
    );
    assert.equal(isPushConflict('', ' ! [rejected]        HEAD -> main (non-fast-forward)\n'), true);
  });

  it("a server's refusal of the content is not a conflict, even when its message says non-fast-forward", () => {
    const stdout =
      '!\tHEAD:refs/heads/main\t[remote rejected] (GIT_ACCESS_DENIED a device token may update only refs/heads/status)\n';
    assert.equal(isPushConflict(stdout, ''), false);
    const stderr =
      'remote: refs/heads/main: the history of this repository cannot be rewritten (non-fast-forward); fetch, rebase and push again\n';
    assert.equal(
      isPushConflict('!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)\n', stderr),
      false,
    );
    const e = classifyGitFailure(PUSH, stderr, undefined, stdout);
    assert.equal(e.code, 'CLI_GIT_FAILED');
    assert.match(String(e.data?.output), /GIT_ACCESS_DENIED/);
  });

  it('backoff is jittered, grows, and is capped', () => {
    assert.equal(
      backoffDelay(2, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(2, () => 0.999),
      99,
    );
    assert.equal(
      backoffDelay(4, () => 0.999),
      399,
    );
    assert.equal(
      backoffDelay(30, () => 0.999),
      1998,
    );
  });
});

describe('commitChange against a bare repository', () => {
  let dir: string;
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1' };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'margo-git-remote-'));
    const bare = join(dir, 'repos', 'fleet.git');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare], { env });
    const wt = join(dir, 'seed');
    execFileSync('git', ['clone', '-q', bare, wt], { env, stdio: 'ignore' });
    await writeFile(join(wt, 'labels.txt'), '');
    execFileSync('git', ['add', '.'], { cwd: wt, env });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'seed'], {
      cwd: wt,
      env,
    });
    execFileSync('git', ['push', '-q', 'origin', 'HEAD:main'], { cwd: wt, env });
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const conn = () => ({ server: dir, source: 'test' });

  it('eight concurrent writers of the same file all land (each re-applied on the new head)', async () => {
    const writers = Array.from({ length: 8 }, (_, i) =>
      commitChange(conn(), 'fleet', `add w${i}`, async (co) => {
        const file = join(co.dir, 'labels.txt');
        await writeFile(file, (await readFile(file, 'utf8')) + `w${i}\n`);
      }),
    );
    const results = await Promise.all(writers);
    assert.ok(results.every((r) => r.commit));
    assert.ok(
      results.some((r) => r.attempts > 1),
      'the writers did race',
    );
    const text = execFileSync(
      'git',
      ['--git-dir', join(dir, 'repos', 'fleet.git'), 'show', 'main:labels.txt'],
      {
        encoding: 'utf8',
      },
    );
    assert.deepEqual(text.trim().split('\n').sort(), Array.from({ length: 8 }, (_, i) => `w${i}`).sort());
  });

  it('when the attempts run out it fails with CLI_PUSH_CONFLICT (exit 5), never silently', async () => {
    await assert.rejects(
      commitChange(
        conn(),
        'fleet',
        'loses',
        async (co) => {
          await writeFile(join(co.dir, 'mine.txt'), 'x');
          // Another writer lands between this clone and its push, every time.
          await commitChange(conn(), 'fleet', 'wins', async (o) => {
            await writeFile(join(o.dir, 'other.txt'), String(Math.random()));
          });
        },
        { attempts: 2, random: () => 0 },
      ),
      (e: { code?: string; message?: string }) =>
        e.code === 'CLI_PUSH_CONFLICT' && /gave up after 2 attempts/.test(e.message ?? ''),
    );
  });
});
