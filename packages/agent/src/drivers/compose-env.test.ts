import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeEnvironment, composeProjectName } from './compose-env.js';

test('composeEnvironment: ENV. prefix, arrays, invalid names', () => {
  assert.deepEqual(
    composeEnvironment([
      ['GREETING', 'hi'],
      ['ENV.PORT', 8080],
      ['LIST', ['a', 'b']],
      ['FLAG', false],
      ['bad-name', 'x'],
    ]),
    { env: { GREETING: 'hi', PORT: '8080', LIST: 'a,b', FLAG: 'false' }, invalid: ['bad-name'] },
  );
});

test('composeProjectName is stable, lower-case and per component for multi-component apps', () => {
  assert.equal(
    composeProjectName('Shop.Front', 'AD9B614E-8912-45f4-a523-372358765def', 'web', 1),
    'margo-shop-front-ad9b614e',
  );
  assert.equal(composeProjectName('shop', 'ad9b614e-8912', 'db', 2), 'margo-shop-ad9b614e-db');
  // Two agents on one Docker engine with prefixes of their own never share a project.
  assert.equal(composeProjectName('shop', 'ad9b614e-8912', 'web', 1, 'Lab_B'), 'lab_b-shop-ad9b614e');
  assert.equal(composeProjectName('shop', 'ad9b614e-8912', 'web', 1, '!!'), 'margo-shop-ad9b614e');
});
