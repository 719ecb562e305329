import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import {
  codeInfo,
  MargoError,
  normaliseApplicationDescription,
  settingsByParameter,
  validateParameterValues,
  type ApplicationDescription,
  type SchemaRule,
} from '@margo-gitops/spec';
import { resolveVersion } from '@margo-gitops/orchestrator';
import type { Connection } from './client-config.js';
import { checkout } from './git-remote.js';
import type { Io } from './io.js';

/** Largest secret value read from a file or standard input. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Where one secret value comes from: `--secret NAME=VALUE`, `--secret NAME=-`, `--secret-file NAME=PATH`. */
export type SecretSource =
  | { name: string; from: 'argv'; value: string }
  | { name: string; from: 'stdin' }
  | { name: string; from: 'file'; path: string };

/**
 * `NAME=...` without ever echoing the argument: it may be the secret itself (a forgotten `=`).
 * `flag` names the option in the message.
 */
function splitNamed(arg: string, flag: string): [string, string] {
  const i = arg.indexOf('=');
  const name = i > 0 ? arg.slice(0, i) : '';
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,200}$/.test(name)) {
    throw new MargoError('USAGE_ERROR', `${flag} expects NAME=${flag === '--secret' ? 'VALUE' : 'PATH'}`, {
      hint: `Write ${flag} NAME=${flag === '--secret' ? 'VALUE (or NAME=- to read it from standard input)' : 'PATH'}; the argument is not shown because it may be the secret.`,
    });
  }
  return [name, arg.slice(i + 1)];
}

/**
 * Parses the secret flags (pure). A value of `-` means standard input (once at most); a NAME given
 * twice is refused (which one was meant?).
 */
export function parseSecretSources(secret: readonly string[], secretFile: readonly string[]): SecretSource[] {
  const out: SecretSource[] = [];
  for (const arg of secret) {
    const [name, value] = splitNamed(arg, '--secret');
    out.push(value === '-' ? { name, from: 'stdin' } : { name, from: 'argv', value });
  }
  for (const arg of secretFile) {
    const [name, path] = splitNamed(arg, '--secret-file');
    if (!path) throw new MargoError('USAGE_ERROR', `--secret-file ${name}= names no file`);
    out.push({ name, from: 'file', path });
  }
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.name))
      throw new MargoError('USAGE_ERROR', `secret ${s.name} is given more than once`, {
        hint: 'Give each secret once, with --secret or --secret-file.',
      });
    seen.add(s.name);
  }
  if (out.filter((s) => s.from === 'stdin').length > 1)
    throw new MargoError('USAGE_ERROR', 'only one secret can be read from standard input (NAME=-)', {
      hint: 'Read the others from files with --secret-file NAME=PATH.',
    });
  return out;
}

