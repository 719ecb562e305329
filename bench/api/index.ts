/**
 * bench/api: the mTLS Workload Management API of `margo serve` (its real listener, signed mode,
 * in a process of its own), beside the Git poll of bench/git in the same run.
 *   (1) one no-change poll (GET /api/v1/deployments with If-None-Match -> 304) on a kept-alive
 *       TLS 1.3 connection: server CPU ms and bytes on the wire per poll (targets: <= 1 ms, <= 1 KB);
 *       plus what the first request of a connection costs (handshake with client certificate)
 *   (2) N devices (default 1,000), each with its own X.509-SVID and its own kept-alive connection,
 *       polling for a bounded time: polls/s, server CPU per poll, p50/p99 (target >= 2,000/s on 2 cores)
 *   (3) bench/git's up-to-date Git poll and its 1,000-device sustained polling, run as a child
 * Run: node --conditions=source --import tsx bench/api/index.ts [--polls 2000] [--seconds 10] [--devices 1000] [--no-git]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRepos, ensureDeviceRepos } from '@margo-gitops/git';
import {
  clientSpiffeId,
  createCsrForKey,
  createDeviceKeyAndCsr,
  createSignedManifest,
  initPki,
  readSpiffeIdentity,
  signDeviceCsr,
} from '@margo-gitops/trust';
import { buildTree, updateRef, writeCommit } from '../../packages/orchestrator/src/io/git-objects.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const POLLS = arg('polls', 2000);
const SECONDS = arg('seconds', 10);
const DEVICES = arg('devices', 1000);
const TICK_MS = 1000 / 100; // /proc stat clock ticks (USER_HZ = 100 on Linux)
const here = fileURLToPath(new URL('.', import.meta.url));
const fmt = (n: number, d = 2): string => n.toFixed(d);
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

interface Server {
  child: ChildProcess;
  port: number;
  cpuMs(): number;
  bytes(): Promise<number>;
}

async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(here, 'server-child.ts'), dataDir],
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
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * TICK_MS;
    },
    bytes: async () => {
      const p = next();
      child.stdin!.write('bytes\n');
      return (JSON.parse(await p) as { bytes: number }).bytes;
    },
  };
}

interface Client {
  agent: Agent;
  etag?: string;
}

function poll(port: number, ca: string, c: Client): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/deployments',
        ca,
        agent: c.agent,
        headers: c.etag ? { 'if-none-match': c.etag } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.headers.etag) c.etag = res.headers.etag;
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'margo-bench-api-'));
  const rows: string[] = [];
  let srv: Server | undefined;
  try {
    // A data folder as `margo serve` has it: PKI, device repositories whose main holds one signed
    // deployment each (written with the orchestrator's own object writer).
    const pki = await initPki(join(root, 'pki'), { commonName: 'bench root CA' });
    const id = await readSpiffeIdentity(pki.dir, pki.ca.certPem);
    const repos = join(root, 'repos');
    await createRepos(repos);
    const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    await ensureDeviceRepos(repos, ids);
    const when = { name: 'bench', email: 'bench@margo.invalid', timestamp: Date.now() / 1000 };
    for (const d of ids) {
      const files = new Map([
        ['deployments/app.yaml', Buffer.from(`id: ${d}-app\nmetadata:\n  name: app\n  deviceId: ${d}\n`)],
      ]);
      files.set(
        'margo-manifest.json',
        createSignedManifest(
          { deviceId: d, files, version: 1, expiresAt: new Date(Date.now() + 86400e3) },
          pki.signing,
        ),
      );
      const gitdir = join(repos, 'devices', `${d}.git`);
      const tree = (await buildTree(gitdir, files))!;
      const commit = await writeCommit(gitdir, {
        tree,
        parents: [],
        author: when,
        committer: when,
        message: 'desired state',
      });
      await updateRef(gitdir, 'main', null, commit);
    }
    // One device key, a certificate (SVID) per device: key generation is not what is measured.
    const key = createDeviceKeyAndCsr(ids[0]!, { bits: 2048 }).keyPem;
    const svids = ids.map((d) =>
      signDeviceCsr(pki.ca, createCsrForKey(d, key), {
        expectedDeviceId: d,
        spiffeId: clientSpiffeId(id, d),
      }),
    );
    srv = await startServer(root);
    const ca = pki.ca.certPem;
    const client = (i: number): Client => ({
      agent: new Agent({ keepAlive: true, maxSockets: 1, cert: svids[i]!, key, ca }),
    });

    // ---- (1) one device, no change, kept-alive connection
    const c0 = client(0);
    let b0 = await srv.bytes();
    const first = await poll(srv.port, ca, c0);
    const firstBytes = (await srv.bytes()) - b0;
    if (first !== 200) throw new Error(`first poll answered ${first}`);
    for (let i = 0; i < 200; i++) await poll(srv.port, ca, c0); // warm up
    const cpu0 = srv.cpuMs();
    b0 = await srv.bytes();
    const lat: number[] = [];
    for (let i = 0; i < POLLS; i++) {
      const s = performance.now();
      const st = await poll(srv.port, ca, c0);
      lat.push(performance.now() - s);
      if (st !== 304) throw new Error(`no-change poll answered ${st}`);
    }
    const cpu = (srv.cpuMs() - cpu0) / POLLS;
    const bytes = ((await srv.bytes()) - b0) / POLLS;
    lat.sort((a, b) => a - b);
    rows.push(
      `(1) API no-change poll (304, mTLS TLS 1.3, keep-alive): server CPU ${fmt(cpu, 3)} ms/poll (target <= 1 ms), wire ${fmt(bytes, 0)} B/poll (target <= 1024 B), client latency p50 ${fmt(pct(lat, 50))} ms; first request of a connection (handshake + 200 manifest): ${firstBytes} B`,
    );
    c0.agent.destroy();

    // ---- (2) N devices, own SVID and connection each, polling for a bounded time
    const CONC = 64;
    const clients = ids.map((_, i) => client(i));
    let t0 = performance.now();
    let cpuA = srv.cpuMs();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (next < clients.length) await poll(srv!.port, ca, clients[next++]!);
      }),
    );
    const connectS = (performance.now() - t0) / 1000;
    const connectCpu = (srv.cpuMs() - cpuA) / DEVICES;
    const sLat: number[] = [];
    let errors = 0;
    let turn = 0;
    cpuA = srv.cpuMs();
    t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (performance.now() < deadline) {
          const c = clients[turn++ % clients.length]!;
          const s = performance.now();
          const st = await poll(srv!.port, ca, c).catch(() => 0);
          if (st === 304) sLat.push(performance.now() - s);
          else errors++;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const sCpu = (srv.cpuMs() - cpuA) / Math.max(1, sLat.length);
    sLat.sort((a, b) => a - b);
    rows.push(
      `(2) ${DEVICES} devices, own SVID + kept-alive connection each, ${CONC} in flight: first contact of all ${fmt(connectS)} s (${fmt(connectCpu)} ms server CPU each, handshake + 200); then ${fmt(sLat.length / secs, 0)} polls/s (target >= 2000 on 2 cores) for ${fmt(secs, 1)} s, server CPU ${fmt(sCpu, 3)} ms/poll, p50 ${fmt(pct(sLat, 50))} ms, p99 ${fmt(pct(sLat, 99))} ms, errors ${errors}`,
    );
    for (const c of clients) c.agent.destroy();
  } finally {
    srv?.child.kill();
    await rm(root, { recursive: true, force: true });
  }
  // ---- (3) the Git poll, same run
  if (!args.includes('--no-git')) {
    const git = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        join(here, '../git/index.ts'),
        '--polls',
        '300',
        '--seconds',
        String(SECONDS),
        '--devices',
        String(DEVICES),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    git.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => git.on('close', r));
    for (const l of out.split('\n'))
      if (/^\(1\) up-to-date poll, margo embedded server, isomorphic-git|^\(3\)/.test(l.trim()))
        rows.push(`(3) bench/git ${l.trim()}`);
  }
  console.log(`bench/api (${cpus().length} cores, node ${process.version})`);
  for (const r of rows) console.log(r);
}

await main();
