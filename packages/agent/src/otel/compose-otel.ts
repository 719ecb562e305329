import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/** File name of the Compose override the agent writes beside an unpacked package. */
export const OTEL_OVERRIDE_FILE = '.margo-otel.compose.yaml';

const ENV_KEY = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=|$)/;

/** Variable names an env file sets (`KEY=value`, `KEY`, `export KEY=...`; comments skipped). */
export function envFileKeys(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = ENV_KEY.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

function envFilePaths(v: unknown): string[] {
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list
    .map((x) =>
      typeof x === 'string'
        ? x
        : x && typeof x === 'object' && typeof (x as { path?: unknown }).path === 'string'
          ? (x as { path: string }).path
          : undefined,
    )
    .filter((x): x is string => x !== undefined);
}

/** Variable names a service's own `environment` (map or list form) sets. */
function environmentKeys(v: unknown): string[] {
  if (Array.isArray(v))
    return v
      .filter((x): x is string => typeof x === 'string')
      .map((x) => x.split('=')[0]!.trim())
      .filter(Boolean);
  if (v && typeof v === 'object') return Object.keys(v);
  return [];
}

export interface ComposeOtelOverride {
  /** The override file's text (`-f base -f override`): only variables the package does not set. */
  text: string;
  /** Per service, the variables injected (for the log and tests). */
  injected: Record<string, string[]>;
}

/**
 * The Compose override that gives every service of a package the OTEL_* environment: for each
 * service (sorted), the variables of `envFor(service)` that the package does not set itself, in
 * the service's `environment` or one of its `env_file`s (read through `readEnvFile`, relative to
 * the compose file's folder; a file that cannot be read sets nothing). A value the package sets
 * wins. `$` is doubled so that Compose does not interpolate the values. The base file's `version`
 * is repeated (Compose v1 refuses to merge files of different versions). Deterministic. Null when
 * the file has no services.
 */
export function composeOtelOverride(
  composeText: string,
  envFor: (service: string) => [string, string][],
  readEnvFile: (relativePath: string) => string | undefined,
): ComposeOtelOverride | null {
  let doc: { version?: unknown; services?: Record<string, unknown> } | null;
  try {
    doc = parseYaml(composeText, { merge: true }) as typeof doc;
  } catch {
    return null;
  }
  const services = doc?.services && typeof doc.services === 'object' ? doc.services : undefined;
  if (!services || !Object.keys(services).length) return null;
  const out: Record<string, { environment: Record<string, string> }> = {};
  const injected: Record<string, string[]> = {};
  for (const name of Object.keys(services).sort()) {
    const svc = (services[name] ?? {}) as Record<string, unknown>;
    const own = new Set(environmentKeys(svc.environment));
    for (const p of envFilePaths(svc.env_file)) {
      const text = readEnvFile(p);
      if (text !== undefined) for (const k of envFileKeys(text)) own.add(k);
    }
    const environment: Record<string, string> = {};
    for (const [k, v] of envFor(name)) if (!own.has(k)) environment[k] = v.replace(/\$/g, '$$$$');
    injected[name] = Object.keys(environment);
    out[name] = { environment };
  }
  const override = {
    ...(typeof doc!.version === 'string' || typeof doc!.version === 'number'
      ? { version: String(doc!.version) }
      : {}),
    services: out,
  };
  return {
    text:
      '# Written by margo-agent: the device OpenTelemetry collector (OTEL_*) for every service.\n' +
      stringifyYaml(override, { lineWidth: 0 }),
    injected,
  };
}
