import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helmValues, parsePointer } from './helm-values.js';

test('parsePointer handles dots, indexes and escapes', () => {
  assert.deepEqual(parsePointer('a.b'), [{ key: 'a' }, { key: 'b' }]);
  assert.deepEqual(parsePointer('a.b[0].c'), [{ key: 'a' }, { key: 'b' }, { index: 0 }, { key: 'c' }]);
  assert.deepEqual(parsePointer('annotations.app\\.kubernetes\\.io/name'), [
    { key: 'annotations' },
    { key: 'app.kubernetes.io/name' },
  ]);
  for (const bad of ['', '.a', 'a.', 'a..b', 'a[x]', '[0]', 'a[1'])
    assert.equal(parsePointer(bad), null, bad);
});

test('helmValues builds nested values', () => {
  const { values, invalid } = helmValues([
    ['message', 'hello'],
    ['image.tag', '2'],
    ['image.repository', 'r'],
    ['env[1].name', 'B'],
    ['env[0].name', 'A'],
    ['settings.limits.cpu', '4'],
    ['list', ['x', 'y']],
    ['a..b', 1],
  ]);
  assert.deepEqual(values, {
    message: 'hello',
    image: { tag: '2', repository: 'r' },
    env: [{ name: 'A' }, { name: 'B' }],
    settings: { limits: { cpu: '4' } },
    list: ['x', 'y'],
  });
  assert.deepEqual(invalid, ['a..b']);
});
