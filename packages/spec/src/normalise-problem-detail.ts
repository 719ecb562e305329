import type { ProblemDetail } from './model.js';
import { arr, isRecord, num, rec, str } from './read.js';

/** Normalises an RFC 9457 problem (rc.2 `ProblemDetail`); extension members stay in `original`. */
export function normaliseProblemDetail(data: unknown): ProblemDetail {
  const d = rec(data);
  const out: ProblemDetail = {
    kind: 'ProblemDetail',
    type: str(d.type) ?? '',
    title: str(d.title) ?? '',
    status: num(d.status) ?? 0,
    original: data,
  };
  const detail = str(d.detail);
  if (detail !== undefined) out.detail = detail;
  const instance = str(d.instance);
  if (instance !== undefined) out.instance = instance;
  if (Array.isArray(d.errors))
    out.errors = arr(d.errors)
      .filter(isRecord)
      .map((e) => ({
        ...(str(e.field) !== undefined ? { field: str(e.field)! } : {}),
        ...(str(e.message) !== undefined ? { message: str(e.message)! } : {}),
      }));
  return out;
}
