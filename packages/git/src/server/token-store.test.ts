import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenStore, sha256Hex } from './token-store.js';

async function tmp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'margo-tokens-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return join(d, 'auth', 'tokens.json');
}

test('tokens: issue stores only a hash, verify finds the record', async (t) => {
  const file = await tmp(t);
  const s = TokenStore.open(file);
  const { token, record } = s.issueToken('device', { deviceId: 'd1' });
  assert.match(token, /^mgt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes(token.slice(21)), 'plaintext secret not on disk');
  assert.ok(text.includes(sha256Hex(token)));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(s.verify(token), record);
  assert.equal(s.verify(token + 'x'), undefined);
  assert.equal(s.verify(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))), undefined);
  assert.equal(s.verify('garbage'), undefined);
  assert.equal(s.verify(''), undefined);
  // a second store (another process) sees it
  assert.equal(TokenStore.open(file).verify(token)?.deviceId, 'd1');
});

test('tokens: revoke and rotate with grace period', async (t) => {
  const file = await tmp(t);
  let now = 1_000_000;
  const s = TokenStore.open(file, { now: () => now });
  const a = s.issueToken('operator', { name: 'ops' });
  const b = s.rotate(a.record.id, { graceMs: 60_000 });
  assert.equal(b.record.role, 'operator');
  assert.equal(b.record.name, 'ops');
  assert.ok(s.verify(a.token), 'old token valid during grace');
  assert.ok(s.verify(b.token));
  now += 60_001;
  assert.equal(s.verify(a.token), undefined, 'old token expired after grace');
  assert.ok(s.verify(b.token));
  s.revoke(b.record.id);
  assert.equal(s.verify(b.token), undefined);
  assert.throws(() => s.revoke('nope'), { code: 'GIT_TOKEN_NOT_FOUND' });
  assert.throws(() => s.issueToken('device'), { code: 'USAGE_ERROR' });
  assert.throws(() => s.issueToken('device', { deviceId: '../x' }), { code: 'GIT_INVALID_REPO_ID' });
  assert.equal(s.list().length, 2);
  assert.ok(s.list().every((r) => !('hash' in r)));
});

test('tokens: changes by another process are picked up', async (t) => {
  const file = await tmp(t);
  let now = 0;
  const server = TokenStore.open(file, { now: () => now });
  const cli = TokenStore.open(file);
  const { token } = cli.issueToken('publisher');
  now += 1001;
  assert.equal(server.verify(token)?.role, 'publisher');
});

test('tokens: a token issued by another process is accepted at once, not after the next periodic check', async (t) => {
  const file = await tmp(t);
  const now = 5000;
  const server = TokenStore.open(file, { now: () => now });
  assert.equal(server.list().length, 0); // the periodic check has just run
  const { token } = TokenStore.open(file).issueToken('device', { deviceId: 'd1' });
  // Same instant on the server's clock: only the unknown token id makes it look at the file again.
  assert.equal(server.verify(token)?.deviceId, 'd1');
});
