/**
 * The first finding printed for a failing document is its real cause, not noise from a schema
 * branch the value was never meant for (anyOf/oneOf pruning in schemas.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from './parse-document.js';
import { baseManifest, baseStatus } from './test-fixtures.js';

const first = (doc: unknown) => {
  const errors = parseDocument(JSON.stringify(doc, null, 2)).findings.filter((f) => f.severity === 'error');
  return errors.map((f) => `${f.code} ${f.path}`);
};

test('state manifest: a bad media type is the only finding (no "bundle must be null")', () => {
  const d = baseManifest();
  d.bundle.mediaType = 'application/json';
  assert.deepEqual(first(d), ['SPEC_VALUE_NOT_ALLOWED /bundle/mediaType']);
});

test('state manifest: a bad digest is the only finding', () => {
  const d = baseManifest();
  d.bundle.digest = 'invalid-digest';
  assert.deepEqual(first(d), ['SPEC_PATTERN_MISMATCH /bundle/digest']);
});

test('state manifest: manifestVersion 0 is one finding with its own code', () => {
  const d = baseManifest();
  d.manifestVersion = 0;
  assert.deepEqual(first(d), ['SPEC_INVALID_MANIFEST_VERSION /manifestVersion']);
});

test('a value that fits no branch gets one type finding naming every allowed type', () => {
  const d = baseManifest();
  d.bundle = 'x';
  const r = parseDocument(JSON.stringify(d)).findings.filter((f) => f.severity === 'error');
  assert.equal(r.length, 1);
  assert.equal(r[0]!.code, 'SPEC_WRONG_TYPE');
  assert.match(r[0]!.message, /null or a mapping/);
});

test('status: adoptedManifestVersion true is one finding', () => {
  const d = baseStatus();
  d.adoptedManifestVersion = true;
  assert.deepEqual(first(d), ['SPEC_INVALID_MANIFEST_VERSION /adoptedManifestVersion']);
});
