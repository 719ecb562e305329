import type { Code } from './codes/index.js';
import type { Finding, Severity } from './model.js';

/** Creates a finding. Position (file/line/column) is added later by whoever knows the source. */
export function finding(code: Code, message: string, path = '', severity: Severity = 'error'): Finding {
  return { code, severity, message, path };
}

/** True when any finding is an error. */
export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** Sorts findings by line, column, path, then code (stable output for tools and tests). */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      a.path.localeCompare(b.path) ||
      a.code.localeCompare(b.code),
  );
}

/** Keeps the first of several findings with the same code and path (schema and rules may see one fault twice). */
export function dedupeFindings(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}\u0000${f.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Formats a finding as `file:line:col: severity CODE message` (the `margo validate` line format).
 * Unknown parts are left out: `file: severity CODE message` or `severity CODE message`.
 *
 * @example
 * formatFinding({ code: 'SPEC_REQUIRED_FIELD', severity: 'error', message: 'missing "kind"', path: '/kind', file: 'a.yaml', line: 1, column: 1 })
 * // 'a.yaml:1:1: error SPEC_REQUIRED_FIELD missing "kind"'
 */
export function formatFinding(f: Finding): string {
  let where = f.file ?? '';
  if (f.line !== undefined) where += `${where ? ':' : ''}${f.line}:${f.column ?? 1}`;
  const at = f.path && f.line === undefined ? ` (at ${f.path})` : '';
  return `${where ? where + ': ' : ''}${f.severity} ${f.code} ${f.message}${at}`;
}
