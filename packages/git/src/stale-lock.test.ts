import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IsoGitStore } from './iso-git-store.js';
import { NativeGitStore } from './native-git-store.js';
import { STALE_LOCK_MS } from './refs-fs.js';
import type { GitStore } from './store.js';

const author = { name: 'tester', email: 'tester@example.invalid' };

for (const [backend, make] of [
  ['isomorphic-git', (d: string) => new IsoGitStore(d)],
  ['native git', (d: string) => new NativeGitStore(d)],
  // every commit through git plumbing (update-ref), not the in-process path for small commits
  ['native git, plumbing path', (d: string) => new NativeGitStore(d, { smallCommitThreshold: 0 })],
] as [string, (d: string) => GitStore][]) {
  test(`${backend}: a ref lock left by a killed writer is taken over; a live one is a conflict`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'margo-stale-lock-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = make(dir);
    await store.init({ bare: true, defaultBranch: 'main' });
    const first = await store.commitFiles({
      ref: 'status',
      expectedOid: null,
      changes: new Map([['a.json', Buffer.from('1')]]),
      message: 'one',
      author,
    });
    const lock = join(dir, 'refs', 'heads', 'status.lock');
    const commit = (n: string, expectedOid: string) =>
      store.commitFiles({
        ref: 'status',
        expectedOid,
        changes: new Map([['a.json', Buffer.from(n)]]),
        message: n,
        author,
      });

    writeFileSync(lock, ''); // a writer holding the lock right now
    await assert.rejects(commit('2', first.oid), { code: 'GIT_CAS_CONFLICT' });

    const old = (Date.now() - STALE_LOCK_MS - 5_000) / 1000;
    utimesSync(lock, old, old); // the same lock, left behind by a kill -9 long ago
    const second = await commit('3', first.oid);
    assert.equal(second.changed, true);
    assert.equal(await store.resolveRef('status'), second.oid);
  });
}
