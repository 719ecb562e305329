import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiRateLimiter } from './rate-limit.js';

test('a device gets its burst, then waits for the refill; other devices and kinds are apart', () => {
  let now = 1_000_000;
  const l = new ApiRateLimiter(
    { read: { burst: 3, perSecond: 1 }, write: { burst: 1, perSecond: 0.5 } },
    { now: () => now },
  );
  assert.deepEqual(
    [0, 0, 0].map(() => l.take('a', 'read')),
    [0, 0, 0],
  );
  assert.equal(l.take('a', 'read'), 1, 'the fourth read at once waits a second');
  assert.equal(l.take('b', 'read'), 0, 'another device has its own budget');
  assert.equal(l.take('a', 'write'), 0, 'writes have their own budget');
  assert.equal(l.take('a', 'write'), 2, 'half a write per second: two seconds');
  now += 1000;
  assert.equal(l.take('a', 'read'), 0, 'one token back after a second');
  assert.equal(l.take('a', 'read'), 1);
  now += 60_000;
  assert.deepEqual(
    [0, 0, 0, 1].map(() => l.take('a', 'read')),
    [0, 0, 0, 1],
    'never more than the burst',
  );
});

test('memory stays bounded: the device idle longest is forgotten first', () => {
  const l = new ApiRateLimiter(
    { read: { burst: 1, perSecond: 0.001 }, write: { burst: 1, perSecond: 1 } },
    { now: () => 0, maxKeys: 2 },
  );
  l.take('a', 'read');
  l.take('b', 'read');
  assert.equal(l.take('a', 'read'), 1000, 'a is remembered (and now used last)');
  l.take('c', 'read');
  assert.equal(l.take('b', 'read'), 0, 'b was forgotten: a fresh budget');
});
