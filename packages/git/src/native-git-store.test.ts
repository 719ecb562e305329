import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execGit } from './exec-git.js';
import { NativeGitStore, blobOid, parseCatFileBatch } from './native-git-store.js';

test('native: blobOid equals git hash-object', async () => {
  const content = Buffer.from('hello\n');
  const r = await execGit(['hash-object', '--stdin'], { input: content });
  assert.equal(blobOid(content), r.stdout.toString().trim());
});

test('native: cat-file --batch parsing keeps binary content and marks missing objects', () => {
  const bin = Buffer.from([0, 10, 255, 10]);
  const out = Buffer.concat([
    Buffer.from(`${'a'.repeat(40)} blob 4\n`),
    bin,
    Buffer.from('\nnope missing\n'),
    Buffer.from(`${'b'.repeat(40)} tree 0\n\n`),
  ]);
  assert.deepEqual(parseCatFileBatch(out), [bin, null, Buffer.alloc(0)]);
  assert.deepEqual(parseCatFileBatch(out, 'blob'), [bin, null, null]);
});

test('native: gc packs loose objects and keeps every file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'margo-gc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const s = new NativeGitStore(join(dir, 'r.git'));
  await s.init();
  let oid: string | null = null;
  for (let i = 0; i < 10; i++) {
    oid = (
      await s.commitFiles({
        ref: 'main',
        expectedOid: oid,
        changes: new Map([
          [`f${i}`, `${i}`],
          [`d/g${i}`, `${i}`],
        ]),
        message: 'm',
        author: { name: 'a', email: 'a@b' },
      })
    ).oid;
  }
  await s.gc(); // --auto: nothing to do yet, must not fail
  await s.gc({ auto: false });
  assert.equal(
    (await readdir(join(s.dir, 'objects'))).filter((d) => /^[0-9a-f]{2}$/.test(d)).length,
    0,
    'no loose objects left',
  );
  assert.ok((await readdir(join(s.dir, 'objects', 'pack'))).some((f) => f.endsWith('.pack')));
  assert.equal((await s.readFiles('main')).size, 20);
});
