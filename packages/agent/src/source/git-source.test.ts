import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IsoGitStore } from '@margo-gitops/git';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import { GitDesiredSource } from './git-source.js';

// A real local repository (isomorphic-git); the server is a closed port on 127.0.0.1, so the
// transport error is real too.
async function fixture(verifier?: ConstructorParameters<typeof GitDesiredSource>[0]['verifier']) {
  const dir = mkdtempSync(join(tmpdir(), 'git-source-'));
  const store = new IsoGitStore(join(dir, 'repo'));
  const source = new GitDesiredSource({
    store,
    url: 'http://127.0.0.1:9/devices/edge-1.git',
    auth: { token: 't' },
    deviceId: 'edge-1',
    ...(verifier ? { verifier } : {}),
  });
  await source.init();
  const commit = async () =>
    (
      await store.commitFiles({
        ref: 'main',
        expectedOid: null,
        changes: new Map([['deployments/a.yaml', 'id: a\n']]),
        message: 'desired',
        author: { name: 't', email: 't@t' },
      })
    ).oid;
  return { source, commit, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("GitDesiredSource: an unreachable server is a typed transport error (the store's code kept); lastKnown is the local main", async () => {
  const f = await fixture();
  try {
    assert.equal(await f.source.lastKnown(), null);
    await assert.rejects(f.source.poll(), (e) => isMargoError(e) && e.code === 'GIT_REMOTE_UNREACHABLE');
    const oid = await f.commit();
    assert.equal(await f.source.lastKnown(), oid);
  } finally {
    f.done();
  }
});

test('GitDesiredSource: load gives the exact bytes; verify hands the verifier result over and refuses with stable codes', async () => {
  let seen: { deviceId: string; commit: string } | undefined;
  const expiresAt = new Date('2030-01-01T00:00:00Z');
  const ok = await fixture(async (_files, state) => {
    seen = state;
    return { expiresAt, manifestVersion: '18446744073709551615' };
  });
  try {
    const oid = await ok.commit();
    const snap = await ok.source.load(oid);
    assert.equal(snap.version, oid);
    assert.equal(snap.files.get('deployments/a.yaml')?.toString(), 'id: a\n');
    assert.deepEqual(await snap.verify(), { expiresAt, manifestVersion: '18446744073709551615' });
    assert.deepEqual(seen, { deviceId: 'edge-1', commit: oid });
  } finally {
    ok.done();
  }
  for (const [thrown, code] of [
    [new Error('bad'), 'AGENT_VERIFICATION_FAILED'],
    [new MargoError('TRUST_MANIFEST_ROLLBACK', 'old'), 'TRUST_MANIFEST_ROLLBACK'],
  ] as const) {
    const bad = await fixture(async () => {
      throw thrown;
    });
    try {
      const snap = await bad.source.load(await bad.commit());
      await assert.rejects(snap.verify(), (e) => isMargoError(e) && e.code === code);
    } finally {
      bad.done();
    }
  }
});
