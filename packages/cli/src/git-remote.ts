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
      reject(classifyGitFailure(args, stderr, opts.what, stdout));
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Why a ref update is refused, from `git push --porcelain` status lines on stdout
 * (`!<TAB>from:to<TAB>[rejected] (fetch first)`): with --porcelain git prints them on stdout, not
 * stderr, so a classifier that reads only stderr misses lost races.
 */
export function rejectedRefs(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .filter((l) => l.startsWith('!\t'))
    .map((l) => l.split('\t').slice(2).join('\t').trim());
}

/**
 * A push lost a race with another writer: the client was behind (`[rejected] (fetch first)`,
 * non-fast-forward), or the server's ref update saw the branch move between its advertisement and
 * the update (`[remote rejected] (failed to update ref)`, `cannot lock ref`). A server that refuses
 * the content (`[remote rejected] (<finding>)`) is not a conflict: retrying would not help.
 */
export function isPushConflict(stdout: string, stderr: string): boolean {
  const lost =
    /^\[rejected\]|^\[remote rejected\] \((failed to update ref|cannot lock ref|incorrect old value)/;
  if (rejectedRefs(stdout).some((r) => lost.test(r))) return true;
  // What the server says (`remote: ...`, e.g. a validation finding mentioning non-fast-forward) is not git's verdict.
  const own = stderr
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('remote:'))
    .join('\n');
  return /! \[rejected\]|\(fetch first\)|non-fast-forward|stale info|\(failed to update ref\)|cannot lock ref|incorrect old value provided/i.test(
    own,
  );
}

/** Turns git's output into the right MargoError. Exported for tests. */
export function classifyGitFailure(args: string[], stderr: string, what?: string, stdout = ''): MargoError {
  const op = what ?? `git ${args[0]}`;
  const refused = rejectedRefs(stdout);
  const text = [stderr.trim(), ...refused.map((r) => `rejected: ${r}`)].filter(Boolean).join('\n');
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
  if (isPushConflict(stdout, stderr)) {
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

/** Who a commit names as author and committer (default: the local user, `<user> (margo cli)`). */
export interface CommitAuthor {
  name: string;
  email: string;
}

function authorEnv(a: CommitAuthor): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_AUTHOR_NAME: a.name,
    GIT_AUTHOR_EMAIL: a.email,
    GIT_COMMITTER_NAME: a.name,
    GIT_COMMITTER_EMAIL: a.email,
  };
}

/** Clones `repo` (`catalog`, `fleet`, `devices/<id>`) branch main into a temp folder. */
export async function checkout(
  conn: Connection,
  repo: string,
  opts: { depth?: number; author?: CommitAuthor } = {},
): Promise<Checkout> {
  const parent = await mkdtemp(join(tmpdir(), 'margo-cli-'));
  const dir = join(parent, 'work');
  const env = gitEnv(conn.token, opts.author ? authorEnv(opts.author) : process.env);
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
  /** How many pushes it took (1 when no other writer got in the way). */
  attempts: number;
}

/** Default bound on push attempts: enough for a handful of writers racing for the same branch. */
export const DEFAULT_PUSH_ATTEMPTS = 12;

/**
 * Milliseconds to wait before attempt `attempt` (2, 3, ...): "full jitter" exponential backoff, a
 * random delay up to min(cap, base * 2^(attempt-2)), so writers that collided spread out instead
 * of colliding again in lockstep.
 */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  base = 100,
  cap = 2000,
): number {
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.max(0, attempt - 2)));
}

/**
 * Applies `change` to a clone of `repo`, commits everything as ONE commit with `message`, and
 * pushes it. When another writer got there first (the push is rejected as a lost race), fetches
 * the new head, resets the work tree to it, re-applies `change` there and pushes again, with
 * jittered backoff, up to `attempts` times; then fails with CLI_PUSH_CONFLICT (exit 5). So a
 * change that loses a race is re-based, never dropped. `change` returns false for "nothing to do"
 * and must derive everything from the work tree it is given (it may run more than once).
 */
export async function commitChange(
  conn: Connection,
  repo: string,
  message: string | (() => string),
  change: (co: Checkout) => Promise<boolean | void>,
  opts: {
    attempts?: number;
    onStep?: (step: string) => void;
    random?: () => number;
    author?: CommitAuthor;
  } = {},
): Promise<ChangeResult> {
  const attempts = Math.max(1, opts.attempts ?? DEFAULT_PUSH_ATTEMPTS);
  const step = opts.onStep ?? (() => {});
  step(`cloning ${repo}`);
  const co = await checkout(conn, repo, opts.author ? { author: opts.author } : {});
  try {
    for (let i = 1; ; i++) {
      if (i > 1) {
        step(
          `another change landed first; re-applying on the new ${repo} head (attempt ${i} of ${attempts})`,
        );
        await new Promise((r) => setTimeout(r, backoffDelay(i, opts.random)));
        await co.git(['fetch', '--quiet', 'origin', 'main'], `fetching the ${repo} repository`);
        await co.git(['reset', '--quiet', '--hard', 'FETCH_HEAD']);
        await co.git(['clean', '-ffdxq']);
      }
      if ((await change(co)) === false) return { remote: [], attempts: i };
      await co.git(['add', '-A']);
      const st = await co.git(['status', '--porcelain']);
      if (!st.stdout.trim()) return { remote: [], attempts: i };
      await co.git(['commit', '--quiet', '-m', typeof message === 'function' ? message() : message]);
      const head = (await co.git(['rev-parse', 'HEAD'])).stdout.trim();
      try {
        step(`pushing to ${repo}`);
        const r = await co.git(
          ['push', '--porcelain', 'origin', 'HEAD:refs/heads/main'],
          `pushing to the ${repo} repository`,
        );
        return { commit: head, remote: remoteLines(r.stderr), attempts: i };
      } catch (e) {
        if (!(e instanceof MargoError) || e.code !== 'CLI_PUSH_CONFLICT') throw e;
        if (i >= attempts) {
          throw new MargoError(
            'CLI_PUSH_CONFLICT',
            `pushing to the ${repo} repository: other changes kept landing first; gave up after ${attempts} attempts (nothing was written)`,
            { cause: e, data: { ...e.data, attempts }, hint: 'Try again in a moment.' },
          );
        }
      }
    }
  } finally {
    await co.cleanup();
  }
}
