import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBare, updateRef } from '../io/git-objects.js';
import { GitDeviceStateReader } from './reader.js';

const oid = (c: string) => c.repeat(40);
const HOUR = 3600_000;

async function repo(): Promise<{ root: string; gitdir: string; done(): void }> {
  const root = mkdtempSync(join(tmpdir(), 'margo-api-reader-'));
  const gitdir = join(root, 'devices', 'dev-1.git');
  await initBare(gitdir);
  return { root, gitdir, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('head: every ref update is seen by the very next read, also once the ref is cached by its stat', async () => {
  const r = await repo();
  try {
    // A clock an hour ahead makes every ref "old", so head() trusts its stat cache at once.
    const reader = new GitDeviceStateReader(r.root, undefined, { now: () => Date.now() + HOUR });
    assert.equal(await reader.head('dev-1'), null);
    let prev: string | null = null;
    for (const c of ['a', 'b', 'c', 'd']) {
      await updateRef(r.gitdir, 'main', prev, oid(c));
      assert.equal(await reader.head('dev-1'), oid(c));
      assert.equal(await reader.head('dev-1'), oid(c), 'answered again from the cache');
      prev = oid(c);
    }
  } finally {
    r.done();
  }
});

test('head: a ref rewritten in place (same inode, same size) is seen, cached or not', async () => {
  const r = await repo();
  const ref = () => join(r.gitdir, 'refs', 'heads', 'main');
  try {
    // Real clock: the ref was written just now, inside the racy window, so it is never cached and
    // even a rewrite under the very same stat (coarse timestamps) is read.
    const fresh = new GitDeviceStateReader(r.root);
    await updateRef(r.gitdir, 'main', null, oid('a'));
    assert.equal(await fresh.head('dev-1'), oid('a'));
    writeFileSync(ref(), `${oid('b')}\n`);
    assert.equal(await fresh.head('dev-1'), oid('b'));
    // Cached (clock an hour ahead): an in-place rewrite moves the timestamps, which the key holds.
    const old = new GitDeviceStateReader(r.root, undefined, { now: () => Date.now() + HOUR });
    assert.equal(await old.head('dev-1'), oid('b'));
    writeFileSync(ref(), `${oid('c')}\n`);
    const later = new Date(Date.now() + 5000);
    utimesSync(ref(), later, later);
    assert.equal(await old.head('dev-1'), oid('c'));
  } finally {
    r.done();
  }
});

test('head: a loose ref packed away (or deleted) drops the cached value', async () => {
  const r = await repo();
  try {
    const reader = new GitDeviceStateReader(r.root, undefined, { now: () => Date.now() + HOUR });
    await updateRef(r.gitdir, 'main', null, oid('a'));
    assert.equal(await reader.head('dev-1'), oid('a'));
    writeFileSync(
      join(r.gitdir, 'packed-refs'),
      `# pack-refs with: peeled fully-peeled sorted\n${oid('e')} refs/heads/main\n`,
    );
    unlinkSync(join(r.gitdir, 'refs', 'heads', 'main'));
    assert.equal(await reader.head('dev-1'), oid('e'));
    unlinkSync(join(r.gitdir, 'packed-refs'));
    assert.equal(await reader.head('dev-1'), null);
  } finally {
    r.done();
  }
});
