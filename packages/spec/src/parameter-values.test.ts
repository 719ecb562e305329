import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApplicationDescription } from './model.js';
import { parseDocument } from './parse-document.js';
import { checkValueAgainstRule, decimalPlaces, validateParameterValues } from './parameter-values.js';
import type { SchemaRule } from './model.js';
import { baseApp, yaml } from './test-fixtures.js';

function app(): ApplicationDescription {
  const r = parseDocument(yaml(baseApp()));
  assert.ok(r.model && r.kind === 'ApplicationDescription');
  return r.model as ApplicationDescription;
}

function codesFor(values: Record<string, unknown>, opts = {}): string[] {
  return validateParameterValues(app(), values, opts).map((f) => f.code);
}

test('the defaults of the base app are valid', () => {
  assert.deepEqual(codesFor({}), []);
});

const cases: [string, Record<string, unknown>, string | null][] = [
  // string: min/max length, regex, allowEmpty
  ['text within limits', { greeting: 'Good day' }, null],
  ['text too short', { greeting: 'H' }, 'SPEC_VALUE_TOO_SHORT'],
  ['text too long', { greeting: 'H'.repeat(21) }, 'SPEC_VALUE_TOO_LONG'],
  ['text failing regexMatch', { greeting: 'Hello!' }, 'SPEC_VALUE_REGEX_MISMATCH'],
  ['empty text where allowEmpty is false', { greeting: '' }, 'SPEC_VALUE_REQUIRED'],
  ['missing required value (no default)', { greeting: null }, 'SPEC_VALUE_REQUIRED'],
  ['empty text where allowEmpty is true', { site: '' }, null],
  ['absent optional value', {}, null],
  ['non-empty optional text still checked', { site: 'ab' }, 'SPEC_VALUE_TOO_SHORT'],
  ['a list for a text setting', { greeting: ['a', 'b'] }, 'SPEC_VALUE_TYPE'],
  ['a number for a text setting is read as text', { site: 12345 }, null],
  // integer
  ['integer in range', { replicas: 10 }, null],
  ['quoted integer in range', { replicas: '4' }, null],
  ['integer below range', { replicas: 0 }, 'SPEC_VALUE_OUT_OF_RANGE'],
  ['quoted integer above range', { replicas: '11' }, 'SPEC_VALUE_OUT_OF_RANGE'],
  ['fraction for an integer', { replicas: 2.5 }, 'SPEC_VALUE_TYPE'],
  ['text for an integer', { replicas: 'two' }, 'SPEC_VALUE_TYPE'],
  ['boolean for an integer', { replicas: true }, 'SPEC_VALUE_TYPE'],
  // double
  ['double in range', { ratio: 0.25 }, null],
  ['quoted double', { ratio: '0.75' }, null],
  ['double above range', { ratio: 1.5 }, 'SPEC_VALUE_OUT_OF_RANGE'],
  ['double with too many decimals', { ratio: 0.125 }, 'SPEC_VALUE_PRECISION'],
  ['quoted double with too many decimals', { ratio: '0.100' }, 'SPEC_VALUE_PRECISION'],
  ['text for a double', { ratio: 'half' }, 'SPEC_VALUE_TYPE'],
  // boolean
  ['boolean', { debug: true }, null],
  ['quoted boolean', { debug: 'false' }, null],
  ['yes for a boolean', { debug: 'yes' }, 'SPEC_VALUE_TYPE'],
  ['1 for a boolean', { debug: 1 }, 'SPEC_VALUE_TYPE'],
  // select
  ['select option', { colour: 'green' }, null],
  ['not an option', { colour: 'pink' }, 'SPEC_VALUE_NOT_AN_OPTION'],
  // unknown and unconfigurable
  ['value for an unknown parameter', { nope: 1 }, 'SPEC_UNKNOWN_PARAMETER'],
];

for (const [name, values, code] of cases) {
  test(`parameter values: ${code ? 'rejects' : 'accepts'} ${name}`, () => {
    const got = codesFor(values);
    if (code) assert.ok(got.includes(code), `expected ${code}, got ${got.join(', ') || 'nothing'}`);
    else assert.deepEqual(got, []);
  });
}

test('findings name the parameter path', () => {
  const [f] = validateParameterValues(app(), { replicas: 99 });
  assert.equal(f!.path, '/replicas');
  assert.equal(f!.severity, 'error');
  assert.match(f!.message, /replicas is 99, above the maximum 10/);
});

test('immutable settings refuse a change against the previous install', () => {
  assert.deepEqual(codesFor({ greeting: 'Hello' }, { previous: { greeting: 'Hello' } }), []);
  assert.deepEqual(codesFor({ greeting: 'Other' }, { previous: { greeting: 'Hello' } }), [
    'SPEC_VALUE_IMMUTABLE',
  ]);
  // Not immutable: free to change.
  assert.deepEqual(codesFor({ replicas: 3 }, { previous: { replicas: 2 } }), []);
  // No previous value (first install): anything valid goes.
  assert.deepEqual(codesFor({ greeting: 'Other' }, { previous: {} }), []);
});

