import { spawn } from 'node:child_process';
import { MargoError } from '@margo-gitops/spec';
import { authorizationHeader } from './auth-header.js';
import type { GitAuth } from './store.js';

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  input?: Buffer | string;
  env?: Record<string, string | undefined>;
  /** Exit codes that are not failures (default [0]). */
  okCodes?: number[];
}

/** Environment that makes git non-interactive and locale-neutral. */
export function baseGitEnv(): Record<string, string | undefined> {
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    GIT_ASKPASS: undefined,
    SSH_ASKPASS: undefined,
  };
}

/**
 * Passes config to git through the environment (GIT_CONFIG_COUNT), so secrets such as an
 * Authorization header never appear in a command line.
 */
export function configEnv(pairs: [string, string][]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** Config pairs that send a token with every HTTP request. */
export function authConfig(auth: GitAuth | undefined, headers?: Record<string, string>): [string, string][] {
  const pairs: [string, string][] = [];
  if (auth) pairs.push(['http.extraHeader', `Authorization: ${authorizationHeader(auth)}`]);
  for (const [k, v] of Object.entries(headers ?? {})) pairs.push(['http.extraHeader', `${k}: ${v}`]);
  return pairs;
}

/** Runs git; throws GIT_SERVER_MISCONFIGURED when git is missing, GIT_COMMAND_FAILED on a bad exit code. */
export function execGit(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const env = { ...baseGitEnv(), ...(opts.env ?? {}) };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      reject(
        code === 'ENOENT'
          ? new MargoError('GIT_SERVER_MISCONFIGURED', 'the git binary was not found on PATH', { cause: e })
          : new MargoError('GIT_COMMAND_FAILED', `git ${args[0]} could not start: ${e.message}`, {
              cause: e,
            }),
      );
    });
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      const res = {
        code: code ?? -1,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if ((opts.okCodes ?? [0]).includes(res.code)) resolve(res);
      else {
        reject(
          new MargoError(
            'GIT_COMMAND_FAILED',
            `git ${args[0]} failed (exit ${res.code}): ${res.stderr.trim().slice(0, 2000)}`,
            {
              data: { command: args[0], exitCode: res.code },
            },
          ),
        );
      }
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
