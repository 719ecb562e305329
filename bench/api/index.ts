/**
 * bench/api: the mTLS Workload Management API of `margo serve` (its real listener, signed mode,
 * in a process of its own), beside the Git poll of bench/git in the same run.
 *   (1) one no-change poll (GET /api/v1/deployments with If-None-Match -> 304) on a kept-alive
 *       TLS 1.3 connection: server CPU ms and bytes on the wire per poll (targets: <= 1 ms, <= 1 KB);
 *       plus what the first request of a connection costs (handshake with client certificate)
 *   (2) N devices (default 1,000), each with its own X.509-SVID and its own kept-alive connection,
 *       driven from load processes of their own (bench/api/client-child.ts): first contact,
 *       no-change polling for a bounded time (polls/s, server CPU per poll, how busy the server's
 *       core was, p50/p99; target >= 2,000 polls/s on 2 cores), then every connection closed and
 *       reopened with the client's TLS session (resumption, as a device after its keep-alive timed out),
 *       then reopened again without it (full handshake with client certificate, state cached)
 *   (3) bench/git's up-to-date Git poll and its 1,000-device sustained polling, run as a child
 * Cores: with nproc >= 2 (and taskset) the server is pinned to core 0 and the load to the others,
 * so the load cannot eat the server's CPU; the output says who ran where and the load average.
 * The load speaks bare TLS with the request bytes node:https sends (cheap for the load process);
 * --https-load uses node:https Agents instead. --nice runs server and load at nice -10 (root; for
 * a machine shared with other work, and said so in the output). --prof DIR: server CPU profile.
 * Run: node --conditions=source --import tsx bench/api/index.ts [--polls 2000] [--seconds 10]
 *        [--devices 1000] [--in-flight 64] [--load-procs N] [--no-pin] [--https-load] [--nice] [--no-git]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
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
const INFLIGHT = arg('in-flight', 64);
const CLIENT = args.includes('--https-load') ? 'https' : 'raw';
const PROF = args.includes('--prof') ? args[args.indexOf('--prof') + 1] : undefined;
const TICK_MS = 1000 / 100; // /proc stat clock ticks (USER_HZ = 100 on Linux)
const here = fileURLToPath(new URL('.', import.meta.url));
const step = (msg: string) => process.stderr.write(`bench/api: ${msg}\n`);
const fmt = (n: number, d = 2): string => n.toFixed(d);
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

/**
 * Who runs where. With 2 cores or more (and taskset), the server is pinned to core 0 and the load
 * processes to the others, so the load cannot eat the server's CPU and the server has one core of
 * the "2 cores" the target allows. --no-pin lets the kernel place everything.
 */
const NCPU = availableParallelism();
/** --nice: server and load at nice -10 (root), for a machine shared with other work; said in the output. */
const NICE = args.includes('--nice');
const PIN = !args.includes('--no-pin') && NCPU >= 2 && existsSync('/usr/bin/taskset');
const LOAD_PROCS = arg('load-procs', Math.max(1, NCPU - 1));
const CORES = PIN
  ? { server: 'core 0 (pinned)', clients: `core${NCPU > 2 ? `s 1-${NCPU - 1}` : ' 1'} (pinned)` }
  : { server: `any of ${NCPU} cores`, clients: `the same ${NCPU} cores` };
function nodeCmd(
  where: 'server' | 'clients',
  script: string,
  rest: string[],
  nodeFlags: string[] = [],
): [string, string[]] {
  const node = [process.execPath, ...nodeFlags, '--conditions=source', '--import', 'tsx', script, ...rest];
  const pin = PIN ? ['/usr/bin/taskset', '-c', where === 'server' ? '0' : `1-${NCPU - 1}`] : [];
  const cmd = [...(NICE ? ['nice', '-n', '-10'] : []), ...pin, ...node];
  return [cmd[0]!, cmd.slice(1)];
}

/** A child speaking one JSON line per command. */
function lineChild(cmd: [string, string[]]): { child: ChildProcess; next(): Promise<string> } {
  const child = spawn(cmd[0], cmd[1], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const queue: ((l: string) => void)[] = [];
  lines.on('line', (l) => queue.shift()?.(l));
  // A child that dies answers every pending command with an error instead of hanging the bench.
  child.on('exit', (code) => {
    for (const r of queue.splice(0)) r(JSON.stringify({ error: `exited with ${code}` }));
  });
  return { child, next: () => new Promise((r) => queue.push(r)) };
}

/** utime + stime of every thread of a process (TLS, GC and libuv's pool included). */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

interface Server {
  child: ChildProcess;
  port: number;
  cpuMs(): number;
  bytes(): Promise<number>;
}

async function startServer(dataDir: string): Promise<Server> {
  const prof = PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF] : [];
  const { child, next } = lineChild(nodeCmd('server', join(here, 'server-child.ts'), [dataDir], prof));
  const { port } = JSON.parse(await next()) as { port: number };
  return {
    child,
    port,
    cpuMs: () => procCpuMs(child.pid!),
    bytes: async () => {
      const p = next();
      child.stdin!.write('bytes\n');
      return (JSON.parse(await p) as { bytes: number }).bytes;
    },
  };
}

type Reply = Record<string, unknown>;
interface Load {
  procs: number;
  cores: typeof CORES;
  all(cmd: string): Promise<Reply[]>;
  steady(srv: Server): Promise<{
    rate: number;
    secs: number;
    cpuPerPoll: number;
    busy: number;
    loadCpuPerPoll: number;
    loadBusy: number;
    p50: number;
    p99: number;
    errors: number;
  }>;
  stop(): Promise<void>;
}

