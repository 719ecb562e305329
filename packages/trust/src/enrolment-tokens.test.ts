import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EnrolmentTokenStore } from './enrolment-tokens.js';
import { generateToken, hashToken, tokenMatchesHash } from './tokens.js';

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('tokens: random, prefixed, hashed', () => {
  const t1 = generateToken('mgt');
  assert.match(t1, /^mgt_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(t1, generateToken('mgt'));
  assert.match(hashToken(t1), /^[0-9a-f]{64}$/);
  assert.equal(tokenMatchesHash(t1, hashToken(t1)), true);
  assert.equal(tokenMatchesHash(t1 + 'x', hashToken(t1)), false);
  assert.throws(() => generateToken('Bad Prefix'), { code: 'USAGE_ERROR' } as never);
});

test('EnrolmentTokenStore: one-time, expiring, device-bound, hashes only on disk', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'margo-enrol-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  let now = new Date('2026-01-01T00:00:00Z');
  const store = new EnrolmentTokenStore(data, { now: () => now });
  const a = await store.issue('press-7', { ttlSeconds: 600 });
  const b = await store.issue('press-8', { ttlSeconds: 60 });
  const onDisk = await readFile(join(data, 'state', 'enrolment-tokens.json'), 'utf8');
  assert.doesNotMatch(onDisk, new RegExp(a.token));
  assert.match(onDisk, new RegExp(hashToken(a.token)));
  assert.equal((await stat(join(data, 'state', 'enrolment-tokens.json'))).mode & 0o777, 0o600);

  const cases: { name: string; token: string; device: string; code: string | undefined }[] = [
    { name: 'unknown', token: 'mge_nope', device: 'press-7', code: 'TRUST_ENROL_TOKEN_UNKNOWN' },
    { name: 'other device', token: a.token, device: 'press-8', code: 'TRUST_ENROL_TOKEN_WRONG_DEVICE' },
    { name: 'valid', token: a.token, device: 'press-7', code: undefined },
    { name: 'reused', token: a.token, device: 'press-7', code: 'TRUST_ENROL_TOKEN_USED' },
  ];
  for (const c of cases)
    assert.equal(await codeOfAsync(() => store.consume(c.token, c.device)), c.code, c.name);
  assert.equal(await codeOfAsync(() => store.check(b.token, 'press-8')), undefined);
  now = new Date(now.getTime() + 61_000);
  assert.equal(await codeOfAsync(() => store.consume(b.token, 'press-8')), 'TRUST_ENROL_TOKEN_EXPIRED');

  // concurrent consumers: exactly one wins (also across store instances, i.e. processes)
  const c = await store.issue('press-9');
  const other = new EnrolmentTokenStore(data, { now: () => now });
  const results = await Promise.allSettled([
    store.consume(c.token, 'press-9'),
    other.consume(c.token, 'press-9'),
    store.consume(c.token, 'press-9'),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(
    results.every(
      (r) => r.status === 'fulfilled' || (r.reason as { code: string }).code === 'TRUST_ENROL_TOKEN_USED',
    ),
  );

  const d = await store.issue('press-10');
  assert.equal(await store.revokeForDevice('press-10'), 1);
  assert.equal(await codeOfAsync(() => store.consume(d.token, 'press-10')), 'TRUST_ENROL_TOKEN_UNKNOWN');
  assert.equal(await codeOfAsync(() => store.issue('bad/id')), 'TRUST_DEVICE_ID_INVALID');
});
