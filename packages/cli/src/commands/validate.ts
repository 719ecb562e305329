/**
 * `margo validate PATH...`: validates Margo documents, fleet documents and application package
 * folders. Prints `file:line:col: severity CODE message` per finding on stdout and a summary on
 * stderr. Exit 0 when everything is valid (warnings allowed), 1 when any file is invalid, 2 on
 * usage errors (no path, a path that does not exist, an unknown output format).
 */
import { stat } from 'node:fs/promises';
import { codeInfo, formatFinding, validatePaths, type FileResult, type Finding } from '@margo-gitops/spec';
import type { Io } from '../io.js';

export interface ValidateOptions {
  output?: 'text' | 'json';
}

/** The CLI's Io (`out`/`err`) or plain streams (`stdout`/`stderr`). */
export type ValidateIo =
  | Pick<Io, 'out' | 'err'>
  | { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } };

function writers(io: ValidateIo): { out: (s: string) => void; err: (s: string) => void } {
  if ('out' in io) return { out: (s) => io.out(s), err: (s) => io.err(s) };
  return { out: (s) => void io.stdout.write(s), err: (s) => void io.stderr.write(s) };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Counts errors and warnings of a result list. */
export function summarise(results: readonly FileResult[]): {
  files: number;
  invalid: number;
  errors: number;
  warnings: number;
} {
  let invalid = 0;
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    const e = r.findings.filter((f) => f.severity === 'error').length;
    errors += e;
    warnings += r.findings.filter((f) => f.severity === 'warning').length;
    if (e) invalid++;
  }
  return { files: results.length, invalid, errors, warnings };
}

/**
 * Runs `margo validate`. Returns the exit code.
 *
 * @example
 * const code = await run(['examples/'], { output: 'text' });
 */
export async function run(
  paths: string[],
  opts: ValidateOptions = {},
  io: ValidateIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { out, err } = writers(io);
  const output = opts.output ?? 'text';
  if (output !== 'text' && output !== 'json') {
    err(`margo validate: unknown output format "${String(output)}" (use text or json)\n`);
    return 2;
  }
  if (paths.length === 0) {
    err('margo validate: give at least one file or folder, e.g. margo validate margo.yaml examples/\n');
    return 2;
  }
  const missing: string[] = [];
  for (const p of paths) {
    try {
      await stat(p);
    } catch {
      missing.push(p);
    }
  }
  if (missing.length) {
    err(`margo validate: no such file or folder: ${missing.join(', ')}\n`);
    return 2;
  }
  const results = await validatePaths(paths);
  const sum = summarise(results);
  if (output === 'json') {
    const files = results.map((r) => ({
      file: r.file,
      ...(r.kind ? { kind: r.kind } : {}),
      ...(r.package ? { package: true } : {}),
      valid: !r.findings.some((f) => f.severity === 'error'),
      findings: r.findings.map((f: Finding) => {
        const hint = codeInfo(f.code)?.hint;
        return { ...f, file: f.file ?? r.file, ...(hint ? { hint } : {}) };
      }),
    }));
    out(JSON.stringify({ valid: sum.invalid === 0, summary: sum, files }, null, 2) + '\n');
  } else {
    for (const r of results)
      for (const f of r.findings) out(formatFinding({ ...f, file: f.file ?? r.file }) + '\n');
  }
  if (sum.files === 0) err('margo validate: no YAML or JSON files found\n');
  else {
    err(
      `${plural(sum.files, 'file')} checked: ${sum.files - sum.invalid} valid, ${sum.invalid} invalid (${plural(sum.errors, 'error')}, ${plural(sum.warnings, 'warning')})\n`,
    );
  }
  return sum.invalid > 0 ? 1 : 0;
}