/** The devices split over load processes (bench/api/client-child.ts), each given its slice. */
async function startLoad(
  root: string,
  port: number,
  ca: string,
  key: string,
  svids: string[],
): Promise<Load> {
  const per = Math.ceil(svids.length / LOAD_PROCS);
  const kids = Array.from({ length: LOAD_PROCS }, (_, i) => {
    const cfg = join(root, `load-${i}.json`);
    const slice = svids.slice(i * per, (i + 1) * per);
    writeFileSync(
      cfg,
      JSON.stringify({
        port,
        ca,
        key,
        svids: slice,
        inFlight: Math.ceil(INFLIGHT / LOAD_PROCS),
        client: CLIENT,
      }),
    );
    return lineChild(nodeCmd('clients', join(here, 'client-child.ts'), [cfg]));
  });
  const all = async (cmd: string): Promise<Reply[]> => {
    const replies = await Promise.all(
      kids.map((k) => {
        const p = k.next();
        k.child.stdin!.write(cmd + '\n');
        return p;
      }),
    );
    return replies.map((l) => {
      const r = JSON.parse(l) as Reply;
      if (r.error) throw new Error(`load process: ${r.error as string}`);
      return r;
    });
  };
  return {
    procs: LOAD_PROCS,
    cores: CORES,
    all,
    steady: async (srv) => {
      // Every load process starts and stops on the same clock; the server's CPU is read at both.
      const startAt = Date.now() + 200;
      const deadline = startAt + SECONDS * 1000;
      const replies = all(`poll ${startAt} ${deadline}`);
      await sleep(startAt - Date.now());
      const loadCpu = () => kids.reduce((n, k) => n + procCpuMs(k.child.pid!), 0);
      const [cpu0, lcpu0] = [srv.cpuMs(), loadCpu()];
      const t0 = performance.now();
      await sleep(deadline - Date.now());
      const [cpu, lcpu] = [srv.cpuMs() - cpu0, loadCpu() - lcpu0];
      const secs = (performance.now() - t0) / 1000;
      const rs = await replies;
      const ok = rs.reduce((n, r) => n + (r.ok as number), 0);
      const lat = rs.flatMap((r) => r.lat as number[]).sort((a, b) => a - b);
      return {
        rate: ok / secs,
        secs,
        cpuPerPoll: cpu / Math.max(1, ok),
        busy: cpu / (secs * 1000),
        loadCpuPerPoll: lcpu / Math.max(1, ok),
        loadBusy: lcpu / (secs * 1000),
        p50: pct(lat, 50),
        p99: pct(lat, 99),
        errors: rs.reduce((n, r) => n + (r.errors as number), 0),
      };
    },
    stop: async () => {
      for (const k of kids) k.child.stdin!.end('exit\n');
      await Promise.all(kids.map((k) => new Promise((r) => k.child.once('exit', r))));
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
  const load0 = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
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
      const files = new Map<string, Buffer>([
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
    step('(1) one device');
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

    // ---- (2) N devices, own SVID and connection each, in load processes of their own
    step(`(2) ${DEVICES} devices: first contact`);
    const load = await startLoad(root, srv.port, ca, key, svids);
    const cpuA = srv.cpuMs();
    const connect = await load.all('start');
    const connectCpu = (srv.cpuMs() - cpuA) / DEVICES;
    step(`(2) ${DEVICES} devices: polling for ${SECONDS} s`);
    const steady = await load.steady(srv);
    step(`(2) ${DEVICES} devices: reconnect`);
    const cpuR = srv.cpuMs();
    const re = await load.all('reconnect');
    const reCpu = (srv.cpuMs() - cpuR) / DEVICES;
    const resumed = re.reduce((n, r) => n + (r.resumed as number), 0);
    const cpuF = srv.cpuMs();
    const fresh = await load.all('reconnect-fresh');
    const freshCpu = (srv.cpuMs() - cpuF) / DEVICES;
    const freshResumed = fresh.reduce((n, r) => n + (r.resumed as number), 0);
    const c = load.cores;
    rows.push(
      `(2) ${DEVICES} devices, own SVID + kept-alive connection each, ${INFLIGHT} in flight from ${load.procs} load process(es) (${CLIENT === 'raw' ? 'bare TLS sockets' : 'node:https'}) on ${c.clients}; server on ${c.server}${NICE ? '; both at nice -10' : ''}`,
      `    first contact of all: ${fmt(Math.max(...connect.map((r) => r.ms as number)) / 1000)} s, ${fmt(connectCpu)} ms server CPU each (handshake + manifest built + 200)`,
      `    no-change polls: ${fmt(steady.rate, 0)} polls/s (target >= 2000 on 2 cores) for ${fmt(steady.secs, 1)} s, server CPU ${fmt(steady.cpuPerPoll, 3)} ms/poll (server core busy ${fmt(steady.busy * 100, 0)}%: one core would carry ${fmt(1000 / steady.cpuPerPoll, 0)} polls/s; load ${fmt(steady.loadCpuPerPoll, 3)} ms/poll, ${fmt(steady.loadBusy * 100, 0)}% of a core), p50 ${fmt(steady.p50)} ms, p99 ${fmt(steady.p99)} ms, errors ${steady.errors}`,
      `    reconnect of all (connection closed, client kept its TLS session): ${fmt(reCpu)} ms server CPU each, ${resumed}/${DEVICES} sessions resumed; with the sessions forgotten (full handshake, state cached): ${fmt(freshCpu)} ms each, ${freshResumed} resumed`,
    );
    await load.stop();
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
  console.log(
    `bench/api (nproc ${NCPU}, node ${process.version}, load average before ${load0} / after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  for (const r of rows) console.log(r);
}

await main();
