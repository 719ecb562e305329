// Helpers for the agent's end-to-end tests: a real smart-HTTP git server (`git http-backend`
// behind node:http, token checked as the Basic-auth password), a device repository the test writes
// desired state into, Compose packages as tarballs, and polling helpers.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import * as tar from 'tar';
import { stringify } from 'yaml';
import type { Testbed } from '../../testbed/env.ts';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  }).trim();
}

export interface GitServer {
  url: string;
  port: number;
  root: string;
  /** Number of requests served (fetch and push). */
  requests: number;
  stop(): Promise<void>;
  /** Starts again on the same port (after stop). */
  start(): Promise<void>;
}

/** Serves bare repositories under `root` at http://127.0.0.1:<port>/<name>.git with token auth. */
export async function startGitServer(root: string, token: string, port = 0): Promise<GitServer> {
  const exec = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
  let server: Server | null = null;
  const state: GitServer = {
    url: '',
    port,
    root,
    requests: 0,
    stop: async () => {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    },
    start: async () => {
      const s = createServer((req, res) => {
        state.requests++;
        const auth = req.headers.authorization ?? '';
        const m = /^Basic (.+)$/.exec(auth);
        const pw = m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : '';
        if (pw !== token) {
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
          res.end('unauthorized');
          return;
        }
        const u = new URL(req.url ?? '/', 'http://x');
        const child = spawn(join(exec, 'git-http-backend'), [], {
          env: {
            PATH: process.env.PATH,
            GIT_PROJECT_ROOT: root,
            GIT_HTTP_EXPORT_ALL: '1',
            REMOTE_USER: 'device',
            PATH_INFO: decodeURIComponent(u.pathname),
            QUERY_STRING: u.search.slice(1),
            REQUEST_METHOD: req.method ?? 'GET',
            CONTENT_TYPE: req.headers['content-type'] ?? '',
            ...(req.headers['content-encoding']
              ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) }
              : {}),
            GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
          },
        });
        req.pipe(child.stdin);
        const chunks: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => chunks.push(b));
        child.on('close', () => {
          const out = Buffer.concat(chunks);
          const sep = out.indexOf('\r\n\r\n');
          const headEnd = sep >= 0 ? sep : out.indexOf('\n\n');
          const headText = out.subarray(0, headEnd).toString('utf8');
          const body = out.subarray(headEnd + (sep >= 0 ? 4 : 2));
          let status = 200;
          const headers: Record<string, string> = {};
          for (const line of headText.split(/\r?\n/)) {
            const i = line.indexOf(':');
            if (i < 0) continue;
            const k = line.slice(0, i).trim();
            const v = line.slice(i + 1).trim();
            if (k.toLowerCase() === 'status') status = parseInt(v, 10);
            else headers[k] = v;
          }
          res.writeHead(status, headers);
          res.end(body);
        });
      });
      await new Promise<void>((r) => s.listen(state.port, '127.0.0.1', () => r()));
      state.port = (s.address() as AddressInfo).port;
      state.url = `http://127.0.0.1:${state.port}`;
      server = s;
    },
  };
  await state.start();
  return state;
}

/** A bare device repository plus a work clone the test commits desired state into. */
export class DeviceRepo {
  readonly bare: string;
  readonly work: string;
  constructor(
    readonly root: string,
    readonly name: string,
  ) {
    this.bare = join(root, `${name}.git`);
    this.work = join(root, `${name}-work`);
    mkdirSync(this.bare, { recursive: true });
    git(this.bare, 'init', '-q', '--bare', '-b', 'main');
    git(this.bare, 'config', 'http.receivepack', 'true');
    git(root, 'init', '-q', '-b', 'main', this.work);
  }

