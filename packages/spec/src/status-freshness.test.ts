import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMargoError } from './errors.js';
import { buildObserved, parseObserved, statusFileDigest } from './status-freshness.js';

const commit = 'a'.repeat(40);
const d1 = statusFileDigest('{"x":1}\n');
const d2 = statusFileDigest(new TextEncoder().encode('caps'));

function refuses(fn: () => unknown, label: string): void {
  assert.throws(fn, (e: unknown) => isMargoError(e) && e.code === 'TRUST_STATUS_OBSERVED_INVALID', label);
}

test('observed.json: build is stable and parses back', () => {
  const seq = 1_700_000_000_000_000n;
  const a = buildObserved({
    commit,
    seq,
    files: { 'deployments/b.json': d1, 'capabilities.json': d2 },
  });
  const b = buildObserved({
    commit,
    seq,
    files: new Map([
      ['capabilities.json', d2],
      ['deployments/b.json', d1],
    ]),
  });
  assert.equal(a, b);
  assert.deepEqual(JSON.parse(a), {
    commit,
    seq: '1700000000000000',
    files: { 'capabilities.json': d2, 'deployments/b.json': d1 },
  });
  const back = parseObserved(new TextEncoder().encode(a));
  assert.equal(back.commit, commit);
  assert.equal(back.seq, seq);
  assert.deepEqual(
    [...back.files],
    [
      ['capabilities.json', d2],
      ['deployments/b.json', d1],
    ],
  );
  assert.match(d1, /^sha256:[0-9a-f]{64}$/);
  // The whole 64-bit range is exact.
  assert.equal(
    parseObserved(buildObserved({ commit, seq: (1n << 64n) - 1n, files: {} })).seq,
    (1n << 64n) - 1n,
  );
});

test('observed.json: malformed documents are refused with a code', () => {
  const ok = { commit, seq: '5', files: { 'capabilities.json': d2 } };
  const bad: Array<[string, unknown]> = [
    ['not json', '{'],
    ['array', []],
    ['old form without seq', { commit }],
    ['extra key', { ...ok, extra: 1 }],
    ['short commit', { ...ok, commit: 'abc' }],
    ['upper-case commit', { ...ok, commit: 'A'.repeat(40) }],
    ['numeric seq', { ...ok, seq: 5 }],
    ['zero seq', { ...ok, seq: '0' }],
    ['leading zero', { ...ok, seq: '05' }],
    ['negative seq', { ...ok, seq: '-5' }],
    ['seq over 2^64-1', { ...ok, seq: (1n << 64n).toString() }],
    ['files array', { ...ok, files: [] }],
    ['bad digest', { ...ok, files: { 'a.json': 'sha1:00' } }],
    ['upper-case digest', { ...ok, files: { 'a.json': d1.toUpperCase() } }],
    ['lists signatures.json', { ...ok, files: { 'signatures.json': d1 } }],
    ['lists itself', { ...ok, files: { 'observed.json': d1 } }],
    ['dot-dot path', { ...ok, files: { '../x': d1 } }],
    ['absolute path', { ...ok, files: { '/x': d1 } }],
    ['empty segment', { ...ok, files: { 'a//b': d1 } }],
  ];
  for (const [label, doc] of bad) {
    refuses(() => parseObserved(typeof doc === 'string' ? doc : JSON.stringify(doc)), label);
  }
  refuses(() => parseObserved(new Uint8Array([0xff, 0xfe])), 'not UTF-8');
  refuses(() => parseObserved(' '.repeat(1024 * 1024 + 1)), 'too large');
  refuses(() => buildObserved({ commit, seq: 0n, files: {} }), 'build: zero seq');
  refuses(() => buildObserved({ commit, seq: 1n, files: { 'signatures.json': d1 } }), 'build: signatures');
});
