import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { colorAllowed } from './io.js';
import { formatOutput, parseOutputFormat, renderFields, renderTable } from './output.js';
import { paint } from './colour.js';

const rows = [
  { id: 'dev-1', role: 'standalone-device', labels: 'site=a' },
  { id: 'device-two', role: undefined, labels: '' },
];
const cols = [
  { header: 'id', get: (r: (typeof rows)[number]) => r.id },
  { header: 'role', get: (r: (typeof rows)[number]) => r.role },
  { header: 'labels', get: (r: (typeof rows)[number]) => r.labels },
];

describe('output formatting', () => {
  it('table: upper-case headers, aligned columns, - for empty cells', () => {
    assert.equal(
      renderTable(rows, cols),
      'ID          ROLE               LABELS\n' +
        'dev-1       standalone-device  site=a\n' +
        'device-two  -                  -\n',
    );
  });

  it('table: aligns coloured cells by visible width', () => {
    const p = paint(true);
    const t = renderTable(
      [{ s: p.green('ok') }, { s: 'longer' }],
      [
        { header: 's', get: (r) => r.s },
        { header: 'x', get: () => 'y' },
      ],
    );
    const lines = t.split('\n');
    assert.equal(lines[1]!.replace(/\u001b\[[0-9;]*m/g, ''), 'ok      y');
  });

  it('table: says so when empty', () => {
    assert.equal(renderTable([], cols, { empty: 'nothing yet' }), 'nothing yet\n');
  });

  it('json and yaml print the data itself', () => {
    const data = { name: 'x', n: 1, list: ['a'] };
    assert.deepEqual(JSON.parse(formatOutput(data, 'json', () => 'T')), data);
    assert.deepEqual(YAML.parse(formatOutput(data, 'yaml', () => 'T')), data);
    assert.equal(
      formatOutput(data, 'table', () => 'T'),
      'T',
    );
  });

  it('parses -o values case-insensitively and rejects others', () => {
    assert.equal(parseOutputFormat('JSON'), 'json');
    assert.equal(parseOutputFormat(undefined), 'table');
    assert.throws(() => parseOutputFormat('xml'), { code: 'USAGE_ERROR' });
  });

  it('fields view', () => {
    assert.equal(
      renderFields([
        ['ID', 'a'],
        ['Long name', undefined],
      ]),
      'ID:         a\nLong name:  -\n',
    );
  });

  it('colours: NO_COLOR wins, FORCE_COLOR forces, otherwise only on a TTY', () => {
    assert.equal(colorAllowed({ NO_COLOR: '1', FORCE_COLOR: '1' }, true), false);
    assert.equal(colorAllowed({}, true), true);
    assert.equal(colorAllowed({}, false), false);
    assert.equal(colorAllowed({ FORCE_COLOR: '1' }, false), true);
    assert.equal(colorAllowed({ TERM: 'dumb' }, true), false);
  });
});
