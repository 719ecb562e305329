// Runs the built CLI (node packages/cli/bin/margo.js) as a user would, for end-to-end suites:
// one-shot commands, long-running `serve`/`agent` processes, polling with log tails on timeout.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTestbed, testbedProcessEnv, type Testbed } from '../../testbed/env.js';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const margoBin = join(repoRoot, 'packages/cli/bin/margo.js');
/** The device agent's launcher (the bundle with the small-device V8 settings). */
export const margoAgentBin = join(repoRoot, 'packages/agent/bin/margo-agent');

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

/** Parses a command's JSON output after checking it succeeded. */
export function json<T = any>(r: Run): T {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

/** `margo deploy` of examples/hello-world 1.0.0 as deployment `hello`, with -o json. */
export function deployHelloArgs(o: { device: string; greeting: string; hostPort: number }): string[] {
  return [
    'deploy',
    'hello-world@1.0.0',
    '--name',
    'hello',
    '--device',
    o.device,
    '--set-string',
    `GREETING=${o.greeting}`,
    '--set',
    `HOST_PORT=${o.hostPort}`,
    '-o',
    'json',
  ];
}

/**
 * Test cleanup: removes the containers publishing `port` and their Compose projects' networks
 * (leaked networks exhaust Docker's address pools over a long run). No docker: nothing to do.
 */
export function removeWorkloadOnPort(port: number, env: NodeJS.ProcessEnv = process.env): void {
  const script = `for c in $(docker ps -aq --filter publish=${port}); do
  p=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$c")
  docker rm -f "$c"
  [ -n "$p" ] && docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm
done`;
  try {
    execFileSync('sh', ['-c', script], { env, stdio: 'ignore' });
  } catch {
    /* no docker, or nothing left */
  }
}

/** What hello-world's /cgi-bin/env answers on `hostPort` (undefined while nothing serves there). */
export async function servedHello(hostPort: number): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/cgi-bin/env`, {
    signal: AbortSignal.timeout(3000),
  }).catch(() => undefined);
  return res?.ok ? await res.text() : undefined;
}

/** Where a CLI e2e suite's user works (cliSuite). */
export interface CliSuite {
  dir: string;
  env: NodeJS.ProcessEnv;
  cli: MargoCli;
  tb: Testbed | undefined;
}

/**
 * A CLI e2e suite's `before`: the build is there, a fresh folder (`prefix`), the testbed's
 * environment (else this process's) with a margo config of its own, 1-s agent polls and none of
 * the caller's MARGO_SERVER/TOKEN/TOKEN_FILE/CONTEXT/DATA (nor the names in `unset`), and a
 * MargoCli working there.
 */
export async function cliSuite(prefix: string, unset: string[] = []): Promise<CliSuite> {
  assert.ok(existsSync(join(repoRoot, 'packages/cli/dist/main.js')), 'build first: npm run build');
  assert.ok(
    existsSync(join(repoRoot, 'packages/agent/dist/bundle/margo-agent.mjs')),
    'build first: npm run build',
  );
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const tb = loadTestbed();
  const env: NodeJS.ProcessEnv = {
    ...(tb ? testbedProcessEnv(tb) : process.env),
    MARGO_CONFIG: join(dir, 'home', '.config', 'margo', 'config.json'),
    NO_COLOR: '1',
    MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
  };
  for (const k of [
    'MARGO_SERVER',
    'MARGO_TOKEN',
    'MARGO_TOKEN_FILE',
    'MARGO_CONTEXT',
    'MARGO_DATA',
    ...unset,
  ])
    delete env[k];
  return { dir, env, cli: new MargoCli(dir, env), tb };
}

/** SIGTERM (then SIGKILL after 20 s); resolves with the exit code. */
export async function stop(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res(code);
    });
    child.kill('SIGTERM');
  });
}

/** One user's shell: a working folder, an environment, and the logs of the processes it started. */
export class MargoCli {
  /** Output of long-running processes by name (`serve`, `agent`...), shown when a wait times out. */
  readonly logs: Record<string, string> = {};
  /** One-shot commands are killed after this long (raise it for suites that load the machine). */
  runTimeoutSeconds = 60;

  constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    /** The CLI launcher to run (another build, e.g. to check a test fails on old code). */
    readonly bin: string = margoBin,
  ) {
    // Suites run side by side on one Docker engine and several deploy `hello` to a device `dev1`:
    // without a prefix of their own their agents would create (and remove) the same Compose project.
    env.MARGO_AGENT_COMPOSE_PROJECT_PREFIX ??= `margo-t${randomBytes(3).toString('hex')}`;
  }

  /** Runs `margo ARGS` to completion (killed after runTimeoutSeconds). */
  run(...args: string[]): Promise<Run> {
    return new Promise((res) => {
      const child = spawn(process.execPath, [this.bin, ...args], {
        cwd: this.dir,
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.runTimeoutSeconds * 1000);
      child.on('close', (code) => {
        clearTimeout(timer);
        res({ code: code ?? -1, out, err });
      });
    });
  }

  /**
   * Starts a long-running `margo ...` (or `command`, e.g. [margoAgentBin]); resolves once `ready`
   * appears in its output (logged under `name`).
   */
  start(
    name: string,
    args: string[],
    ready: RegExp,
    extraEnv: NodeJS.ProcessEnv = {},
    command: string[] = [process.execPath, this.bin],
  ): Promise<ChildProcess> {
    this.logs[name] = '';
    return new Promise((res, rej) => {
      const child = spawn(command[0]!, [...command.slice(1), ...args], {
        cwd: this.dir,
        env: { ...this.env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let seen = '';
      const timer = setTimeout(
        () => rej(new Error(`${name} not ready in 60 s:\n${seen.slice(-3000)}`)),
        60_000,
      );
      const on = (d: Buffer) => {
        const s = d.toString();
        seen += s;
        this.logs[name] += s;
        if (ready.test(seen)) {
          clearTimeout(timer);
          res(child);
        }
      };
      child.stdout!.on('data', on);
      child.stderr!.on('data', on);
      child.on('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`${name} exited ${code}:\n${seen.slice(-3000)}`));
      });
    });
  }

  /** Polls `get` every 500 ms until it returns a truthy value; on timeout shows the logs' tails. */
  async until<T>(seconds: number, what: string, get: () => Promise<T | undefined | false>): Promise<T> {
    const end = Date.now() + seconds * 1000;
    let last: unknown;
    while (Date.now() < end) {
      try {
        const v = await get();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const tails = Object.entries(this.logs)
      .map(([n, l]) => `${n} log tail:\n${l.slice(-2000)}`)
      .join('\n');
    throw new Error(
      `timed out after ${seconds}s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\n${tails}`,
    );
  }
}
