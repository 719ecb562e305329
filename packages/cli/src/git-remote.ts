import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { Connection } from './client-config.js';
import { repoUrl } from './client-config.js';

export interface GitResult {
  stdout: string;
  stderr: string;
}

/**
 * Environment for a git child process: the token travels in an `Authorization: Bearer` header set
 * through GIT_CONFIG_* variables (never on the command line, never in a URL), prompts are off,
 * and commits are attributed to the local user.
 */
export function gitEnv(token: string | undefined, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  let user = 'margo';
  try {
    user = userInfo().username || user;
  } catch {
    /* no passwd entry */
  }
  const env: NodeJS.ProcessEnv = {
    ...base,
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: base.GIT_AUTHOR_NAME ?? `${user} (margo cli)`,
    GIT_AUTHOR_EMAIL: base.GIT_AUTHOR_EMAIL ?? `${user}@${hostname()}`,
    GIT_COMMITTER_NAME: base.GIT_COMMITTER_NAME ?? `${user} (margo cli)`,
    GIT_COMMITTER_EMAIL: base.GIT_COMMITTER_EMAIL ?? `${user}@${hostname()}`,
  };
  const cfg: [string, string][] = [
    ['init.defaultBranch', 'main'],
    ['advice.detachedHead', 'false'],
  ];
  if (token) cfg.push(['http.extraHeader', `Authorization: Bearer ${token}`]);
  env.GIT_CONFIG_COUNT = String(cfg.length);
  cfg.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** Runs git; a non-zero exit becomes a MargoError classified from git's output (auth, unreachable, ...). */
export function runGit(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; what?: string } = {},
): Promise<GitResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: opts.env ?? gitEnv(undefined),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) =>
      reject(
        new MargoError('CLI_GIT_FAILED', `cannot run git: ${e.message}`, {
          hint: 'Install git (it must be on PATH).',
          cause: e,
        }),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) return resolvePromise({ stdout, stderr });
      reject(classifyGitFailure(args, stderr, opts.what));
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** Turns git's stderr into the right MargoError. Exported for tests. */
export function classifyGitFailure(args: string[], stderr: string, what?: string): MargoError {
  const op = what ?? `git ${args[0]}`;
  const text = stderr.trim();
  const data = { command: `git ${args[0]}`, output: text.slice(0, 4000) };
  if (
    /returned error: (401|403)|Authentication failed|could not read Username|403 Forbidden|401 Unauthorized/i.test(
      text,
    )
  ) {
    return new MargoError('CLI_AUTH_FAILED', `${op}: the server refused the token`, { data });
  }
  if (/Could not resolve host|Failed to connect|Connection refused|Couldn't connect|timed out/i.test(text)) {
    return new MargoError('CLI_SERVER_UNREACHABLE', `${op}: the server could not be reached`, { data });
  }
  if (
    /\[rejected\]|fetch first|non-fast-forward|stale info|failed to update ref|cannot lock ref/i.test(text)
  ) {
    return new MargoError('CLI_PUSH_CONFLICT', `${op}: another change landed first`, { data });
  }
  if (/returned error: 404|does not appear to be a git repository|not found/i.test(text)) {
    return new MargoError('CLI_GIT_FAILED', `${op}: repository not found (${lastLine(text)})`, {
      data,
      hint: 'Check the server URL; is `margo serve` running on it?',
    });
  }
  return new MargoError('CLI_GIT_FAILED', `${op} failed: ${lastLine(text) || 'no output'}`, { data });
}

function lastLine(s: string): string {
  const lines = s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/** Lines the server sent during a push (`remote: ...`), without the prefix: e.g. validation findings. */
export function remoteLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .filter((l) => l.startsWith('remote:'))
    .map((l) => l.slice('remote:'.length).replace(/^ /, '').trimEnd())
    .filter((l) => l.length > 0);
}

/** A working clone of one of the server's repositories in a temp folder. */
export interface Checkout {
  dir: string;
  env: NodeJS.ProcessEnv;
  git(args: string[], what?: string): Promise<GitResult>;
  cleanup(): Promise<void>;
}

/** Clones `repo` (`catalog`, `fleet`, `devices/<id>`) branch main into a temp folder. */
export async function checkout(
  conn: Connection,
  repo: string,
  opts: { depth?: number } = {},
): Promise<Checkout> {
  const parent = await mkdtemp(join(tmpdir(), 'margo-cli-'));
  const dir = join(parent, 'work');
  const env = gitEnv(conn.token);
  const url = repoUrl(conn, repo);
  const cleanup = () => rm(parent, { recursive: true, force: true });
  try {
    await runGit(
      [
        'clone',
        '--quiet',
        '--branch',
        'main',
        ...(opts.depth ? ['--depth', String(opts.depth)] : []),
        url,
        dir,
      ],
      {
        env,
        what: `cloning the ${repo} repository from ${conn.server}`,
      },
    );
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    dir,
    env,
    git: (args, what) => runGit(args, { cwd: dir, env, ...(what ? { what } : {}) }),
    cleanup,
  };
}

export interface ChangeResult {
  /** The new commit, or undefined when the change was a no-op. */
  commit?: string;
  /** What the server said while accepting the push. */
  remote: string[];
}

/**
 * Applies `change` to a fresh clone of `repo`, commits everything as ONE commit with `message`,
 * and pushes it. When another writer got there first, starts again from a fresh clone (up to
 * `attempts` times). `change` returns false for "nothing to do".
 */
export async function commitChange(
  conn: Connection,
  repo: string,
  message: string | (() => string),
  change: (co: Checkout) => Promise<boolean | void>,
  opts: { attempts?: number; onStep?: (step: string) => void } = {},
): Promise<ChangeResult> {
  const attempts = opts.attempts ?? 4;
  const step = opts.onStep ?? (() => {});
  for (let i = 1; ; i++) {
    step(i === 1 ? `cloning ${repo}` : `another change landed first; cloning ${repo} again (attempt ${i})`);
    const co = await checkout(conn, repo);
    try {
      if ((await change(co)) === false) return { remote: [] };
      await co.git(['add', '-A']);
      const st = await co.git(['status', '--porcelain']);
      if (!st.stdout.trim()) return { remote: [] };
      await co.git(['commit', '--quiet', '-m', typeof message === 'function' ? message() : message]);
      const head = (await co.git(['rev-parse', 'HEAD'])).stdout.trim();
      try {
        step(`pushing to ${repo}`);
        const r = await co.git(
          ['push', '--porcelain', 'origin', 'HEAD:refs/heads/main'],
          `pushing to the ${repo} repository`,
        );
        return { commit: head, remote: remoteLines(r.stderr) };
      } catch (e) {
        if (e instanceof MargoError && e.code === 'CLI_PUSH_CONFLICT' && i < attempts) {
          await new Promise((r) => setTimeout(r, 50 * i + Math.random() * 100));
          continue;
        }
        throw e;
      }
    } finally {
      await co.cleanup();
    }
  }
}
