/**
 * JSON text with BigInt values written as plain JSON numbers, digit for digit. Margo manifest
 * versions go up to 2^64-1, beyond what a JavaScript number holds exactly, and the rc.2 schema
 * types them as numbers, so they cannot travel as strings nor through `JSON.stringify` as is.
 */
import { randomBytes } from 'node:crypto';

/**
 * Like `JSON.stringify(value, null, indent)`, with BigInt values emitted as JSON numbers.
 *
 * @example
 * stringifyJsonExact({ v: 18446744073709551615n }); // '{"v":18446744073709551615}'
 */
export function stringifyJsonExact(value: unknown, indent?: number): string {
  // A per-call random marker cannot collide with a string already in the document.
  const mark = `\u0000bigint-${randomBytes(8).toString('hex')}:`;
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? `${mark}${v.toString()}` : v),
    indent,
  );
  return text.replace(
    new RegExp(`"${JSON.stringify(mark).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g'),
    '$1',
  );
}
