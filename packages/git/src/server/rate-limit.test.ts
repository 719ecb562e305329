import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limit.js';

test('rate limit: burst, then refill per second, per key', () => {
  let now = 0;
  const rl = new RateLimiter({ burst: 3, perSecond: 2 }, () => now);
  assert.ok(rl.take('a').ok && rl.take('a').ok && rl.take('a').ok);
  const r = rl.take('a');
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.retryAfterSec, 1);
  assert.ok(rl.take('b').ok, 'other token unaffected');
  now += 500;
  assert.ok(rl.take('a').ok);
  assert.equal(rl.take('a').ok, false);
});
