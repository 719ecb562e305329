import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggregateState, parseDeploymentState } from './deployment-state.js';
import { formatFinding } from './finding.js';
import { normaliseRole } from './normalise-device-capabilities.js';
import { formatTimeout, normaliseArchitecture, parseQuantity, parseTimeout } from './quantity.js';
import { compileSafeRegex } from './safe-regex.js';

test('parseQuantity', () => {
  const cases: [string | number, number | undefined][] = [
    ['4Gi', 4 * 1024 ** 3],
    ['59 Gi', 59 * 1024 ** 3],
    ['2048Mi', 2048 * 1024 ** 2],
    ['512Ki', 512 * 1024],
    ['1Ti', 1024 ** 4],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['64.0 GB', 64e9],
    ['500M', 500e6],
    ['1024', 1024],
    [2048, 2048],
    ['', undefined],
    ['4 parsecs', undefined],
    ['Gi', undefined],
    ['-1Gi', undefined],
    [-5, undefined],
  ];
  for (const [q, bytes] of cases) assert.equal(parseQuantity(q), bytes, String(q));
});

test('normaliseArchitecture', () => {
  const cases: [string, string][] = [
    ['x86_64', 'amd64'],
    ['amd64', 'amd64'],
    ['Intel x64', 'amd64'],
    ['aarch64', 'arm64'],
    ['ARM64', 'arm64'],
    ['armv7l', 'arm'],
    ['riscv64', 'riscv64'],
    ['riscv', 'other'],
    ['sparc', 'other'],
  ];
  for (const [a, n] of cases) assert.equal(normaliseArchitecture(a), n, a);
});

test('timeouts', () => {
  assert.equal(parseTimeout('8m30s'), 510);
  assert.equal(parseTimeout('0m5s'), 5);
  assert.equal(parseTimeout('8m'), undefined);
  assert.equal(parseTimeout('30s'), undefined);
  assert.equal(formatTimeout(510), '8m30s');
  assert.equal(formatTimeout(0), '0m0s');
});

test('parseDeploymentState: case-insensitive, Success/Failure mapped', () => {
  const cases: [string, string | undefined][] = [
    ['pending', 'pending'],
    ['Pending', 'pending'],
    ['INSTALLED', 'installed'],
    ['Success', 'installed'],
    ['Failure', 'failed'],
    ['Updating', 'installing'],
    ['removed', 'removed'],
    ['running', undefined],
  ];
  for (const [s, n] of cases) assert.equal(parseDeploymentState(s), n, s);
});

test('aggregateState: failed > removing > installing > pending > installed > removed', () => {
  const cases: [string[], string][] = [
    [['installed', 'installed'], 'installed'],
    [['installed', 'installing'], 'installing'],
    [['installing', 'failed', 'removing'], 'failed'],
    [['removing', 'installing'], 'removing'],
    [['pending', 'installed'], 'pending'],
    [['installed', 'removed'], 'installed'],
    [['removed', 'removed'], 'removed'],
    [[], 'pending'],
  ];
  for (const [states, want] of cases) {
    assert.equal(aggregateState(states as never), want, states.join(','));
    assert.equal(aggregateState(states.map((state) => ({ state })) as never), want);
  }
});

test('normaliseRole', () => {
  assert.equal(normaliseRole('Standalone Cluster'), 'standalone-cluster');
  assert.equal(normaliseRole('cluster lead'), 'cluster-leader');
  assert.equal(normaliseRole('Gateway'), 'gateway');
  assert.equal(normaliseRole('Non existing role'), undefined);
});

test('compileSafeRegex never throws', () => {
  for (const p of ['(a', '(?<=a)b', '(a)\\1', 'x'.repeat(5000)]) {
    const re = compileSafeRegex(p);
    assert.equal(re.ok, false, p.slice(0, 20));
  }
  const ok = compileSafeRegex('^a+$');
  assert.ok(ok.ok && ok.test('aaa') && !ok.test('aab'));
});

test('formatFinding', () => {
  assert.equal(
    formatFinding({
      code: 'SPEC_REQUIRED_FIELD',
      severity: 'error',
      message: 'missing "kind"',
      path: '/kind',
      file: 'a.yaml',
      line: 3,
      column: 5,
    }),
    'a.yaml:3:5: error SPEC_REQUIRED_FIELD missing "kind"',
  );
  assert.equal(
    formatFinding({
      code: 'SPEC_EMPTY_DOCUMENT',
      severity: 'error',
      message: 'the file is empty',
      path: '',
      file: 'a.yaml',
    }),
    'a.yaml: error SPEC_EMPTY_DOCUMENT the file is empty',
  );
});
