import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutActions } from './rollout.js';

test('rollout actions follow the phase', () => {
  assert.deepEqual(rolloutActions('progressing'), ['pause', 'promote', 'abort']);
  assert.deepEqual(rolloutActions('paused'), ['resume', 'promote', 'abort']);
  for (const p of ['done', 'rolledBack', 'rollingBack', 'aborted', ''])
    assert.deepEqual(rolloutActions(p), [], p);
});
