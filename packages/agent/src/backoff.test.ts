import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelay } from './backoff.js';

test('retryDelay grows exponentially, is capped and jittered', () => {
  assert.equal(
    retryDelay(1, 1000, 60_000, () => 1),
    1000,
  );
  assert.equal(
    retryDelay(3, 1000, 60_000, () => 1),
    4000,
  );
  assert.equal(
    retryDelay(3, 1000, 60_000, () => 0),
    2000,
  );
  assert.equal(
    retryDelay(20, 1000, 60_000, () => 1),
    60_000,
  );
  assert.equal(
    retryDelay(0, 1000, 60_000, () => 1),
    1000,
  );
});
