// kill -9 while isomorphic-git writes objects: a child process commits large random files in a
// loop and is killed at a random moment, several times; afterwards stock `git fsck` must find no
// corrupt or missing object and the store must go on committing. Before objects were written
// atomically, a killed write left a truncated loose object that isomorphic-git never rewrites.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IsoGitStore } from './iso-git-store.js';
import { STALE_LOCK_MS } from './refs-fs.js';

const storeModule = fileURLToPath(new URL('./iso-git-store.ts', import.meta.url));

test(
  'isomorphic-git store: kill -9 during commits leaves no corrupt object',
  { timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'margo-kill-write-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = new IsoGitStore(dir);
    await store.init({ bare: true, defaultBranch: 'main' });
    const worker = join(dir, '..', `${dir.split('/').pop()}-worker.mts`);
    t.after(() => rmSync(worker, { force: true }));
    writeFileSync(
      worker,
      `import { randomBytes } from 'node:crypto';
import { IsoGitStore } from ${JSON.stringify(storeModule)};
const s = new IsoGitStore(${JSON.stringify(dir)});
for (let i = 0; ; i++) {
  const head = await s.resolveRef('status');
  const changes = new Map(Array.from({ length: 4 }, (_, k) => [\`f\${k}.bin\`, randomBytes(400_000)]));
  await s.commitFiles({ ref: 'status', expectedOid: head, changes, message: 'c' + i, author: { name: 'w', email: 'w@x.invalid' } });
  if (i === 0) process.stdout.write('ready\\n');
}
`,
    );
    // A kill can also leave the ref lock; it is taken over once it is STALE_LOCK_MS old. Each
    // restart here stands for one after that much time, so the lock is aged instead of waited on.
    const lock = join(dir, 'refs', 'heads', 'status.lock');
    const ageLeftLock = () => {
      if (!existsSync(lock)) return;
      const old = (Date.now() - STALE_LOCK_MS - 1000) / 1000;
      utimesSync(lock, old, old);
    };
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', worker], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // A worker that dies before its first commit fails the test instead of leaving it waiting.
      const ready = await Promise.race([
        new Promise<true>((res) => child.stdout.once('data', () => res(true))),
        exited.then((code) => code),
      ]);
      assert.equal(
        ready,
        true,
        `worker of round ${round} exited with ${String(ready)} before its first commit`,
      );
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
      child.kill('SIGKILL');
      await exited;
      ageLeftLock();
    }
    const fsck = spawnSync('git', ['--git-dir', dir, 'fsck', '--full', '--no-dangling'], {
      encoding: 'utf8',
    });
    assert.doesNotMatch(
      fsck.stdout + fsck.stderr,
      /corrupt|missing|broken|error/i,
      fsck.stdout + fsck.stderr,
    );
    assert.equal(fsck.status, 0, fsck.stderr);
    const head = await store.resolveRef('status');
    const next = await store.commitFiles({
      ref: 'status',
      expectedOid: head,
      changes: new Map([['after.txt', Buffer.from('ok')]]),
      message: 'after the kills',
      author: { name: 't', email: 't@x.invalid' },
    });
    assert.equal(next.changed, true);
  },
);
