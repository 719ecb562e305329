import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGitBinary, parseGitVersion } from './git-binary.js';

test('git version parsing', () => {
  assert.deepEqual(parseGitVersion('git version 2.39.5'), [2, 39, 5]);
  assert.deepEqual(parseGitVersion('git version 2.40.0.windows.1'), [2, 40, 0]);
  assert.deepEqual(parseGitVersion('git version 2.31'), [2, 31, 0]);
  assert.equal(parseGitVersion('nope'), undefined);
});

test('the installed git is accepted', async () => {
  assert.match((await checkGitBinary()).version, /^\d+\.\d+\.\d+$/);
});
