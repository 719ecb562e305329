import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from './parse-document.js';
import { parse as yamlParse } from 'yaml';
import { fastLoad, parseSource, scanNesting } from './source.js';
import { baseApp, baseDeployment, yaml } from './test-fixtures.js';

function codes(input: string | Uint8Array, opts = {}): string[] {
  return parseDocument(input, opts).findings.map((f) => f.code);
}

/** Runs `fn` and fails when it takes longer than `ms` (bounded time for hostile input). */
function bounded<T>(ms: number, fn: () => T): T {
  const t = performance.now();
  const out = fn();
  const took = performance.now() - t;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms, limit ${ms}`);
  return out;
}

test('bad input: each gets one clear finding in bounded time', async (t) => {
  const bomb =
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n' +
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n' +
    'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n';
  let indented = '';
  for (let i = 0; i < 2_000; i++) indented += ' '.repeat(i) + 'k:\n';
  const cases: [string, string | Uint8Array, string][] = [
    ['empty file', '', 'SPEC_EMPTY_DOCUMENT'],
    ['only whitespace', '  \n\n', 'SPEC_EMPTY_DOCUMENT'],
    ['only comments', '# nothing here\n', 'SPEC_EMPTY_DOCUMENT'],
    ['NUL bytes', new Uint8Array([0x6b, 0x3a, 0x00, 0x01, 0x02]), 'SPEC_BINARY'],
    ['NUL in a string', 'kind: a\u0000b\n', 'SPEC_BINARY'],
    ['UTF-16 with BOM', Buffer.from('\ufeffkind: x\n', 'utf16le'), 'SPEC_BINARY'],
    ['invalid UTF-8', new Uint8Array([0x6b, 0x3a, 0x20, 0xc3, 0x28, 0x0a]), 'SPEC_NOT_UTF8'],
    ['multi-document YAML', 'kind: A\n---\nkind: B\n', 'SPEC_MULTI_DOCUMENT'],
    ['alias bomb (billion laughs)', bomb, 'SPEC_YAML_ALIAS_LIMIT'],
    ['10,000-deep flow nesting', '['.repeat(10_000) + ']'.repeat(10_000), 'SPEC_TOO_DEEP'],
    ['10,000-deep flow mappings', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), 'SPEC_TOO_DEEP'],
    ['10,000 compact sequences', '- '.repeat(10_000) + 'x\n', 'SPEC_TOO_DEEP'],
    ['2,000 indented mappings (past column 1000)', indented, 'SPEC_TOO_DEEP'],
    [
      '100-deep block nesting (over the depth limit)',
      Array.from({ length: 100 }, (_, i) => '  '.repeat(i) + 'k:').join('\n') + ' 1\n',
      'SPEC_TOO_DEEP',
    ],
    ['syntax error', 'kind: [unclosed\n', 'SPEC_YAML_SYNTAX'],
    ['duplicate key', 'kind: A\nkind: B\n', 'SPEC_YAML_DUPLICATE_KEY'],
    ['a list at top level', '- a\n- b\n', 'SPEC_NOT_AN_OBJECT'],
    ['a scalar at top level', 'hello\n', 'SPEC_NOT_AN_OBJECT'],
    ['unknown kind, no recognisable shape', 'apiVersion: v1\nkind: Pod\n', 'SPEC_UNKNOWN_KIND'],
    ['no kind, no shape', 'foo: bar\n', 'SPEC_UNKNOWN_KIND'],
  ];
  for (const [name, input, code] of cases) {
    await t.test(name, () => {
      const got = bounded(5000, () => codes(input));
      assert.ok(got.includes(code), `expected ${code}, got ${got.join(', ')}`);
    });
  }
});

test('a 20 MB file is refused before parsing', () => {
  const big = Buffer.alloc(20 * 1024 * 1024, 0x61); // 'aaaa...'
  const result = bounded(2000, () => parseDocument(big, { file: 'big.yaml' }));
  assert.deepEqual(
    result.findings.map((f) => f.code),
    ['SPEC_FILE_TOO_LARGE'],
  );
  assert.equal(result.findings[0]!.file, 'big.yaml');
  const bigText = 'a'.repeat(6 * 1024 * 1024);
  assert.deepEqual(codes(bigText), ['SPEC_FILE_TOO_LARGE']);
  assert.deepEqual(codes('kind: x\n', { maxBytes: 4 }), ['SPEC_FILE_TOO_LARGE']);
});

test('multi-document files are accepted when the caller opts in', () => {
  const src = parseSource('a: 1\n---\nb: 2\n', { allowMultiDocument: true });
  assert.deepEqual(src.findings, []);
  assert.deepEqual(src.documents, [{ a: 1 }, { b: 2 }]);
});

test('a UTF-8 BOM is accepted', () => {
  const src = parseSource(Buffer.from('\ufeffa: 1\n', 'utf8'));
  assert.deepEqual(src.data, { a: 1 });
  assert.deepEqual(src.findings, []);
});

test('legitimate nesting and brackets in text pass the pre-scan', () => {
  assert.equal(scanNesting('tagline: smile :-[ [ [ [\nregex: ^[a-z]{2,6}$\n'), undefined);
  assert.equal(scanNesting('a: "[[[[[["\nb: \'{{{{\'\n'), undefined);
  const ok = parseSource('a:\n  b:\n    - c: [1, [2, [3]]]\n');
  assert.deepEqual(ok.findings, []);
  assert.ok(scanNesting('- '.repeat(600) + 'x'));
});

test('positions: line and column of a JSON path, also in JSON files', () => {
  const yaml = parseSource('a:\n  b:\n    - x\n    - y: 1\n');
  assert.deepEqual(yaml.locate('/a/b/1/y'), { line: 4, column: 10 });
  assert.deepEqual(yaml.locate('/a/b/0'), { line: 3, column: 7 });
  // A missing field is located at its nearest existing ancestor.
  assert.deepEqual(yaml.locate('/a/b/1/missing'), { line: 4, column: 7 });
  const json = parseSource('{\n  "a": {\n\t"b": [1, 2]\n  }\n}\n');
  assert.deepEqual(json.findings, []);
  assert.deepEqual(json.locate('/a/b/1'), { line: 3, column: 11 });
});

test('sourceText keeps numbers as written', () => {
  const src = parseSource('version: 1.10\n');
  assert.equal(src.data && (src.data as { version: number }).version, 1.1);
  assert.equal(src.sourceText('/version'), '1.10');
});

test('YAML errors carry line and column', () => {
  const [f] = parseDocument('a: 1\na: 2\n', { file: 'x.yaml' }).findings;
  assert.equal(f!.code, 'SPEC_YAML_DUPLICATE_KEY');
  assert.equal(f!.file, 'x.yaml');
  assert.equal(f!.line, 2);
  assert.equal(f!.column, 1);
});

test('fast path (js-yaml) and position parser (yaml) read the same data', () => {
  const docs = [
    yaml(baseApp()),
    yaml(baseDeployment()),
    'version: 1.0\nrevision: 1.10\nwait: "true"\nflag: yes\nempty:\nn: ~\nhex: 0x1F\noct: 0o17\nexp: 1e3\ninf: .inf\ndate: 2024-01-01\nmulti: |\n  a\n  b\n',
    '{"a": [1, 2.5, "x", true, null], "b": {"c": "d"}}',
  ];
  for (const text of docs) {
    const fast = fastLoad(text);
    assert.ok(fast.ok, text.slice(0, 30));
    assert.deepEqual(fast.data, yamlParse(text));
    assert.deepEqual(parseSource(text).data, yamlParse(text));
  }
});

test('the fast path declines aliases, multi-documents, duplicates and syntax errors', () => {
  for (const text of [
    'a: &x 1\nb: *x\n',
    'a: 1\n---\nb: 2\n',
    'a: 1\na: 2\n',
    'a: [1\n',
    '# only a comment\n',
  ]) {
    assert.equal(fastLoad(text).ok, false, text);
  }
  // Positions are still available (built lazily) for fast-path documents.
  const src = parseSource('a:\n  b: 1\n');
  assert.deepEqual(src.locate('/a/b'), { line: 2, column: 6 });
  assert.equal(src.sourceText('/a/b'), '1');
});

test('non-text input from JavaScript callers is a finding', () => {
  assert.deepEqual(codes(undefined as never), ['SPEC_EMPTY_DOCUMENT']);
  assert.deepEqual(codes({ kind: 'x' } as never), ['SPEC_BINARY']);
});
