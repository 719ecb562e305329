import { join, resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../context.js';
import { formatOutput, renderTable, type OutputFormat } from '../output.js';

/** Roles `margo token create` issues (device tokens come from `margo device add` and enrolment). */
export const TOKEN_COMMAND_ROLES = ['admin', 'publisher', 'operator', 'viewer'] as const;
export type TokenCommandRole = (typeof TOKEN_COMMAND_ROLES)[number];

export interface TokenCreateOptions {
  data: string;
  role: string;
  name: string;
  /** e.g. `30d`, `12h`, `90m`; absent: the token does not expire. */
  expires?: string;
  output: OutputFormat;
}
export interface TokenListOptions {
  data: string;
  /** Also list revoked and expired tokens. */
  all?: boolean;
  output: OutputFormat;
}
export interface TokenRevokeOptions {
  data: string;
  id: string;
  output: OutputFormat;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w`, or several joined (`1d12h`) -> milliseconds. Pure. */
export function parseDuration(text: string): number {
  const s = text.trim();
  const re = /(\d+)([smhdw])/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = re.lastIndex;
  }
  if (!s || end !== s.length || total <= 0)
    throw new MargoError('USAGE_ERROR', `"${text.slice(0, 40)}" is not a duration`, {
      hint: 'Use a number with a unit s, m, h, d or w, e.g. 30d or 12h.',
    });
  return total;
}

async function openStore(data: string, cwd: string) {
  const { TokenStore } = await import('@margo-gitops/git');
  const dataDir = resolve(cwd, data);
  return { dataDir, store: TokenStore.open(join(dataDir, 'auth', 'tokens.json')) };
}

/**
 * `margo token create --role R --name N [--expires 30d] [--data DIR]`: issues an API/Git token on
 * the server's machine and prints it once (only its sha256 is kept). A running `margo serve` accepts
 * it at once.
 */
export async function runCreate(opts: TokenCreateOptions, deps: CommandDeps): Promise<number> {
  if (!(TOKEN_COMMAND_ROLES as readonly string[]).includes(opts.role))
    throw new MargoError('USAGE_ERROR', `unknown role "${opts.role.slice(0, 40)}" (from --role)`, {
      hint: `Use one of ${TOKEN_COMMAND_ROLES.join(', ')}; device tokens come from margo device add.`,
    });
  const name = opts.name.trim();
  if (!name || name.length > 100 || /[\r\n\u0000-\u001f<>]/.test(name))
    throw new MargoError('USAGE_ERROR', '--name must be 1-100 printable characters without < or >', {
      hint: 'The name appears as the author of console commits, e.g. --name "Ada Lovelace".',
    });
  const expiresAt = opts.expires ? new Date(Date.now() + parseDuration(opts.expires)) : undefined;
  const { store } = await openStore(opts.data, deps.cwd);
  const { token, record } = store.issueToken(opts.role as TokenCommandRole, {
    name,
    ...(expiresAt ? { expiresAt } : {}),
  });
  deps.io.out(
    formatOutput({ token, ...record }, opts.output, (r) =>
      [
        r.token,
        '',
        `token ${r.id} (${r.role}, "${r.name}"${r.expiresAt ? `, expires ${r.expiresAt}` : ''}) created.`,
        'It is shown only this once: keep it in a password manager or a file only you can read.',
        '',
      ].join('\n'),
    ),
  );
  return 0;
}

/** `margo token list [--all]`: ids, names, roles, dates; never a token or its hash. */
export async function runList(opts: TokenListOptions, deps: CommandDeps): Promise<number> {
  const { store } = await openStore(opts.data, deps.cwd);
  const now = Date.now();
  const rows = store
    .list()
    .map((t) => ({
      ...t,
      state: t.revoked ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) <= now ? 'expired' : 'active',
    }))
    .filter((t) => opts.all || t.state === 'active')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  deps.io.out(
    formatOutput(rows, opts.output, (r) =>
      renderTable(
        r,
        [
          { header: 'id', get: (t) => t.id },
          { header: 'role', get: (t) => t.role },
          { header: 'name', get: (t) => t.name },
          { header: 'device', get: (t) => t.deviceId },
          { header: 'created', get: (t) => t.createdAt },
          { header: 'expires', get: (t) => t.expiresAt },
          { header: 'state', get: (t) => t.state },
        ],
        { empty: 'no tokens' },
      ),
    ),
  );
  return 0;
}

/** `margo token revoke ID`: refused from then on (a running server sees it within a second). */
export async function runRevoke(opts: TokenRevokeOptions, deps: CommandDeps): Promise<number> {
  const { store } = await openStore(opts.data, deps.cwd);
  const rec = store.revoke(opts.id);
  deps.io.out(formatOutput(rec, opts.output, (r) => `token ${r.id} ("${r.name}", ${r.role}) revoked\n`));
  return 0;
}
