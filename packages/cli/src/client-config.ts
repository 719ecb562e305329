import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';

/** One server the CLI talks to. The token itself lives in `tokenFile` (mode 0600), never here. */
export interface ClientContext {
  server: string;
  tokenFile?: string;
  /** Set when the server's data folder is on this machine (written by `margo init`). */
  dataDir?: string;
}

export interface ClientConfig {
  current?: string;
  contexts: Record<string, ClientContext>;
}

/** Where the client config lives: MARGO_CONFIG, else $XDG_CONFIG_HOME/margo/config.json, else ~/.config/margo/config.json. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.MARGO_CONFIG) return resolve(env.MARGO_CONFIG);
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'margo', 'config.json');
}

export async function loadClientConfig(path: string): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new MargoError('CLI_CONFIG_INVALID', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as Partial<ClientConfig>;
    if (typeof v !== 'object' || v === null || (v.contexts !== undefined && typeof v.contexts !== 'object'))
      throw new Error('not an object with "contexts"');
    return { contexts: {}, ...v } as ClientConfig;
  } catch (e) {
    throw new MargoError('CLI_CONFIG_INVALID', `${path} is not valid: ${(e as Error).message}`, { cause: e });
  }
}

/** Writes the config atomically with mode 0600. */
export async function saveClientConfig(path: string, cfg: ClientConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

/** Stores a token in `<config dir>/tokens/<name>.token` (0600) and returns the file path. */
export async function saveToken(cfgPath: string, name: string, token: string): Promise<string> {
  const dir = join(dirname(cfgPath), 'tokens');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.token`);
  await writeFile(file, token + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

/** Adds or replaces a context and makes it current. */
export async function upsertContext(
  cfgPath: string,
  name: string,
  ctx: ClientContext,
  makeCurrent = true,
): Promise<void> {
  const cfg = await loadClientConfig(cfgPath);
  cfg.contexts[name] = ctx;
  if (makeCurrent || !cfg.current) cfg.current = name;
  await saveClientConfig(cfgPath, cfg);
}

export interface ConnectionFlags {
  server?: string;
  token?: string;
  context?: string;
}

/** A resolved connection to a margo server. */
export interface Connection {
  /** Base URL (`http://127.0.0.1:8470`) or a local data folder (`file:///path/margo-data`). */
  server: string;
  token?: string;
  dataDir?: string;
  /** Where the values came from, for messages. */
  source: string;
}

/**
 * Resolves the server connection with precedence flags > env (MARGO_SERVER, MARGO_TOKEN,
 * MARGO_TOKEN_FILE, MARGO_CONTEXT) > the current context of the config file. Returns undefined
 * when nothing names a server.
 */
export async function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): Promise<Connection | undefined> {
  const path = configPath(env);
  const cfg = await loadClientConfig(path);
  const ctxName = flags.context ?? env.MARGO_CONTEXT ?? cfg.current;
  const ctx = ctxName ? cfg.contexts[ctxName] : undefined;
  if ((flags.context || env.MARGO_CONTEXT) && !ctx) {
    throw new MargoError('CLI_CONFIG_INVALID', `no context named "${ctxName}" in ${path}`, {
      hint: `Known contexts: ${Object.keys(cfg.contexts).join(', ') || '(none)'}.`,
    });
  }
  const server = flags.server ?? env.MARGO_SERVER ?? ctx?.server;
  if (!server) return undefined;
  let token = flags.token ?? env.MARGO_TOKEN;
  const tokenFile = env.MARGO_TOKEN_FILE ?? (flags.server || env.MARGO_SERVER ? undefined : ctx?.tokenFile);
  if (token === undefined && tokenFile) token = await readTokenFile(tokenFile);
  const source = flags.server
    ? '--server'
    : env.MARGO_SERVER
      ? 'MARGO_SERVER'
      : `context "${ctxName}" in ${path}`;
  const sameServer = ctx && ctx.server === server;
  const localDir = /^https?:\/\//.test(server)
    ? undefined
    : server.startsWith('file://')
      ? new URL(server).pathname
      : resolve(server);
  const dataDir = localDir ?? (sameServer ? ctx?.dataDir : undefined);
  return {
    server: server.replace(/\/+$/, ''),
    ...(token ? { token } : {}),
    ...(dataDir ? { dataDir } : {}),
    source,
  };
}

/** Like resolveConnection, but a missing server is an error that says how to configure one. */
export async function requireConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Promise<Connection> {
  const c = await resolveConnection(flags, env);
  if (!c) throw new MargoError('CLI_NO_SERVER', 'no margo server is configured for this command');
  return c;
}

export async function readTokenFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw new MargoError(
      'CLI_CONFIG_INVALID',
      `cannot read the token file ${file}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** URL of one of the server's Git repositories (`catalog`, `fleet`, `devices/<id>`). */
export function repoUrl(conn: Pick<Connection, 'server'>, repo: string): string {
  if (/^https?:\/\//.test(conn.server)) return `${conn.server}/git/${repo}.git`;
  const dir = conn.server.startsWith('file://') ? new URL(conn.server).pathname : conn.server;
  return join(isAbsolute(dir) ? dir : resolve(dir), 'repos', `${repo}.git`);
}
