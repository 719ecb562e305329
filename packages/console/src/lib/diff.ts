/** Classification of a unified diff's lines for display (pure). */

export type DiffLineKind = 'file' | 'hunk' | 'add' | 'del' | 'context' | 'meta';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
  /** Line numbers in the old and new file, where the line has one. */
  oldLine?: number;
  newLine?: number;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/**
 * Splits a unified diff into classified lines: file headers (`---`/`+++`, `diff --git`, `index`),
 * hunk headers, added, removed and context lines, and other text (`\ No newline at end of file`).
 *
 * @example
 * classifyDiff('@@ -1 +1 @@\n-a\n+b').map((l) => l.kind); // ['hunk', 'del', 'add']
 */
export function classifyDiff(patch: string): DiffLine[] {
  const out: DiffLine[] = [];
  if (!patch) return out;
  const lines = patch.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let inHunk = false;
  let oldN = 0;
  let newN = 0;
  for (const text of lines) {
    const h = HUNK.exec(text);
    if (h) {
      inHunk = true;
      oldN = Number(h[1]);
      newN = Number(h[2]);
      out.push({ kind: 'hunk', text });
    } else if (!inHunk || text.startsWith('diff ')) {
      inHunk = false;
      const header =
        /^(diff |index |--- |\+\+\+ |new file|deleted file|similarity|rename |old mode|new mode)/;
      out.push({ kind: header.test(text) ? 'file' : 'meta', text });
    } else if (text.startsWith('+')) {
      out.push({ kind: 'add', text, newLine: newN++ });
    } else if (text.startsWith('-')) {
      out.push({ kind: 'del', text, oldLine: oldN++ });
    } else if (text.startsWith(' ') || text === '') {
      out.push({ kind: 'context', text, oldLine: oldN++, newLine: newN++ });
    } else {
      out.push({ kind: 'meta', text });
    }
  }
  return out;
}

/** How many lines were added and removed. */
export function diffStat(lines: readonly DiffLine[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of lines) {
    if (l.kind === 'add') added++;
    else if (l.kind === 'del') removed++;
  }
  return { added, removed };
}
