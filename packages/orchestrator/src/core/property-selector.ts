import type { LabelMatchExpression } from '@margo-gitops/spec';

function resolvePointer(doc: unknown, pointer: string): { found: boolean; value?: unknown } {
  if (pointer === '' || pointer === '/') return { found: doc !== undefined, value: doc };
  if (!pointer.startsWith('/')) return { found: false };
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) cur = cur[Number(seg)];
    else if (cur && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, seg))
      cur = (cur as Record<string, unknown>)[seg];
    else return { found: false };
  }
  return { found: cur !== undefined, value: cur };
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Evaluates rc.3 `propertySelector` expressions: each key is a JSON Pointer into the device's
 * capability properties (`properties` of the reported document, else its root). Returns the
 * expressions that fail, as sentences; empty when all hold. `ContainsAll`/`ContainsAny` compare
 * the property (a list) with `values`; with an `itemSelector` (a list of objects, e.g.
 * `/peripherals`), `ContainsAny` needs one item matching every item expression, and `ContainsAll`
 * needs every item expression matched by some item. Both `values` and `itemSelector` must hold
 * when both are given.
 *
 * @example
 * unmetPropertySelector({ properties: { cpus: [{ architecture: 'arm64' }] } }, [{ key: '/cpus/0/architecture', operator: 'In', values: ['amd64'] }]);
 * // ['device property /cpus/0/architecture is arm64, needs In [amd64]']
 */
export function unmetPropertySelector(reported: unknown, exprs: readonly LabelMatchExpression[]): string[] {
  const props =
    reported && typeof reported === 'object' && 'properties' in reported
      ? (reported as { properties: unknown }).properties
      : reported;
  return unmetIn(props, exprs);
}

/** Whether a list of objects satisfies an item selector (see unmetPropertySelector). */
function itemsMatch(
  operator: 'ContainsAll' | 'ContainsAny',
  items: unknown[],
  sel: readonly LabelMatchExpression[],
) {
  if (operator === 'ContainsAny') return items.some((it) => unmetIn(it, sel).length === 0);
  return sel.every((one) => items.some((it) => unmetIn(it, [one]).length === 0));
}

function unmetIn(props: unknown, exprs: readonly LabelMatchExpression[]): string[] {
  const out: string[] = [];
  for (const e of exprs) {
    const { found, value } = resolvePointer(props, e.key);
    const values = (e.values ?? []).map(String);
    const list = Array.isArray(value) ? value.map(String) : found ? [String(value)] : [];
    let ok: boolean;
    switch (e.operator) {
      case 'Exists':
        ok = found;
        break;
      case 'DoesNotExist':
        ok = !found;
        break;
      case 'In':
        ok = found && !Array.isArray(value) && values.includes(String(value));
        break;
      case 'NotIn':
        ok = !found || (!Array.isArray(value) && !values.includes(String(value)));
        break;
      case 'Gt':
      case 'Lt': {
        const a = Number(value);
        const b = Number(values[0]);
        ok = found && Number.isFinite(a) && Number.isFinite(b) && (e.operator === 'Gt' ? a > b : a < b);
        break;
      }
      case 'ContainsAll':
      case 'ContainsAny': {
        const byValues =
          e.values === undefined ||
          (e.operator === 'ContainsAll'
            ? values.every((v) => list.includes(v))
            : values.some((v) => list.includes(v)));
        const byItems =
          e.itemSelector === undefined ||
          (Array.isArray(value) && itemsMatch(e.operator, value, e.itemSelector));
        ok = found && byValues && byItems;
        break;
      }
      default:
        ok = false;
    }
    if (!ok) {
      const items = e.itemSelector
        ? ` items matching ${e.itemSelector.map((x) => `${x.key} ${x.operator}${x.values ? ` [${x.values.join(', ')}]` : ''}`).join(' and ')}`
        : '';
      const needs =
        e.operator === 'Exists' || e.operator === 'DoesNotExist'
          ? e.operator
          : `${e.operator}${e.values !== undefined || !items ? ` [${values.join(', ')}]` : ''}${items}`;
      out.push(`device property ${e.key} ${found ? `is ${show(value)}` : 'is not reported'}, needs ${needs}`);
    }
  }
  return out;
}
