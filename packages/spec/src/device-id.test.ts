import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidDeviceId } from './device-id.js';

test('device ids: accepted and refused', () => {
  for (const ok of ['press-7', 'a', 'A1.b_c-d', 'x'.repeat(63), 'line3.cell2'])
    assert.equal(isValidDeviceId(ok), true, ok);
  for (const bad of [
    '',
    '-a',
    '.a',
    '_a',
    'a..b',
    'a.git',
    'a.lock',
    'x'.repeat(64),
    'a/b',
    'a b',
    'ä',
    7,
    null,
  ])
    assert.equal(isValidDeviceId(bad), false, String(bad));
});
