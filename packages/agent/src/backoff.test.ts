import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextPollDelay, retryDelay } from './backoff.js';

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

test('nextPollDelay: fixed rate when healthy, backoff on failure never shorter than Retry-After', () => {
  const base = {
    intervalMs: 30_000,
    elapsedMs: 4_000,
    failures: 0,
    maxBackoffMs: 300_000,
    retryAt: 0,
    nowMs: 1_000_000,
    untilActiveMs: () => null,
    random: () => 1,
  };
  assert.equal(nextPollDelay({ ...base, outcome: 'ok' }), 26_000, 'one poll starts every interval');
  assert.equal(nextPollDelay({ ...base, outcome: 'failed', failures: 1 }), 30_000);
  assert.equal(nextPollDelay({ ...base, outcome: 'failed', failures: 3 }), 120_000);
  // The server asked for quiet longer than the backoff: it wins; shorter: the backoff does.
  assert.equal(nextPollDelay({ ...base, outcome: 'failed', failures: 1, retryAfterMs: 600_000 }), 600_000);
  assert.equal(nextPollDelay({ ...base, outcome: 'failed', failures: 3, retryAfterMs: 10_000 }), 120_000);
  // A due deployment retry comes sooner than the interval, never in a busy loop.
  assert.equal(nextPollDelay({ ...base, outcome: 'ok', retryAt: 1_005_000 }), 5_000);
  assert.equal(nextPollDelay({ ...base, outcome: 'ok', retryAt: 999_000 }), 50);
  // Skipped by a window: until it opens (an hour when it never does), at least an interval.
  assert.equal(nextPollDelay({ ...base, outcome: 'skipped' }), 3_600_000);
  assert.equal(nextPollDelay({ ...base, outcome: 'skipped', untilActiveMs: () => 90_000 }), 90_000);
  assert.equal(nextPollDelay({ ...base, outcome: 'skipped', untilActiveMs: () => 1_000 }), 30_000);
});
