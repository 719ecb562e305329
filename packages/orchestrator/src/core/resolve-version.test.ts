import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveVersion } from './resolve-version.js';

const catalog = ['1.0', '1.1.0', '1.2.0', '1.4.1', '2.0.0', '2.1.0-rc.1'];
const cases: [string, string[], string | null][] = [
  ['1.2.0', catalog, '1.2.0'],
  ['1.0', catalog, '1.0'],
  ['^1.2', catalog, '1.4.1'],
  ['~1.1', catalog, '1.1.0'],
  ['>=2', catalog, '2.0.0'],
  ['*', catalog, '2.0.0'],
  ['^2.1.0-rc.0', catalog, '2.1.0-rc.1'],
  ['1.0.x', catalog, '1.0'],
  ['^3', catalog, null],
  ['9.9.9', catalog, null],
  ['not a version!', catalog, null],
  ['^1', [], null],
];
for (const [wanted, available, want] of cases) {
  test(`resolveVersion(${wanted}) -> ${want}`, () => {
    const r = resolveVersion(wanted, available);
    if (want === null) assert.ok('error' in r, JSON.stringify(r));
    else assert.deepEqual(r, { version: want });
  });
}

test('a range follows a newly published version', () => {
  assert.deepEqual(resolveVersion('^1', ['1.0.0']), { version: '1.0.0' });
  assert.deepEqual(resolveVersion('^1', ['1.0.0', '1.3.0']), { version: '1.3.0' });
});
