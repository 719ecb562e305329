import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildDeviceHold } from '@margo-gitops/spec';
import { readDeviceStatus } from './device-repo.js';

/** A bare repository whose `status` branch holds `files` (one commit); returns gitdir and oid. */
function statusRepo(files: Record<string, string>): { gitdir: string; oid: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'hold-status-'));
  const work = join(root, 'work');
  const git = (cwd: string, ...a: string[]) =>
    execFileSync('git', a, {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
    }).trim();
  execFileSync('git', ['init', '-q', '-b', 'status', work]);
  for (const [p, c] of Object.entries(files)) writeFileSync(join(work, p), c);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'status');
  return {
    gitdir: join(work, '.git'),
    oid: git(work, 'rev-parse', 'HEAD'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

test('readDeviceStatus: hold.json is DeviceReport.hold; an unreadable one is a status problem, not a hold', async () => {
  let r = statusRepo({
    'hold.json': buildDeviceHold({ reason: 'batch 7', since: '2026-12-03T04:00:00.000Z' }),
  });
  try {
    const rep = await readDeviceStatus(r.gitdir, r.oid);
    assert.deepEqual(rep.hold, { reason: 'batch 7', since: '2026-12-03T04:00:00.000Z' });
    assert.deepEqual(rep.problems, []);
  } finally {
    r.cleanup();
  }
  r = statusRepo({ 'hold.json': '{"reason": "no kind"}', 'capabilities.json': '{}' });
  try {
    const rep = await readDeviceStatus(r.gitdir, r.oid);
    assert.equal(rep.hold, undefined);
    assert.deepEqual(
      rep.problems.filter((p) => p.path === 'hold.json').map((p) => p.code),
      ['ORCH_STATUS_INVALID'],
    );
  } finally {
    r.cleanup();
  }
  r = statusRepo({ 'capabilities.json': '{}' });
  try {
    assert.equal((await readDeviceStatus(r.gitdir, r.oid)).hold, undefined);
  } finally {
    r.cleanup();
  }
});
