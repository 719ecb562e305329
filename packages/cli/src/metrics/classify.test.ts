import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpOutcome, reasonClass } from './classify.js';

test('pass reasons fall into a few classes (device ids never become label values)', () => {
  assert.equal(reasonClass('start'), 'start');
  assert.equal(reasonClass('periodic'), 'periodic');
  assert.equal(reasonClass('push fleet.git'), 'push-fleet');
  assert.equal(reasonClass('push catalog.git'), 'push-catalog');
  assert.equal(reasonClass('status push edge-17'), 'status-push');
  assert.equal(reasonClass('device status'), 'status-push');
  assert.equal(reasonClass('enrolled'), 'enrolled');
  assert.equal(reasonClass('rollout timer'), 'rollout-timer');
  assert.equal(reasonClass('manual'), 'manual');
  assert.equal(reasonClass('push devices/x.git'), 'other');
});

test('HTTP statuses map to outcomes', () => {
  assert.deepEqual([0, 200, 204, 304, 400, 401, 403, 404, 413, 429, 500, 503].map(httpOutcome), [
    'aborted',
    'ok',
    'ok',
    'ok',
    'client-error',
    'unauthorized',
    'forbidden',
    'client-error',
    'client-error',
    'rate-limited',
    'server-error',
    'server-error',
  ]);
});
