import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCookies } from './http.js';
import { SESSION_IDLE_MS, SessionStore, sessionCookie } from './session.js';

test('sessions: 32 random bytes, idle expiry of 12 h, touched by use', () => {
  let now = 1_000_000;
  const s = new SessionStore({ now: () => now });
  const id = s.create('mgt_x', 'tok1');
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(s.create('mgt_x', 'tok1'), id, 'random');
  now += SESSION_IDLE_MS - 1;
  assert.equal(s.get(id)?.tokenId, 'tok1', 'used just before the idle limit');
  now += SESSION_IDLE_MS - 1;
  assert.ok(s.get(id), 'use restarted the idle clock');
  now += SESSION_IDLE_MS + 1;
  assert.equal(s.get(id), undefined, 'idle too long');
  assert.equal(s.get(undefined), undefined);
  assert.equal(s.get('x'.repeat(200)), undefined);
});

test('sessions: sign-out, all sessions of a revoked token, a bound on their number', () => {
  const s = new SessionStore({ max: 3 });
  const a = s.create('t1', 'A');
  const b = s.create('t1', 'A');
  const c = s.create('t2', 'B');
  s.deleteForToken('A');
  assert.equal(s.get(a), undefined);
  assert.equal(s.get(b), undefined);
  assert.ok(s.get(c));
  s.delete(c);
  assert.equal(s.get(c), undefined);
  const ids = [1, 2, 3, 4].map((i) => s.create(`t${i}`, `T${i}`));
  assert.equal(s.size, 3);
  assert.equal(s.get(ids[0]), undefined, 'the least recently used one went first');
});

test('session cookie: HttpOnly, SameSite=Strict, Path=/ui, Secure only over https; clearing', () => {
  assert.equal(
    sessionCookie('abc', { secure: false }),
    'margo_session=abc; HttpOnly; SameSite=Strict; Path=/ui',
  );
  assert.match(sessionCookie('abc', { secure: true }), /; Secure$/);
  assert.match(sessionCookie(undefined, { secure: false }), /^margo_session=; .*Max-Age=0/);
  assert.equal(parseCookies('a=1; margo_session=xyz; margo_session=other').get('margo_session'), 'xyz');
});
