/**
 * Helpers for the security suite: a bare Git repository driven with plumbing only (what an
 * attacker with write access to the Git host can do), and a real node:http server around the
 * orchestrator's onboarding handler.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  createOnboardingHttpHandler,
  type OnboardingHandlerOptions,
} from '../../packages/orchestrator/src/onboarding/index.js';
import { freePort, MargoCli } from '../e2e/cli/harness.js';
import { loadTestbed, testbedProcessEnv } from '../testbed/env.js';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A bare repository edited with plumbing (hash-object, update-index, write-tree, commit-tree, update-ref). */
export class BareRepo {
  constructor(readonly dir: string) {}

  static init(dir: string): BareRepo {
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir], { env: GIT_ENV });
    return new BareRepo(dir);
  }

  git(args: string[], input?: Buffer | string, env: Record<string, string> = {}): Buffer {
    return execFileSync('git', ['-C', this.dir, ...args], {
      env: { ...GIT_ENV, ...env },
      input,
      maxBuffer: 64 << 20,
    });
  }

  head(ref = 'main'): string | undefined {
    try {
      return this.git(['rev-parse', '--verify', '-q', `refs/heads/${ref}`])
        .toString()
        .trim();
    } catch {
      return undefined;
    }
  }

  /** Commits exactly `files` as the whole tree on top of `ref` and moves the ref. */
  commit(files: ReadonlyMap<string, Uint8Array>, message: string, ref = 'main'): string {
    const index = join(this.dir, `index-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      this.git(['read-tree', '--empty'], undefined, env);
      for (const [p, content] of files) {
        const blob = this.git(['hash-object', '-w', '--stdin'], Buffer.from(content)).toString().trim();
        this.git(['update-index', '--add', '--cacheinfo', `100644,${blob},${p}`], undefined, env);
      }
      const tree = this.git(['write-tree'], undefined, env).toString().trim();
      const parent = this.head(ref);
      const commit = this.git(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message])
        .toString()
        .trim();
      this.git(['update-ref', `refs/heads/${ref}`, commit]);
      return commit;
    } finally {
      execFileSync('rm', ['-f', index]);
    }
  }

  /** Moves a branch to an existing commit (replay of an older commit, force-push). */
  resetTo(commit: string, ref = 'main'): void {
    this.git(['update-ref', `refs/heads/${ref}`, commit]);
  }

  /** Every file of a commit, read with ls-tree + cat-file (what the agent checks out). */
  readTree(rev = 'main'): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    const list = this.git(['ls-tree', '-r', '-z', rev]).toString('utf8');
    for (const entry of list.split('\0')) {
      if (!entry) continue;
      const [meta, path] = entry.split('\t') as [string, string];
      const sha = meta.split(' ')[2]!;
      out.set(path, this.git(['cat-file', 'blob', sha]));
    }
    return out;
  }

  /** Concatenated content of every object in the repository (to prove a secret is nowhere in plaintext). */
  allObjectBytes(): Buffer {
    const shas = this.git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname)'])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean);
    return Buffer.concat(shas.map((s) => this.git(['cat-file', '-p', s])));
  }
}

/** Starts the onboarding handler on 127.0.0.1:<random>; closed when the test ends. */
export async function startOnboardingServer(t: TestContext, opts: OnboardingHandlerOptions): Promise<string> {
  const handler = createOnboardingHttpHandler(opts);
  const server: Server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          res.statusCode = 404;
          res.end();
        }
      },
      () => {
        res.statusCode = 500;
        res.end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

/** GREETING served by hello-world (examples/hello-world) on 127.0.0.1:`port`; undefined when down. */
export async function helloGreeting(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/cgi-bin/env`, {
      signal: AbortSignal.timeout(3000),
    });
    // The body is always consumed or cancelled: a body left open is errored by the timeout later,
    // with nobody listening (node:test reported it as activity after the test ended).
    const text = await res.text();
    return res.ok ? /^GREETING=(.*)$/m.exec(text)?.[1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What an end-to-end attack run against `margo serve` and a real agent starts from: a temp folder,
 * a free server port and workload port, and a `margo` CLI on the testbed's environment (agents poll
 * every second; no client context inherited from the caller).
 */
export async function e2eRun(
  prefix: string,
): Promise<{ dir: string; port: number; hostPort: number; cli: MargoCli }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const tb = loadTestbed();
  const env: NodeJS.ProcessEnv = {
    ...(tb ? testbedProcessEnv(tb) : process.env),
    MARGO_CONFIG: join(dir, 'config.json'),
    NO_COLOR: '1',
    MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  return { dir, port: await freePort(), hostPort: await freePort(), cli: new MargoCli(dir, env) };
}

/**
 * `margo agent` arguments for a device enrolled with `tokenFile` that talks to the server over Git:
 * the security suites attacking the Git host need the agent to see what was pushed (over the API,
 * `margo serve` withholds a `main` that does not verify, so the agent would never be shown it).
 */
export function gitAgentArgs(port: number, tokenFile: string, state = 'agent-state'): string[] {
  return [
    'agent',
    '--server',
    `http://127.0.0.1:${port}`,
    '--token-file',
    tokenFile,
    '--state',
    state,
    '--transport',
    'git',
  ];
}
