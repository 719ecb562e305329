/**
 * bench/git: the embedded Git server against stock `git http-backend`, same machine, same run.
 *   (1) one up-to-date device poll (isomorphic-git fetch): server CPU ms and bytes on the wire
 *       (targets: <= 5 ms, <= 2 KB)
 *   (2) creating 1,000 device repositories (target < 10 s), beside `git init --bare` x 1,000
 *   (3) 1,000 simulated devices polling for a bounded time: requests/s and p50/p99 latency
 *   (4) GitStore writes: small desired-state commits and one 2,000-file commit, per backend
 *   (5) one device status push: server CPU, wall time and programs started per push, stock
 *       http-backend (floor) / Node pre-receive hook (before) / default hook runner (see status-push.ts)
 * Run: node --conditions=source --import tsx bench/git/index.ts [--polls 300] [--seconds 10]
 *      [--pushes 40] [--only push]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IsoGitStore, NativeGitStore, TokenStore, createRepos, ensureDeviceRepos } from '@margo-gitops/git';
import { measureStatusPushes, pushCostRows } from './status-push.js';

const pexec = promisify(execFile);
const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const POLLS = arg('polls', 300);
const SECONDS = arg('seconds', 10);
const DEVICES = arg('devices', 1000);
const PUSHES = arg('pushes', 40);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const TICK_MS = 1000 / 100; // /proc stat clock ticks (USER_HZ = 100 on Linux)
const author = { name: 'bench', email: 'bench@margo.invalid' };
const here = fileURLToPath(new URL('.', import.meta.url));

interface Server {
  child: ChildProcess;
  port: number;
  cpuMs(): number;
  bytes(): Promise<number>;
  stop(): void;
}

async function startServer(mode: 'margo' | 'cgi', reposRoot: string, tokensFile?: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(here, 'server-child.ts'),
      mode,
      reposRoot,
      ...(tokensFile ? [tokensFile] : []),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const queue: ((l: string) => void)[] = [];
  lines.on('line', (l) => queue.shift()?.(l));
  const next = (): Promise<string> => new Promise((r) => queue.push(r));
  const { port } = JSON.parse(await next()) as { port: number };
  return {
    child,
    port,
    cpuMs: () => {
      // utime stime cutime cstime (fields 14-17): the server and the git processes it waited for
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
    },
    bytes: async () => {
      const p = next();
      child.stdin!.write('bytes\n');
      return (JSON.parse(await p) as { bytes: number }).bytes;
    },
    stop: () => child.kill(),
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const fmt = (n: number, d = 2): string => n.toFixed(d);

/** (5) status pushes, on repositories and tokens of its own. */
async function pushSection(root: string): Promise<string[]> {
  const repos = join(root, 'push-repos');
  await createRepos(repos);
  const ids = Array.from({ length: 6 }, (_, i) => `push-${i}`);
  await ensureDeviceRepos(repos, ids);
  const tokensFile = join(root, 'push-auth', 'tokens.json');
  const tokens = TokenStore.open(tokensFile);
  const devices = ids.map((id) => ({ id, token: tokens.issueToken('device', { deviceId: id }).token }));
  return pushCostRows(await measureStatusPushes(repos, tokensFile, devices, PUSHES, root));
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'margo-bench-git-'));
  const rows: string[] = [];
  if (ONLY === 'push') {
    try {
      console.log((await pushSection(root)).join('\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    return;
  }
  try {
    const repos = join(root, 'repos');
    await createRepos(repos);
    // ---- (2) creating 1,000 device repositories
    const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    let t0 = performance.now();
    await ensureDeviceRepos(repos, ids);
    const margoCreate = performance.now() - t0;
    const floorRoot = join(root, 'git-init');
    t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          await pexec('git', ['init', '-q', '--bare', '--initial-branch=main', join(floorRoot, `${id}.git`)]);
        }
      }),
    );
    const gitCreate = performance.now() - t0;
    rows.push(
      `(2) create ${DEVICES} device repos: margo ensureDeviceRepos ${fmt(margoCreate / 1000)} s (target < 10 s) | git init --bare x${DEVICES} (8 parallel) ${fmt(gitCreate / 1000)} s`,
    );

    // seed every device repository with a desired-state commit
    t0 = performance.now();
    for (const id of ids.slice(0, 50)) {
      await new NativeGitStore(join(repos, 'devices', `${id}.git`)).commitFiles({
        ref: 'main',
        expectedOid: null,
        changes: new Map([
          [
            'deployments/app.yaml',
            `apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  name: app\n  annotations:\n    id: ${id}\n`,
          ],
          ['margo-manifest.json', JSON.stringify({ deviceId: id, version: 1 })],
        ]),
        message: 'desired state',
        author,
      });
    }
    const tokensFile = join(root, 'auth', 'tokens.json');
    const tokens = TokenStore.open(tokensFile);
    const deviceTokens = ids.map((id) => tokens.issueToken('device', { deviceId: id }).token);

    const margo = await startServer('margo', repos, tokensFile);
    const cgi = await startServer('cgi', repos);
    try {
      // ---- (1) one up-to-date device poll
      const poll = async (srv: Server, label: string, client: 'iso' | 'git'): Promise<void> => {
        const url = `http://127.0.0.1:${srv.port}/git/devices/${ids[0]}.git`;
        const auth = { token: deviceTokens[0]! };
        const local = join(root, `poll-${label.replace(/\W+/g, '-')}.git`);
        const store = client === 'iso' ? new IsoGitStore(local) : new NativeGitStore(local);
        await store.clone(url, { auth });
        for (let i = 0; i < 5; i++) await store.fetch(url, { auth }); // warm up
        const cpu0 = srv.cpuMs();
        const b0 = await srv.bytes();
        const lat: number[] = [];
        for (let i = 0; i < POLLS; i++) {
          const s = performance.now();
          const r = await store.fetch(url, { auth });
          lat.push(performance.now() - s);
          if (r.changed) throw new Error('poll was not up to date');
        }
        const cpu = (srv.cpuMs() - cpu0) / POLLS;
        const bytes = ((await srv.bytes()) - b0) / POLLS;
        lat.sort((a, b) => a - b);
        rows.push(
          `(1) up-to-date poll, ${label}: server CPU ${fmt(cpu)} ms/poll, wire ${fmt(bytes, 0)} B/poll, client latency p50 ${fmt(pct(lat, 50))} ms`,
        );
      };
      await poll(margo, 'margo embedded server, isomorphic-git client (target <= 5 ms, <= 2048 B)', 'iso');
      await poll(cgi, 'stock git http-backend (CGI, no auth), isomorphic-git client', 'iso');
      await poll(margo, 'margo embedded server, stock git client (NativeGitStore, protocol v1)', 'git');
      await poll(
        cgi,
        'stock git http-backend (CGI, no auth), stock git client (NativeGitStore, protocol v1)',
        'git',
      );

      // the same poll against the testbed's nginx + fcgiwrap + git http-backend, when it is up
      // (client latency only: its CPU is spread over nginx, fcgiwrap and git processes we did not start)
      const tb = await import('../../test/testbed/env.ts')
        .then((m) => m.loadTestbed())
        .catch(() => undefined);
      if (tb?.gitHttp && tb.gitRoot && tb.components.includes('git')) {
        const name = `bench-${process.pid}.git`;
        const remote = join(tb.gitRoot, name);
        const seed = new NativeGitStore(remote);
        await seed.init();
        await seed.fetch(join(repos, 'devices', `${ids[0]}.git`), { ref: 'main' });
        try {
          const url = `${tb.gitHttp}/${name}`;
          const store = new IsoGitStore(join(root, 'poll-nginx.git'));
          await store.clone(url);
          for (let i = 0; i < 5; i++) await store.fetch(url);
          const lat: number[] = [];
          for (let i = 0; i < POLLS; i++) {
            const s = performance.now();
            await store.fetch(url);
            lat.push(performance.now() - s);
          }
          lat.sort((a, b) => a - b);
          rows.push(
            `(1) up-to-date poll, testbed nginx + git http-backend (no auth), isomorphic-git client: server CPU n/a, client latency p50 ${fmt(pct(lat, 50))} ms`,
          );
        } finally {
          await rm(remote, { recursive: true, force: true });
        }
      } else rows.push('(1) testbed nginx + git http-backend: not up (run test/testbed/up to add that row)');

      // ---- (3) sustained polling by 1,000 simulated devices: devices take turns polling their own
      // repository (each with its own token) over at most 64 concurrent keep-alive connections, for a
      // bounded time; latency is per request on the wire (no client-side queueing counted).
      const sustained = async (srv: Server, label: string, withAuth: boolean): Promise<void> => {
        const CONC = 64;
        const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
        const lat: number[] = [];
        let errors = 0;
        let turn = 0;
        const deadline = performance.now() + SECONDS * 1000;
        const cpu0 = srv.cpuMs();
        const one = (i: number): Promise<void> =>
          new Promise((resolve) => {
            const s = performance.now();
            const req = http.get(
              {
                host: '127.0.0.1',
                port: srv.port,
                agent,
                path: `/git/devices/${ids[i]}.git/info/refs?service=git-upload-pack`,
                headers: withAuth
                  ? { authorization: `Bearer ${deviceTokens[i]}`, 'user-agent': 'git/isomorphic-git' }
                  : { 'user-agent': 'git/isomorphic-git' },
              },
              (res) => {
                res.resume();
                res.on('end', () => {
                  if (res.statusCode === 200) lat.push(performance.now() - s);
                  else errors++;
                  resolve();
                });
              },
            );
            req.on('error', () => {
              errors++;
              resolve();
            });
          });
        const t = performance.now();
        await Promise.all(
          Array.from({ length: CONC }, async () => {
            while (performance.now() < deadline) await one(turn++ % ids.length);
          }),
        );
        const secs = (performance.now() - t) / 1000;
        const cpu = srv.cpuMs() - cpu0;
        agent.destroy();
        lat.sort((a, b) => a - b);
        const devicesPolled = Math.min(ids.length, turn);
        rows.push(
          `(3) ${devicesPolled} devices polling for ${fmt(secs, 1)} s over ${CONC} connections, ${label}: ${fmt(lat.length / secs, 0)} req/s, p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms, server CPU ${fmt(cpu / Math.max(1, lat.length))} ms/req, errors ${errors}`,
        );
      };
      await sustained(margo, 'margo embedded server (token auth)', true);
      await sustained(cgi, 'stock git http-backend (CGI, no auth)', false);
    } finally {
      margo.stop();
      cgi.stop();
    }
    // ---- (4) commit throughput of the stores (what the orchestrator does per device)
    const backends = [
      { name: 'IsoGitStore', make: (d: string) => new IsoGitStore(d) },
      { name: 'NativeGitStore (default: small in-process)', make: (d: string) => new NativeGitStore(d) },
      {
        name: 'NativeGitStore (all through git processes)',
        make: (d: string) => new NativeGitStore(d, { smallCommitThreshold: 0 }),
      },
    ];
    for (const b of backends) {
      const s = b.make(join(root, `commits-${b.name.replace(/\W+/g, '-')}.git`));
      await s.init();
      let oid: string | null = null;
      let t = performance.now();
      for (let i = 0; i < 100; i++) {
        oid = (
          await s.commitFiles({
            ref: 'main',
            expectedOid: oid,
            changes: new Map([
              [`deployments/a${i % 5}.yaml`, `v: ${i}\n`],
              ['margo-manifest.json', `{"v":${i}}`],
            ]),
            message: 'm',
            author,
          })
        ).oid;
      }
      const small = (performance.now() - t) / 100;
      const big = new Map<string, string>();
      for (let i = 0; i < 2000; i++) big.set(`devices/d${i}.yaml`, `id: d${i}\nlabels: {site: s${i % 10}}\n`);
      t = performance.now();
      oid = (await s.commitFiles({ ref: 'main', expectedOid: oid, changes: big, message: 'bulk', author }))
        .oid;
      const bigMs = performance.now() - t;
      t = performance.now();
      const n = (await s.readFiles('main')).size;
      rows.push(
        `(4) ${b.name}: small commit ${fmt(small, 1)} ms, 2000-file commit ${fmt(bigMs, 0)} ms, readFiles(${n}) ${fmt(performance.now() - t, 0)} ms`,
      );
    }
    rows.push(...(await pushSection(root)));
    rows.push(
      'note: client and servers share this machine (2 cores); figures include the load generator competing for CPU.',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(rows.join('\n'));
}

await main();
