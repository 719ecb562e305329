/**
 * Conformance: the upstream margo/specification examples beyond ../shared (test/conformance/upstream/,
 * listed in its MANIFEST.md, which this test reads). A valid file passes with the kind named; an
 * invalid one fails and its FIRST error finding is the intended reason (code and JSON path), with
 * a position. A file missing from the table, or a row without its file, fails the test.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseDocument } from '@margo-gitops/spec';

const dir = fileURLToPath(new URL('./upstream/', import.meta.url));

interface Row {
  path: string;
  commit: string;
  kind: string;
  expected: 'valid' | 'invalid';
  code: string;
  at: string;
}

/** The rows of MANIFEST.md's table (`| path | commit | kind | expected | code | at | note |`). */
function manifestRows(text: string): Row[] {
  return text
    .split('\n')
    .filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| path '))
    .map((l) => {
      const [path, commit, kind, expected, code, at] = l
        .split('|')
        .slice(1)
        .map((c) => c.trim());
      return {
        path: path!,
        commit: commit!,
        kind: kind!,
        expected: expected as Row['expected'],
        code: code!,
        at: at!,
      };
    });
}

function walk(d: string): string[] {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const rows = manifestRows(readFileSync(join(dir, 'MANIFEST.md'), 'utf8'));

test('every upstream fixture is in MANIFEST.md and every row has its file (29)', () => {
  const files = walk(dir)
    .map((f) => relative(dir, f))
    .filter((f) => f !== 'MANIFEST.md')
    .sort();
  assert.deepEqual(files, rows.map((r) => r.path).sort());
  assert.equal(files.length, 29);
  for (const r of rows) assert.match(r.commit, /^[0-9a-f]{40}$/, r.path);
});

for (const r of rows) {
  test(`${r.expected}: upstream/${r.path}${r.code ? ` -> ${r.code}` : ''}`, () => {
    const result = parseDocument(readFileSync(join(dir, r.path)), { file: r.path });
    const errors = result.findings.filter((f) => f.severity === 'error');
    assert.equal(result.kind, r.kind);
    if (r.expected === 'valid') {
      assert.deepEqual(errors, []);
      assert.ok(result.model);
      return;
    }
    assert.ok(errors.length > 0, 'an invalid example fails');
    const [first] = errors;
    assert.equal(
      `${first!.code} ${first!.path}`,
      `${r.code} ${r.at}`,
      'the first error is the intended reason',
    );
    assert.ok(first!.line && first!.column, 'the finding has a position');
    assert.equal(result.model, undefined);
  });
}
