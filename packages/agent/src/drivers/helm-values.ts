import type { ParamValue } from '@margo-gitops/spec';

type Seg = { key: string } | { index: number };

/**
 * Splits a Helm `--set`-style pointer: `a.b[0].c`, with `\.` escaping a dot inside a key.
 * Returns null for a malformed pointer.
 */
export function parsePointer(pointer: string): Seg[] | null {
  const segs: Seg[] = [];
  let cur = '';
  let i = 0;
  const pushKey = () => {
    if (cur === '') return false;
    segs.push({ key: cur });
    cur = '';
    return true;
  };
  while (i < pointer.length) {
    const ch = pointer[i]!;
    if (ch === '\\' && pointer[i + 1] === '.') {
      cur += '.';
      i += 2;
      continue;
    }
    if (ch === '.') {
      if (!pushKey() && !(segs.length && 'index' in segs[segs.length - 1]!)) return null;
      i++;
      continue;
    }
    if (ch === '[') {
      const end = pointer.indexOf(']', i);
      if (end < 0) return null;
      const n = pointer.slice(i + 1, end);
      if (!/^\d+$/.test(n)) return null;
      if (cur !== '') pushKey();
      else if (!segs.length) return null;
      segs.push({ index: Number(n) });
      i = end + 1;
      continue;
    }
    cur += ch;
    i++;
  }
  if (cur !== '') segs.push({ key: cur });
  else if (!segs.length || pointer.endsWith('.')) return null;
  return segs;
}

/**
 * Builds a Helm values object from (pointer, value) pairs (`image.tag`, `env[0].name`).
 * Returns the values and the pointers that could not be used.
 * @example helmValues([['image.tag', '2'], ['env[0].name', 'A']]) // { values: { image: { tag: '2' }, env: [{ name: 'A' }] }, invalid: [] }
 */
export function helmValues(pairs: [string, ParamValue][]): {
  values: Record<string, unknown>;
  invalid: string[];
} {
  const root: Record<string, unknown> = {};
  const invalid: string[] = [];
  for (const [pointer, value] of pairs) {
    const segs = parsePointer(pointer);
    if (!segs) {
      invalid.push(pointer);
      continue;
    }
    let node: Record<string, unknown> | unknown[] = root;
    let ok = true;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      const last = i === segs.length - 1;
      const nextIsIndex = !last && 'index' in segs[i + 1]!;
      const make = () => (nextIsIndex ? [] : {});
      if ('key' in s) {
        if (Array.isArray(node)) {
          ok = false;
          break;
        }
        const obj: Record<string, unknown> = node;
        if (last) obj[s.key] = value;
        else {
          const existing = obj[s.key];
          if (
            existing === undefined ||
            existing === null ||
            typeof existing !== 'object' ||
            Array.isArray(existing) !== nextIsIndex
          )
            obj[s.key] = make();
          node = obj[s.key] as Record<string, unknown> | unknown[];
        }
      } else {
        if (!Array.isArray(node)) {
          ok = false;
          break;
        }
        const arr: unknown[] = node;
        while (arr.length <= s.index) arr.push(null);
        if (last) arr[s.index] = value;
        else {
          const existing = arr[s.index];
          if (
            existing === undefined ||
            existing === null ||
            typeof existing !== 'object' ||
            Array.isArray(existing) !== nextIsIndex
          )
            arr[s.index] = make();
          node = arr[s.index] as Record<string, unknown> | unknown[];
        }
      }
    }
    if (!ok) invalid.push(pointer);
  }
  return { values: root, invalid };
}
