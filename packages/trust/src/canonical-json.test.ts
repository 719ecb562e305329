import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from './canonical-json.js';

test('canonicalJson sorts keys recursively and drops whitespace', () => {
  const cases: [unknown, string][] = [
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ z: { y: [3, { d: null, c: true }] } }, '{"z":{"y":[3,{"c":true,"d":null}]}}'],
    ['é"\n', JSON.stringify('é"\n')],
    [[], '[]'],
    [{ u: undefined, a: 'x' }, '{"a":"x"}'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalJson(input), want);
});

test('canonicalJson refuses values JSON cannot carry', () => {
  for (const bad of [NaN, Infinity, 1n, () => 1, new Date(0)])
    assert.throws(() => canonicalJson({ x: bad }), TypeError);
});