/** Drops one trailing newline (what `echo` and editors add), nothing else. */
function chompOne(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function decode(buf: Buffer, what: string): string {
  if (buf.length > MAX_SECRET_BYTES)
    throw new MargoError('USAGE_ERROR', `${what} is larger than ${MAX_SECRET_BYTES} bytes`);
  return chompOne(buf.toString('utf8'));
}

/**
 * Reads every secret value. Values given on the command line are accepted with a warning: other
 * users of the machine can read them (`ps`, /proc) and shell history keeps them.
 */
export async function readSecretValues(
  sources: readonly SecretSource[],
  io: Io,
  cwd: string,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const s of sources) {
    if (s.from === 'argv') {
      io.err(
        `warning: --secret ${s.name}=... puts the value on the command line, where other users of this machine can read it (ps) and shell history keeps it; use --secret-file ${s.name}=PATH or --secret ${s.name}=- (standard input)\n`,
      );
      values[s.name] = s.value;
    } else if (s.from === 'stdin') {
      if (!io.readStdin)
        throw new MargoError('USAGE_ERROR', `cannot read secret ${s.name} from standard input here`);
      values[s.name] = decode(await io.readStdin(MAX_SECRET_BYTES + 1), `secret ${s.name} (standard input)`);
    } else {
      let buf: Buffer;
      try {
        buf = await readFile(resolve(cwd, s.path));
      } catch (e) {
        throw new MargoError(
          'USAGE_ERROR',
          `cannot read secret ${s.name} from ${s.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          { cause: e },
        );
      }
      values[s.name] = decode(buf, `secret ${s.name} (${s.path})`);
    }
  }
  return values;
}

function describeRule(rule: SchemaRule | undefined): string {
  if (!rule) return '';
  const parts = [
    rule.dataType,
    rule.minLength !== undefined ? `minLength ${rule.minLength}` : '',
    rule.maxLength !== undefined ? `maxLength ${rule.maxLength}` : '',
    rule.minValue !== undefined ? `minValue ${rule.minValue}` : '',
    rule.maxValue !== undefined ? `maxValue ${rule.maxValue}` : '',
    rule.regexMatch !== undefined ? `regexMatch ${rule.regexMatch}` : '',
    rule.options ? `one of ${rule.options.length} options` : '',
  ].filter(Boolean);
  return ` (schema rule "${rule.name}": ${parts.join(', ')})`;
}

/**
 * Checks secret values against the application's configuration schema, as the orchestrator checks
 * --set values (it cannot check secrets: they are sealed). Refuses with the orchestrator's codes
 * (ORCH_PARAMETER_UNKNOWN, ORCH_PARAMETER_INVALID); messages name the parameter and the rule,
 * never the value.
 */
export function checkSecretValues(app: ApplicationDescription, values: Record<string, string>): void {
  const findings = validateParameterValues(app, values, { partial: true }).filter(
    (f) => (f.severity ?? 'error') === 'error',
  );
  if (!findings.length) return;
  const rules = settingsByParameter(app);
  const nameOf = (path: string | undefined) => (path ?? '').replace(/^\//, '').split('/')[0] ?? '';
  const unknown = findings.filter((f) => f.code === 'SPEC_UNKNOWN_PARAMETER').map((f) => nameOf(f.path));
  if (unknown.length) {
    throw new MargoError(
      'ORCH_PARAMETER_UNKNOWN',
      `${app.id} ${app.version} has no parameter ${unknown.map((n) => `"${n}"`).join(', ')} (from --secret)`,
      { hint: `Its parameters: ${Object.keys(app.parameters).join(', ') || '(none)'}.` },
    );
  }
  const lines = findings.map((f) => {
    const name = nameOf(f.path);
    return `--secret ${name}: ${codeInfo(f.code)?.summary ?? f.code} [${f.code}]${describeRule(rules.get(name)?.rule)}`;
  });
  throw new MargoError(
    'ORCH_PARAMETER_INVALID',
    `secret value${findings.length === 1 ? '' : 's'} not accepted by ${app.id} ${app.version}: ${lines.join('; ')} (the value is not shown)`,
    { data: { findings: findings.map((f) => ({ code: f.code, path: f.path })) } },
  );
}

/**
 * The application description the deployment will use: `<id>/<version>/margo.yaml` of the
 * catalog, the version resolved as the orchestrator resolves it (exact, else newest in range).
 */
export async function readAppDescription(
  conn: Connection,
  ref: { id: string; version: string },
): Promise<ApplicationDescription> {
  const co = await checkout(conn, 'catalog', { depth: 1 });
  try {
    const versions = (await readdir(join(co.dir, ref.id), { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const picked = resolveVersion(ref.version, versions);
    if ('error' in picked) {
      throw new MargoError(
        'CLI_APP_NOT_FOUND',
        versions.length
          ? `cannot check the secret values: ${ref.id}: ${picked.error}`
          : `cannot check the secret values: no application "${ref.id}" in the catalog`,
        { data: { id: ref.id, version: ref.version } },
      );
    }
    const file = join(co.dir, ref.id, picked.version, 'margo.yaml');
    let data: unknown;
    try {
      data = YAML.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new MargoError(
        'CLI_APP_NOT_FOUND',
        `cannot check the secret values: ${ref.id}/${picked.version}/margo.yaml is unreadable`,
        { cause: e },
      );
    }
    return normaliseApplicationDescription(data);
  } finally {
    await co.cleanup();
  }
}
