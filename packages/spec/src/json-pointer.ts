/** RFC 6901 JSON Pointer helpers. */

/** Escapes one path segment (`~` -> `~0`, `/` -> `~1`). */
export function escapeSegment(segment: string | number): string {
  if (typeof segment === 'number') return String(segment);
  if (segment.indexOf('~') === -1 && segment.indexOf('/') === -1) return segment;
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Joins segments into a pointer; `[]` gives `""` (the whole document). */
export function toPointer(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) out += '/' + escapeSegment(s);
  return out;
}

/** Splits a pointer into unescaped segments. */
export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Appends segments to a pointer. */
export function childPointer(pointer: string, ...segments: (string | number)[]): string {
  return pointer + toPointer(segments);
}