  /** Writes files (null deletes) into the work tree, commits to main and pushes; returns the commit. */
  commit(files: Record<string, string | Buffer | null>, message = 'desired state'): string {
    for (const [p, c] of Object.entries(files)) {
      const abs = join(this.work, p);
      if (c === null) rmSync(abs, { force: true });
      else {
        mkdirSync(dirname(abs), { recursive: true });
        writeFileSync(abs, c);
      }
    }
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '-q', '--allow-empty', '-m', message);
    git(this.work, 'push', '-q', '-f', this.bare, 'main');
    return git(this.work, 'rev-parse', 'HEAD');
  }

  /** A file of the status branch as the server has it, or undefined. */
  statusFile(path: string): string | undefined {
    try {
      return execFileSync('git', ['show', `status:${path}`], {
        cwd: this.bare,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      return undefined;
    }
  }

  statusJson<T = any>(path: string): T | undefined {
    const s = this.statusFile(path);
    return s === undefined ? undefined : (JSON.parse(s) as T);
  }

  statusCommits(): number {
    try {
      return Number(
        execFileSync('git', ['rev-list', '--count', 'status'], {
          cwd: this.bare,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim(),
      );
    } catch {
      return 0;
    }
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** One device's e2e start: a fresh folder, a Git server on `dir/srv` taking `token`, the device's repository. */
export async function deviceSetup(
  prefix: string,
  deviceId: string,
  token: string,
): Promise<{ dir: string; server: GitServer; repo: DeviceRepo }> {
  const dir = tempDir(prefix);
  const server = await startGitServer(join(dir, 'srv'), token);
  return { dir, server, repo: new DeviceRepo(join(dir, 'srv'), deviceId) };
}

/**
 * A Helm device's e2e start on the testbed's Kubernetes API server: deviceSetup, a fresh namespace
 * name (`nsPrefix` + time), the core API, and `cleanup` (namespace if created, server, folder).
 */
export async function helmDeviceSetup(
  tb: Testbed,
  o: { prefix: string; deviceId: string; token: string; nsPrefix: string },
) {
  const s = await deviceSetup(o.prefix, o.deviceId, o.token);
  const ns = `${o.nsPrefix}${Date.now().toString(36)}`;
  const kc = new KubeConfig();
  kc.loadFromFile(tb.kubeconfig!);
  const core = kc.makeApiClient(CoreV1Api);
  const cleanup = async (): Promise<void> => {
    try {
      await core.deleteNamespace({ name: ns });
    } catch {
      /* not created */
    }
    await s.server.stop();
    rmSync(s.dir, { recursive: true, force: true });
  };
  return { ...s, ns, kc, core, cleanup };
}

/** The agent settings an e2e agent of `deviceId` starts from: its repository there, the token, 1-s polls. */
export function agentFlags(
  dir: string,
  server: GitServer,
  deviceId: string,
  token: string,
): Record<string, unknown> {
  return {
    deviceId,
    repoUrl: `${server.url}/${deviceId}.git`,
    token,
    stateDir: join(dir, 'state'),
    pollIntervalSeconds: 1,
  };
}

/** A Compose package tarball (gzip) holding the given files at its root. */
export async function composePackage(files: Record<string, string>): Promise<Buffer> {
  const dir = tempDir('pkg-');
  try {
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    const out = join(dir, '..', `${dir.split('/').pop()}.tgz`);
    await tar.c({ gzip: true, file: out, cwd: dir, portable: true }, Object.keys(files));
    const b = readFileSync(out);
    rmSync(out, { force: true });
    return b;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface DeploymentSpec {
  name: string;
  id: string;
  type?: 'compose' | 'helm.v3';
  namespace?: string;
  /** Extension members (`x-margo-gitops-extensions`) ride beside name and properties. */
  components: ({ name: string; properties: Record<string, unknown> } & Record<`x-${string}`, unknown>)[];
  parameters?: Record<string, { value: unknown; pointer: string; components: string[] }>;
  annotations?: Record<string, string>;
}

/** An ApplicationDeployment in the 2024 Git-era shape. */
export function deploymentYaml(d: DeploymentSpec): string {
  return stringify({
    apiVersion: 'application.margo.org/v1alpha1',
    kind: 'ApplicationDeployment',
    metadata: {
      annotations: { id: d.id, applicationId: d.name.replace(/[^a-z0-9-]/g, '-'), ...(d.annotations ?? {}) },
      name: d.name,
      namespace: d.namespace ?? 'margo-e2e',
    },
    spec: {
      deploymentProfile: { type: d.type ?? 'compose', components: d.components },
      parameters: Object.fromEntries(
        Object.entries(d.parameters ?? {}).map(([k, p]) => [
          k,
          { value: p.value, targets: [{ pointer: p.pointer, components: p.components }] },
        ]),
      ),
    },
  });
}

/** Polls `fn` until it returns a truthy value or the time is up (then throws with the last value). */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500)}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function httpGet(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

export function docker(env: NodeJS.ProcessEnv, ...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', env }).trim();
}

/**
 * Every Compose container on the engine with its project, in one `docker ps` (no inspect per id:
 * a test running at the same time may remove its containers between a listing and an inspect).
 */
export function composeContainers(env: NodeJS.ProcessEnv): { id: string; project: string }[] {
  return docker(
    env,
    'ps',
    '-a',
    '--filter',
    'label=com.docker.compose.project',
    '--format',
    '{{.ID}} {{.Label "com.docker.compose.project"}}',
  )
    .split('\n')
    .filter(Boolean)
    .map((row) => {
      const [id = '', project = ''] = row.split(' ');
      return { id, project };
    });
}

/** A free TCP port on 127.0.0.1. */
/** Removes every container of a Compose project (test cleanup; nothing left is fine). */
export function removeComposeProject(env: NodeJS.ProcessEnv, project: string): void {
  try {
    const ids = docker(env, 'ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)
      .split('\n')
      .filter(Boolean);
    if (ids.length) docker(env, 'rm', '-f', ...ids);
    const nets = docker(env, 'network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`)
      .split('\n')
      .filter(Boolean);
    if (nets.length) docker(env, 'network', 'rm', ...nets);
  } catch {
    /* no docker, or nothing left */
  }
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
