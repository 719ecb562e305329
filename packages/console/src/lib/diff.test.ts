import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyDiff, diffStat } from './diff.js';

const PATCH = `diff --git a/deployments/hello.yaml b/deployments/hello.yaml
index 1111111..2222222 100644
--- a/deployments/hello.yaml
+++ b/deployments/hello.yaml
@@ -3,4 +3,4 @@ metadata:
 spec:
-  version: 1.0.0
+  version: 1.1.0
   parameters:
-    GREETING: Hi
+    GREETING: Hello
     TOKEN: <sealed>
\\ No newline at end of file
`;

test('classifyDiff: headers, hunks, added, removed, context and notes', () => {
  const lines = classifyDiff(PATCH);
  assert.deepEqual(
    lines.map((l) => l.kind),
    [
      'file',
      'file',
      'file',
      'file',
      'hunk',
      'context',
      'del',
      'add',
      'context',
      'del',
      'add',
      'context',
      'meta',
    ],
  );
  // Lines keep their text (with + / -), so the change reads without colour.
  assert.equal(lines[6]!.text, '-  version: 1.0.0');
  assert.equal(lines[7]!.text, '+  version: 1.1.0');
  // `--- ` / `+++ ` before the first hunk are file headers, not a removed and an added line.
  assert.equal(lines[2]!.kind, 'file');
  assert.deepEqual(diffStat(lines), { added: 2, removed: 2 });
});

test('classifyDiff: line numbers follow the hunk header', () => {
  const lines = classifyDiff(PATCH);
  assert.deepEqual([lines[5]!.oldLine, lines[5]!.newLine], [3, 3]);
  assert.equal(lines[6]!.oldLine, 4);
  assert.equal(lines[7]!.newLine, 4);
  assert.deepEqual([lines[8]!.oldLine, lines[8]!.newLine], [5, 5]);
});

test('classifyDiff: a line starting with --- inside a hunk is a removed line', () => {
  const lines = classifyDiff('@@ -1,2 +1,1 @@\n---- separator\n+++ plus\n');
  assert.deepEqual(
    lines.map((l) => l.kind),
    ['hunk', 'del', 'add'],
  );
});

test('classifyDiff: empty, CRLF, a file created from nothing, two files', () => {
  assert.deepEqual(classifyDiff(''), []);
  const created = classifyDiff(
    '--- /dev/null\r\n+++ b/deployments/x.yaml\r\n@@ -0,0 +1,2 @@\r\n+a: 1\r\n+b: 2\r\n',
  );
  assert.deepEqual(
    created.map((l) => l.kind),
    ['file', 'file', 'hunk', 'add', 'add'],
  );
  assert.equal(created[3]!.text, '+a: 1');
  const two = classifyDiff(
    '@@ -1 +1 @@\n-a\n+b\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-c\n+d\n',
  );
  assert.deepEqual(
    two.map((l) => l.kind),
    ['hunk', 'del', 'add', 'file', 'file', 'file', 'hunk', 'del', 'add'],
  );
});
