import * as spec from '@margo-gitops/spec';
import type { PushFinding, PushValidator } from './push-validation.js';

interface SpecFinding {
  code: string;
  severity?: 'error' | 'warning' | 'info';
  message: string;
  path?: string;
  line?: number;
  column?: number;
}
type ValidateDocument = (
  text: string,
  opts: { file: string; kind?: string },
) => { findings: SpecFinding[] } | Promise<{ findings: SpecFinding[] }>;

/** The spec library's document validator, when this build of it has one. */
export function specValidateDocument(): ValidateDocument | undefined {
  const fn = (spec as Record<string, unknown>)['validateDocument'];
  return typeof fn === 'function' ? (fn as ValidateDocument) : undefined;
}

/** True for the files the catalog validator checks. */
export function isApplicationDescription(path: string): boolean {
  return path === 'margo.yaml' || path.endsWith('/margo.yaml');
}

/**
 * The catalog push validator: every added or changed `margo.yaml` is checked with the spec
 * library's rules (`validateDocument`); findings keep the file's line and column.
 */
export const validateCatalogPush: PushValidator = async (ctx) => {
  const validate = specValidateDocument();
  const findings: PushFinding[] = [];
  for (const c of ctx.changes) {
    if (c.status === 'deleted' || !isApplicationDescription(c.path)) continue;
    if (!validate) {
      findings.push({
        code: 'GIT_SERVER_MISCONFIGURED',
        severity: 'warning',
        file: c.path,
        message: 'this server build cannot validate margo.yaml (spec validator missing); accepted unchecked',
      });
      continue;
    }
    const text = (await ctx.readBlob(c.oid)).toString('utf8');
    const res = await validate(text, { file: c.path, kind: 'ApplicationDescription' });
    for (const f of res.findings) {
      findings.push({
        code: f.code,
        message: f.message,
        severity: f.severity ?? 'error',
        file: c.path,
        ...(f.line !== undefined ? { line: f.line } : {}),
        ...(f.column !== undefined ? { column: f.column } : {}),
      });
    }
  }
  return findings;
};
