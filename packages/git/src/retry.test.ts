import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IsoGitStore } from './iso-git-store.js';
import { backoffDelay, updateWithRetry } from './retry.js';

const author = { name: 'a', email: 'a@b' };

test('backoff: exponential with full jitter, capped', () => {
  assert.equal(
    backoffDelay(0, 10, 1000, () => 0.999),
    9,
  );
  assert.equal(
    backoffDelay(3, 10, 1000, () => 0.5),
    40,
  );
  assert.equal(
    backoffDelay(20, 10, 1000, () => 0.5),
    500,
  );
  assert.equal(
    backoffDelay(5, 10, 1000, () => 0),
    0,
  );
});

test('updateWithRetry: retries on a lost race, gives up with GIT_RETRIES_EXHAUSTED, skips empty changes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'margo-retry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new IsoGitStore(dir);
  await store.init();
  const rival = new IsoGitStore(dir);
  let calls = 0;
  const sleeps: number[] = [];
  // a rival commits between our read and our write, twice
  const res = await updateWithRetry(
    store,
    'main',
    async (files, oid) => {
      calls++;
      if (calls <= 2)
        await rival.commitFiles({
          ref: 'main',
          expectedOid: oid,
          changes: new Map([[`rival${calls}`, 'r']]),
          message: 'rival',
          author,
        });
      return new Map([['mine', String(files.size)]]);
    },
    { message: 'mine', author, random: () => 1, sleep: async (ms) => void sleeps.push(ms), baseMs: 10 },
  );
  assert.equal(res.attempts, 3);
  assert.deepEqual(sleeps, [10, 20]);
  assert.equal((await store.readFile('main', 'mine'))?.toString(), '2', 'saw both rival files');
  const none = await updateWithRetry(store, 'main', () => null, { message: 'x', author });
  assert.deepEqual(none, { oid: res.oid, changed: false, attempts: 1 });
  await assert.rejects(
    updateWithRetry(
      store,
      'main',
      async (_f, oid) => {
        await rival.commitFiles({
          ref: 'main',
          expectedOid: oid,
          changes: new Map([[`r${Math.random()}`, 'r']]),
          message: 'rival',
          author,
        });
        return new Map([['mine', 'again']]);
      },
      { message: 'mine', author, retries: 2, sleep: async () => undefined },
    ),
    { code: 'GIT_RETRIES_EXHAUSTED' },
  );
});