test('immutable comparison coerces like validation ("4" equals 4)', () => {
  const a = baseApp();
  a.configuration.sections[0].settings[1].immutable = true;
  const model = parseDocument(yaml(a)).model as ApplicationDescription;
  assert.deepEqual(validateParameterValues(model, { replicas: '4' }, { previous: { replicas: 4 } }), []);
  assert.equal(
    validateParameterValues(model, { replicas: 5 }, { previous: { replicas: 4 } })[0]!.code,
    'SPEC_VALUE_IMMUTABLE',
  );
});

test('partial checks only the given keys', () => {
  const a = baseApp();
  delete a.parameters.greeting.value;
  const model = parseDocument(yaml(a)).model as ApplicationDescription;
  assert.deepEqual(
    validateParameterValues(model, {}).map((f) => f.code),
    ['SPEC_VALUE_REQUIRED'],
  );
  assert.deepEqual(validateParameterValues(model, {}, { partial: true }), []);
});

test('a parameter without a setting gets a warning, not an error', () => {
  const a = baseApp();
  a.parameters.hidden = { value: 1, targets: [{ pointer: 'hidden', components: ['hello'] }] };
  const model = parseDocument(yaml(a)).model as ApplicationDescription;
  const [f] = validateParameterValues(model, { hidden: 2 });
  assert.equal(f!.code, 'SPEC_VALUE_NOT_CONFIGURABLE');
  assert.equal(f!.severity, 'warning');
});

const rule = (r: Partial<SchemaRule>): SchemaRule => ({ name: 'r', dataType: 'string', ...r });
const ruleCases: [string, unknown, Partial<SchemaRule>, string | null][] = [
  ['multiselect list of options', ['a', 'b'], { options: ['a', 'b', 'c'], multiselect: true }, null],
  [
    'multiselect with a non-option',
    ['a', 'x'],
    { options: ['a', 'b'], multiselect: true },
    'SPEC_VALUE_NOT_AN_OPTION',
  ],
  ['multiselect with a scalar', 'a', { options: ['a', 'b'], multiselect: true }, 'SPEC_VALUE_TYPE'],
  ['multiselect empty, allowEmpty', [], { options: ['a'], multiselect: true, allowEmpty: true }, null],
  ['multiselect empty, required', [], { options: ['a'], multiselect: true }, 'SPEC_VALUE_REQUIRED'],
  ['integer select with a quoted option', '2', { dataType: 'integer', options: [1, 2] }, null],
  ['array[integer] items in range', [1, 2], { dataType: 'array[integer]', minValue: 1, maxValue: 2 }, null],
  [
    'array[integer] item out of range',
    [1, 3],
    { dataType: 'array[integer]', maxValue: 2 },
    'SPEC_VALUE_OUT_OF_RANGE',
  ],
  ['array[boolean] with text', [true, 'x'], { dataType: 'array[boolean]' }, 'SPEC_VALUE_TYPE'],
  ['minPrecision met', '1.50', { dataType: 'double', minPrecision: 2 }, null],
  ['minPrecision missed', 1.5, { dataType: 'double', minPrecision: 2 }, 'SPEC_VALUE_PRECISION'],
  ['regex is a search, not a full match', 'xx@example.com yy', { regexMatch: '.*@[a-z0-9.-]*' }, null],
  ['invalid regex is a finding, not a crash', 'abc', { regexMatch: '(a' }, 'SPEC_REGEX_INVALID'],
  ['length counts characters, not UTF-16 units', '😀😀', { maxLength: 2 }, null],
];
for (const [name, value, r, code] of ruleCases) {
  test(`checkValueAgainstRule: ${code ? 'rejects' : 'accepts'} ${name}`, () => {
    const got = checkValueAgainstRule(value, rule(r), 'v', '/v').map((f) => f.code);
    if (code) assert.ok(got.includes(code), `expected ${code}, got ${got.join(', ') || 'nothing'}`);
    else assert.deepEqual(got, []);
  });
}

test('catastrophic-backtracking patterns run in linear time', () => {
  const t = performance.now();
  const got = checkValueAgainstRule('a'.repeat(50_000) + '!', rule({ regexMatch: '^(a+)+$' }), 'v', '/v');
  assert.equal(got[0]!.code, 'SPEC_VALUE_REGEX_MISMATCH');
  assert.ok(performance.now() - t < 2000);
});

test('decimalPlaces', () => {
  for (const [v, n] of [
    ['1.50', 2],
    [1.5, 1],
    [2, 0],
    ['1e-3', 3],
    [0.125, 3],
  ] as const)
    assert.equal(decimalPlaces(v), n);
});

test('odd inputs give findings, never exceptions', () => {
  const model = app();
  assert.equal(validateParameterValues(model, null as never)[0]!.code, 'SPEC_VALUE_TYPE');
  assert.equal(validateParameterValues(model, [] as never)[0]!.code, 'SPEC_VALUE_TYPE');
  assert.deepEqual(
    validateParameterValues(model, { replicas: 10n, greeting: { a: 1 }, debug: [true] } as never).map(
      (f) => f.code,
    ),
    ['SPEC_VALUE_TYPE', 'SPEC_VALUE_TYPE', 'SPEC_VALUE_TYPE'],
  );
});
