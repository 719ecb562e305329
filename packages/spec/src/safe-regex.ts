/**
 * Regular expressions from documents (`regexMatch`) run on RE2 (re2js): linear time, no
 * catastrophic backtracking. Backreferences and lookaround are not supported and are reported
 * as SPEC_REGEX_INVALID, never thrown.
 */
import { RE2JS } from 're2js';

export type SafeRegex = { ok: true; test(input: string): boolean } | { ok: false; error: string };

const cache = new Map<string, SafeRegex>();
const MAX_CACHE = 1000;
const MAX_PATTERN_LENGTH = 4096;

/**
 * Compiles a pattern with RE2 semantics. Matching is a search (like `RegExp.test`): anchor the
 * pattern with `^...$` to match the whole value, as the Margo examples do.
 *
 * @example
 * const re = compileSafeRegex('^[a-z]+$');
 * if (re.ok) re.test('abc'); // true
 */
export function compileSafeRegex(pattern: string): SafeRegex {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let result: SafeRegex;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    result = { ok: false, error: `the pattern is longer than ${MAX_PATTERN_LENGTH} characters` };
  } else {
    try {
      const re = RE2JS.compile(pattern);
      result = { ok: true, test: (input: string) => re.test(input) };
    } catch (e) {
      result = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(pattern, result);
  return result;
}
