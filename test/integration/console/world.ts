// A real `margo serve` (startServer, in this process) on a data folder made by `margo init`, with
// real bare repositories, a published application and a deployment with two revisions, and tokens
// of every role. The CLI runs in-process through main() against it, pushing over HTTP like a user.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { TokenStore } from '@margo-gitops/git';
import { main } from '../../../packages/cli/src/main.js';
import { memoryIo } from '../../../packages/cli/src/io.js';
import { updateLocalContexts } from '../../../packages/cli/src/commands/serve.js';
import { startServer } from '../../../packages/cli/src/server-wiring.js';
import type { RunningServer } from '../../../packages/cli/src/services.js';

export const repoRoot = new URL('../../../', import.meta.url).pathname;

export interface World {
  dir: string;
  data: string;
  url: string;
  server: RunningServer;
  tokens: Record<'admin' | 'operator' | 'viewer' | 'publisher', string>;
  store: TokenStore;
  margo(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  git(repo: string, ...args: string[]): string;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'margo-console-'));
  const data = join(dir, 'margo-data');
  const env: NodeJS.ProcessEnv = { ...process.env, MARGO_CONFIG: join(dir, 'config.json'), NO_COLOR: '1' };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  const run = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const io = memoryIo();
    const code = await main(['node', 'margo', ...args], { io, env: { ...env, ...extraEnv }, cwd: dir });
    return { code, out: io.stdout(), err: io.stderr() };
  };
  const init = await run(['init', '--data', data, '--listen', '127.0.0.1:0', '-o', 'json']);
  if (init.code !== 0) throw new Error(`init failed: ${init.err}`);
  const initTokens = (JSON.parse(init.out) as { tokens: Record<string, string> }).tokens;
  const server = await startServer({
    dataDir: data,
    listen: '127.0.0.1:0',
    api: { listen: 'off' },
    logTo: join(dir, 'server.log'),
    log: { info: () => undefined, error: () => undefined },
  });
  const url = server.url;
  // The context `local` (written by init, with the data folder) now names this server, as
  // `margo serve` does: the CLI then issues enrolment strings from the data folder.
  await updateLocalContexts(env, data, url);
  const store = TokenStore.open(join(data, 'auth', 'tokens.json'));
  const viewer = store.issueToken('viewer', { name: 'Vera Viewer' }).token;
  const operator = store.issueToken('operator', { name: 'Olga Operator' }).token;
  const tokens = { admin: initTokens.admin!, operator, viewer, publisher: initTokens.publisher! };
  const margo = (...args: string[]) => run(args);
  const git = (repo: string, ...args: string[]) =>
    execFileSync('git', ['--git-dir', join(data, 'repos', repo), ...args], { encoding: 'utf8' }).trim();
  return {
    dir,
    data,
    url,
    server,
    tokens,
    store,
    margo,
    git,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Fails with the command's own output when it did not exit 0. */
export async function ok(p: Promise<{ code: number; out: string; err: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`margo exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** A small client of the console API holding a cookie jar of one. */
export class Browser {
  cookie?: string;
  constructor(readonly url: string) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(method !== 'GET' ? { 'x-margo-console': '1' } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!.endsWith('=') ? undefined : set.split(';')[0];
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  async signIn(token: string): Promise<Answer> {
    return this.call('POST', '/ui/api/session', { token });
  }
}

/** A Browser signed in with `token` (the sign-in's answer is not checked: tests that care call signIn). */
export async function signedIn(url: string, token: string): Promise<Browser> {
  const b = new Browser(url);
  await b.signIn(token);
  return b;
}
