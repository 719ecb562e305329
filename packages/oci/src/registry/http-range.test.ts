import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from './http-range.js';

test('parseRange: a-b, a-, -n, clipped ends, unsatisfiable and ignored forms', () => {
  assert.deepEqual(parseRange(undefined, 10), { kind: 'all' });
  assert.deepEqual(parseRange('bytes=2-4', 10), { kind: 'part', start: 2, end: 4 });
  assert.deepEqual(parseRange('bytes=2-', 10), { kind: 'part', start: 2, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { kind: 'part', start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=-30', 10), { kind: 'part', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { kind: 'part', start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=4-2', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  // Several ranges or other units: a server may answer with the whole blob.
  assert.deepEqual(parseRange('bytes=0-1,4-5', 10), { kind: 'all' });
  assert.deepEqual(parseRange('items=0-1', 10), { kind: 'all' });
});
