import type { LabelMatchExpression } from '@margo-gitops/spec';
import type { LabelSelector } from '@margo-gitops/spec';

function matchesExpression(labels: Record<string, string>, e: LabelMatchExpression): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, e.key);
  const v = has ? labels[e.key] : undefined;
  const values = (e.values ?? []).map(String);
  switch (e.operator) {
    case 'In':
      return has && values.includes(v!);
    case 'NotIn':
      // Kubernetes semantics: a missing label satisfies NotIn.
      return !has || !values.includes(v!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1) return false;
      const a = Number(v);
      const b = Number(values[0]);
      if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
      return e.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/**
 * True when `labels` satisfy the selector (Kubernetes semantics: matchLabels and every
 * matchExpression are ANDed; an empty selector matches everything).
 *
 * @example
 * matchesSelector({ site: 'a' }, { matchExpressions: [{ key: 'site', operator: 'In', values: ['a', 'b'] }] }); // true
 */
export function matchesSelector(labels: Record<string, string>, selector: LabelSelector): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    if (!matchesExpression(labels, e)) return false;
  }
  return true;
}
