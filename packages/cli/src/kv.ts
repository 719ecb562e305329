import { MargoError } from '@margo-gitops/spec';

/** Splits `key=value` (value may contain `=`); `flag` names the option for the message. */
export function parseKeyValue(s: string, flag: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) {
    throw new MargoError('USAGE_ERROR', `${flag} expects key=value, got "${s}"`, {
      hint: `Write it as ${flag} name=value.`,
    });
  }
  return [s.slice(0, i), s.slice(i + 1)];
}

/** Collects repeated `key=value` flags into an object (later wins). */
export function parseKeyValues(list: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list ?? []) {
    const [k, v] = parseKeyValue(s, flag);
    out[k] = v;
  }
  return out;
}

/**
 * Interprets a `--set` value like `helm --set`: `true`/`false` become booleans, plain integers and
 * decimals become numbers, `[a,b]` becomes an array; anything else stays a string.
 * `--set-string` skips this.
 */
export function coerceValue(v: string): string | number | boolean | string[] | number[] | boolean[] {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(v)) return Number(v);
  const m = /^\[(.*)\]$/.exec(v);
  if (m) {
    const items = m[1]!.trim() === '' ? [] : m[1]!.split(',').map((x) => x.trim());
    const vals = items.map(coerceValue);
    if (vals.every((x) => typeof x === 'number')) return vals as number[];
    if (vals.every((x) => typeof x === 'boolean')) return vals as boolean[];
    return items;
  }
  return v;
}

/** `APP[@VERSION]` -> { id, version } (version `*` when omitted: the newest published). */
export function parseAppRef(ref: string): { id: string; version: string } {
  const at = ref.indexOf('@');
  const id = at < 0 ? ref : ref.slice(0, at);
  const version = at < 0 ? '*' : ref.slice(at + 1);
  if (!/^[a-z0-9-]{1,200}$/.test(id) || version === '') {
    throw new MargoError('USAGE_ERROR', `"${ref}" is not an application reference`, {
      hint: 'Write APP or APP@VERSION, e.g. hello-world@1.0.0 (ids use a-z, 0-9 and -).',
    });
  }
  return { id, version };
}
