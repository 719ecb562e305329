import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coerceValue, parseAppRef, parseKeyValue, parseKeyValues } from './kv.js';
import { editLabels } from './commands/device/label.js';
import { buildIntent } from './commands/deploy.js';

describe('key=value flags', () => {
  it('splits at the first =', () => {
    assert.deepEqual(parseKeyValue('A=b=c', '--set'), ['A', 'b=c']);
    assert.deepEqual(parseKeyValues(['a=1', 'a=2', 'b='], '--set'), { a: '2', b: '' });
    assert.throws(() => parseKeyValue('novalue', '--set'), {
      code: 'USAGE_ERROR',
      message: /--set expects key=value/,
    });
    assert.throws(() => parseKeyValue('=x', '--set'), { code: 'USAGE_ERROR' });
  });

  const cases: [string, unknown][] = [
    ['true', true],
    ['false', false],
    ['42', 42],
    ['-3.5', -3.5],
    ['007', '007'],
    ['1e5', '1e5'],
    ['hello world', 'hello world'],
    ['[1,2]', [1, 2]],
    ['[a, b]', ['a', 'b']],
    ['[]', []],
  ];
  for (const [input, want] of cases)
    it(`coerces ${JSON.stringify(input)}`, () => assert.deepEqual(coerceValue(input), want));

  it('parses APP[@VERSION]', () => {
    assert.deepEqual(parseAppRef('hello-world'), { id: 'hello-world', version: '*' });
    assert.deepEqual(parseAppRef('hello-world@^1.2'), { id: 'hello-world', version: '^1.2' });
    assert.throws(() => parseAppRef('Hello'), { code: 'USAGE_ERROR' });
    assert.throws(() => parseAppRef('x@'), { code: 'USAGE_ERROR' });
  });

  it('edits labels: k=v sets, k- removes', () => {
    assert.deepEqual(editLabels({ a: '1', b: '2' }, ['b-', 'c=3', 'a=9']), { a: '9', c: '3' });
  });
});

describe('deployment intent', () => {
  const base = {
    app: 'hello-world@1.0.0',
    name: 'hello',
    device: ['d1'],
    selector: [],
    set: ['N=3'],
    setString: ['S=007'],
    secret: [],
    dependsOn: [],
    output: 'table' as const,
  };
  it('builds the fleet document', () => {
    assert.deepEqual(buildIntent(base), {
      apiVersion: 'fleet.margo-gitops.io/v1alpha1',
      kind: 'Deployment',
      name: 'hello',
      application: { id: 'hello-world', version: '1.0.0' },
      targets: { devices: ['d1'] },
      parameters: { N: 3, S: '007' },
      secrets: {},
      dependsOn: [],
    });
  });
  it('needs a target and a valid name', () => {
    assert.throws(() => buildIntent({ ...base, device: [] }), { code: 'USAGE_ERROR', message: /no target/ });
    assert.throws(() => buildIntent({ ...base, name: 'Bad_Name' }), { code: 'USAGE_ERROR' });
  });
  it('--reuse-values keeps previous values not overridden', () => {
    const prev = buildIntent({ ...base, set: ['A=1', 'N=1'], setString: [] });
    assert.deepEqual(buildIntent({ ...base, reuseValues: true }, prev).parameters, { A: 1, N: 3, S: '007' });
    assert.deepEqual(buildIntent({ ...base }, prev).parameters, { N: 3, S: '007' });
  });
  it('selector targets', () => {
    assert.deepEqual(buildIntent({ ...base, device: [], selector: ['site=a'] }).targets, {
      devices: [],
      selector: { matchLabels: { site: 'a' } },
    });
  });
});
