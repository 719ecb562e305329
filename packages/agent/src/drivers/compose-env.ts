import type { ParamValue } from '@margo-gitops/spec';

/** A parameter value as an environment variable string (arrays comma-joined). */
export function envValue(v: ParamValue): string {
  return Array.isArray(v) ? v.map(String).join(',') : String(v);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Environment variables for `docker compose` from the component's (pointer, value) pairs (the
 * `ENV.` prefix is already removed by the spec parser; removed here too for safety). Later
 * duplicates win. Returns invalid names separately.
 * @example composeEnvironment([['ENV.GREETING', 'hello']]) // { env: { GREETING: 'hello' }, invalid: [] }
 */
export function composeEnvironment(values: [string, ParamValue][]): {
  env: Record<string, string>;
  invalid: string[];
} {
  const env: Record<string, string> = {};
  const invalid: string[] = [];
  for (const [pointer, value] of values) {
    const name = pointer.replace(/^ENV\./, '');
    if (!ENV_NAME.test(name)) invalid.push(pointer);
    else env[name] = envValue(value);
  }
  return { env, invalid };
}

/**
 * Compose project name for a deployment: `<prefix>-<name>-<first 8 of id>` (prefix `margo` by
 * default), lower-case, [a-z0-9_-].
 */
export function composeProjectName(
  deploymentName: string,
  deploymentId: string,
  component: string,
  componentCount: number,
  prefix = 'margo',
): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const short = deploymentId.replace(/-/g, '').slice(0, 8).toLowerCase();
  const base = `${clean(prefix).slice(0, 20) || 'margo'}-${clean(deploymentName).slice(0, 40)}-${short}`;
  return componentCount > 1 ? `${base}-${clean(component).slice(0, 20)}` : base;
}
