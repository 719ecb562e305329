/**
 * bench/rollout: one intent change rolled out to N simulated devices (default 10,000) in W waves
 * (default 10, by label) with `maxConcurrent` C (default N/20: 500 for 10,000), the devices
 * reporting through the real embedded Git server, the real orchestrator deciding.
 *
 *   node --conditions=source --import tsx bench/rollout/index.ts [--devices N] [--waves W]
 *     [--max-concurrent C] [--poll-seconds P] [--apply-ms A] [--fleet-cap K] [--skip-floor]
 *     [--idle-seconds S] [--timeout-seconds T] [--reconcile-seconds R] [--sockets K]
 *     [--transport http|disk] [--keep]
 * The full 10,000-device run through the Git server is the default: run it under `nice -n 10` on a
 * shared machine; each phase may take up to --timeout-seconds (default max(1200, 0.72 N)).
 *
 * Processes: this one (setup, the device simulator, measurement), the Git server
 * (server-child.ts: createGitHttpHandler with token auth and fleet push validation) and the
 * orchestrator (orchestrator-child.ts: the Orchestrator, fed the server's push and device-seen
 * events through this process), each measured on its own.
 * The simulator (simulator.ts) plays every device: polls info/refs every P s, fetches a new `main`
 * (upload-pack), waits A ms when a workload changed, pushes a status commit (receive-pack).
 *
 * Phases: setup (not measured: repositories, tokens, catalog, fleet, a first fan-out and every
 * device's status written directly); idle polling (baseline CPU); the floor: the same devices take
 * an intent change with no rollout (intent push -> every device reported it); the rollout: the
 * next version with `rollout:` (intent push -> rollout `done`). Prints the times, the commits
 * made, CPU and peak RSS, and the largest number of devices changing at once, from what the
 * devices saw: from the instant the device's `main` ref moved to the commit it then found carrying
 * the new revision (inotify on the ref) until its status push saying `installed` was accepted.
 * Exits 1 when that exceeds C (or the fleet cap), or when the rollout does not finish.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRepos, ensureDeviceRepos } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import {
  parseTree,
  readCommit,
  readObject,
  readRef,
  readTreeFiles,
  updateRef,
  writeObject,
} from '../../packages/orchestrator/src/io/git-objects.js';
import { runBounded } from '../../packages/orchestrator/src/io/pool.js';
import { commitObjects } from './git-wire.js';
import {
  capsOf,
  deploymentsOf,
  httpTransport,
  Simulator,
  statusFiles,
  type DeviceTransport,
  type SimDevice,
} from './simulator.js';

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const N = num('devices', 10_000);
const WAVES = num('waves', 10);
const CAP = num('max-concurrent', Math.max(1, Math.round(N / 20)));
const POLL_S = num('poll-seconds', 10);
const APPLY_MS = num('apply-ms', 2000);
const FLEET_CAP = num('fleet-cap', 0);
const IDLE_S = num('idle-seconds', 10);
const TRANSPORT_ARG = argv.includes('--transport') ? argv[argv.indexOf('--transport') + 1] : 'http';
/**
 * Per phase. Through the Git server every device update costs the server about 0.2-0.3 s of CPU
 * on a 2-core machine (bench/git (5)), so the default grows with N: 10,000 devices get 2 h.
 */
const TIMEOUT_S = num(
  'timeout-seconds',
  TRANSPORT_ARG === 'http' ? Math.max(1200, Math.ceil(N * 0.72)) : 1200,
);
const RECONCILE_S = num('reconcile-seconds', 60);
/** Kept-alive connections of the simulated devices to the Git server (requests in flight at most). */
const SOCKETS = num('sockets', 32);
const keep = argv.includes('--keep');
const skipFloor = argv.includes('--skip-floor');
const TRANSPORT = TRANSPORT_ARG;
if (TRANSPORT !== 'http' && TRANSPORT !== 'disk') throw new Error('--transport http|disk');
const TICK_MS = 10; // /proc clock ticks (USER_HZ 100)
const here = fileURLToPath(new URL('.', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'margo-bench-rollout-'));
const dataDir = join(root, 'data');
const reposRoot = join(dataDir, 'repos');
const ids = Array.from({ length: N }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
const ringOf = (i: number) => `r${Math.floor((i * WAVES) / N)}`;
const devDir = (id: string) => join(reposRoot, 'devices', `${id}.git`);

const PACKAGE = (v: string) => `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: hello
  name: Hello
  version: ${v}
  catalog: {organization: [{name: Acme}]}
deploymentProfiles:
  - type: compose
    id: hello-compose
    components:
      - name: hello
        properties: {repository: "oci://127.0.0.1:5000/hello/hello", revision: "${v}"}
`;
const intent = (version: string, rollout: boolean) =>
  `kind: Deployment\nname: web\napplication: {id: hello, version: ${version}}\n` +
  `targets:\n  selector: {matchLabels: {fleet: bench}}\n` +
  (rollout
    ? `rollout:\n  maxConcurrent: ${CAP}\n  waves:\n` +
      Array.from(
        { length: WAVES },
        (_, w) => `    - {name: ring-${w}, selector: {matchLabels: {ring: r${w}}}}\n`,
      ).join('')
    : '');

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}
const GIT_ID = ['-c', 'user.name=Olivia Operator', '-c', 'user.email=olivia@example.com'];

/** Commits `files` in work tree `wt` on top of `repo`'s main and pushes it to `url` (or the path). */
function commitAndPush(wt: string, repo: string, files: Record<string, string>, msg: string, url?: string) {
  try {
    sh(wt, 'fetch', '-q', repo, 'main');
    sh(wt, 'reset', '-q', '--hard', 'FETCH_HEAD');
  } catch {
    /* an empty repository */
  }
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(wt, p, '..'), { recursive: true });
    writeFileSync(join(wt, p), c);
  }
  sh(wt, 'add', '-A');
  sh(wt, ...GIT_ID, 'commit', '-q', '-m', msg);
  sh(wt, 'push', '-q', url ?? repo, 'HEAD:refs/heads/main');
  return sh(wt, 'rev-parse', 'HEAD');
}

function writeTokens(file: string): { admin: string; devices: string[] } {
  const at = new Date().toISOString();
  const records: object[] = [];
  const issue = (role: string, name: string, deviceId?: string): string => {
    const id = randomBytes(8).toString('hex');
    const token = `mgt_${id}_${randomBytes(32).toString('base64url')}`;
    const hash = createHash('sha256').update(token).digest('hex');
    records.push({ id, name, role, ...(deviceId ? { deviceId } : {}), hash, createdAt: at });
    return token;
  };
  const admin = issue('admin', 'bench admin');
  const devices = ids.map((id) => issue('device', `device ${id}`, id));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify({ version: 1, tokens: records }) + '\n', { mode: 0o600 });
  return { admin, devices };
}

/** Writes a status commit on a device repository directly (setup only). */
async function writeStatus(id: string, files: Map<string, Buffer>, parent: string | null): Promise<string> {
  const c = commitObjects(files, parent, id, Math.floor(Date.now() / 1000), 'status\n');
  for (const o of c.objects) await writeObject(devDir(id), o.type, o.content);
  await updateRef(devDir(id), 'status', parent, c.oid);
  return c.oid;
}

// ---- child processes -------------------------------------------------------------------------

interface Child {
  proc: ChildProcess;
  /** Self CPU (process.cpuUsage) and peak RSS, asked over IPC. */
  usage(): Promise<{ cpuMs: number; maxRssMb: number; extra: Record<string, unknown> }>;
  /** CPU of the git processes it waited for (/proc cutime + cstime), ms. */
  childCpuMs(): number;
}

function forkChild(file: string, args: string[], onMessage: (m: Record<string, unknown>) => void): Child {
  const proc = fork(join(here, file), args, {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  proc.on('message', (m: Record<string, unknown>) => {
    if (m.cpu) waiting.shift()?.(m);
    else onMessage(m);
  });
  return {
    proc,
    usage: () =>
      new Promise((resolve) => {
        waiting.push((m) => {
          const c = m.cpu as { user: number; system: number };
          const { cpu: _c, maxRssKb, ...extra } = m;
          resolve({ cpuMs: (c.user + c.system) / 1000, maxRssMb: Number(maxRssKb) / 1024, extra });
        });
        proc.send({ cpu: true });
      }),
    childCpuMs: () => {
      const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[13]) + Number(f[14])) * TICK_MS;
    },
  };
}

/**
 * `--transport disk`: the devices read and write their repositories on disk and the orchestrator
 * gets the same push and device-seen events the Git server would send. No Git server work at all:
 * for measuring the orchestrator at a scale the Git status path cannot reach on this machine.
 */
function diskTransport(orch: Child): DeviceTransport {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    if (!seen.size) return;
    orch.proc.send({ seen: [...seen] });
    seen.clear();
  }, 500);
  return {
    label:
      'the repositories on disk (--transport disk: the Git server is bypassed; push events sent as it would)',
    refs: async (d) => {
      seen.add(d.id);
      const out = new Map<string, string>();
      for (const ref of ['main', 'status']) {
        const oid = await readRef(devDir(d.id), ref);
        if (oid) out.set(`refs/heads/${ref}`, oid);
      }
      return out;
    },
    fetchTip: async (d, oid) => readTreeFiles(devDir(d.id), (await readCommit(devDir(d.id), oid)).tree),
    push: async (d, old, c) => {
      for (const o of c.objects) await writeObject(devDir(d.id), o.type, o.content);
      await updateRef(devDir(d.id), 'status', old, c.oid);
      orch.proc.send({ push: { repo: `devices/${d.id}.git`, ref: 'refs/heads/status', deviceId: d.id } });
    },
    close: () => clearInterval(timer),
  };
}

// ---- measurement helpers ----------------------------------------------------------------------

/**
 * When `main` and `status` of each device repository moved, by oid: on each inotify event the ref
 * file is read and its mtime kept (written by the kernel when the lock file was written, just
 * before the rename that moves the ref), so the harness's own event-loop delays do not shift it.
 */
class RefWatch {
  readonly times = new Map<string, { main: Map<string, number>; status: Map<string, number> }>();
  private readonly watchers: FSWatcher[] = [];
  start(): void {
    for (const id of ids) {
      const seen = { main: new Map<string, number>(), status: new Map<string, number>() };
      this.times.set(id, seen);
      const dir = join(devDir(id), 'refs', 'heads');
      this.watchers.push(
        watch(dir, (_ev, name) => {
          if (name !== 'main' && name !== 'status') return;
          try {
            const file = join(dir, name);
            const oid = readFileSync(file, 'utf8').trim();
            if (!seen[name].has(oid)) seen[name].set(oid, statSync(file).mtimeMs);
          } catch {
            /* moved again meanwhile: the next event has it */
          }
        }),
      );
    }
  }
  stop(): void {
    for (const w of this.watchers) w.close();
  }
}

/** Largest number of intervals open at once ([start, end), end Infinity = never closed). */
function maxOverlap(intervals: { start: number; end: number }[]): { max: number; at: number } {
  const ev: [number, number][] = [];
  for (const i of intervals) ev.push([i.start, 1], [i.end, -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // a close before an open at the same ms
  let cur = 0;
  let max = 0;
  let at = 0;
  for (const [t, d] of ev) {
    cur += d;
    if (cur > max) [max, at] = [cur, t];
  }
  return { max, at };
}

async function rolloutState(): Promise<Record<string, unknown> | undefined> {
  const fleet = join(reposRoot, 'fleet.git');
  const head = await readRef(fleet, 'main');
  if (!head) return undefined;
  let tree = (await readCommit(fleet, head)).tree;
  for (const name of ['rollouts', 'web.json']) {
    const t = await readObject(fleet, tree);
    const e = t && parseTree(t.content).find((x) => x.name === name);
    if (!e) return undefined;
    tree = e.oid;
  }
  const blob = await readObject(fleet, tree);
  return blob ? (JSON.parse(blob.content.toString('utf8')) as Record<string, unknown>) : undefined;
}

/** Commits on the first-parent line of `ref` after `since` (exclusive), with their subjects. */
async function commitsSince(gitdir: string, since: string | null): Promise<string[]> {
  const out: string[] = [];
  let oid = await readRef(gitdir, 'main');
  while (oid && oid !== since && out.length < 100_000) {
    const c = await readCommit(gitdir, oid);
    out.push(c.message.split('\n')[0] ?? '');
    oid = c.parents[0] ?? null;
  }
  return out;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pad = (label: string) => `  ${label.padEnd(46)}`;

// ---- the run ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(
    `bench/rollout: ${N} devices, ${WAVES} waves, maxConcurrent ${CAP}${FLEET_CAP ? `, fleet cap ${FLEET_CAP}` : ''}, ` +
      `poll ${POLL_S} s, apply ${APPLY_MS} ms, node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  console.log(`  ${root}`);
  const t0 = performance.now();
  await createRepos(reposRoot);
  await ensureDeviceRepos(reposRoot, ids);
  const tokens = writeTokens(join(dataDir, 'auth', 'tokens.json'));
  const caps = new Map(ids.map((id) => [id, capsOf(id)]));
  const capsStatus = new Map<string, string>();
  await runBounded(ids, 16, async (id) => {
    capsStatus.set(id, await writeStatus(id, new Map([['capabilities.json', caps.get(id)!]]), null));
  });
  const cat = mkdtempSync(join(root, 'cat-'));
  sh(cat, 'init', '-q', '-b', 'main');
  const catalogRepo = join(reposRoot, 'catalog.git');
  commitAndPush(
    cat,
    catalogRepo,
    Object.fromEntries(['1.0.0', '1.1.0', '1.2.0'].map((v) => [`hello/${v}/margo.yaml`, PACKAGE(v)])),
    'hello 1.0.0, 1.1.0, 1.2.0',
  );
  const wt = mkdtempSync(join(root, 'fleet-'));
  sh(wt, 'init', '-q', '-b', 'main');
  const fleetRepo = join(reposRoot, 'fleet.git');
  const devices: Record<string, string> = {};
  ids.forEach((id, i) => {
    devices[`devices/${id}.yaml`] =
      `kind: Device\nid: ${id}\nrole: standalone-device\nlabels: {fleet: bench, ring: ${ringOf(i)}}\n`;
  });
  commitAndPush(wt, fleetRepo, { ...devices, 'deployments/web.yaml': intent('1.0.0', false) }, 'fleet');
  // The first fan-out, and every device reporting it installed (written directly).
  const setupOrch = new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
  });
  const first = await setupOrch.reconcileNow('bench setup');
  if (first.committed !== N)
    throw new Error(
      `setup fan-out: ${JSON.stringify(first).slice(0, 400)} ${JSON.stringify(setupOrch.deviceOutcomes(ids[0]!)).slice(0, 600)}`,
    );
  await setupOrch.stop();
  const tokenOf = new Map(ids.map((id, i) => [id, tokens.devices[i]!]));
  const sim: SimDevice[] = [];
  await runBounded(ids, 16, async (id) => {
    const main = (await readRef(devDir(id), 'main'))!;
    const deployments = deploymentsOf(
      await readTreeFiles(devDir(id), (await readCommit(devDir(id), main)).tree),
    );
    const status = await writeStatus(
      id,
      statusFiles(id, caps.get(id)!, main, deployments, 1n),
      capsStatus.get(id)!,
    );
    sim.push({ id, token: tokenOf.get(id)!, caps: caps.get(id)!, main, status, seq: 1n, deployments });
  });
  console.log(`  setup ${s(performance.now() - t0)} (not measured)`);

  // ---- processes
  let port = 0;
  let orch: Child | undefined;
  const server = forkChild('server-child.ts', [reposRoot, join(dataDir, 'auth', 'tokens.json')], (m) => {
    if (m.push || m.seen) orch?.proc.send(m);
  });
  port = await new Promise<number>((resolve) =>
    createInterface({ input: server.proc.stdout! }).once('line', (l) =>
      resolve((JSON.parse(l) as { port: number }).port),
    ),
  );
  const started = new Promise<Record<string, unknown>>((resolve) => {
    orch = forkChild(
      'orchestrator-child.ts',
      [dataDir, reposRoot, String(RECONCILE_S * 1000), ...(FLEET_CAP ? [String(FLEET_CAP)] : [])],
      (m) => {
        if (m.started) resolve(m.started as Record<string, unknown>);
      },
    );
    orch.proc.stdout!.resume();
  });
  const st = await started;
  console.log(`  orchestrator started: first pass ${s(Number(st.ms))}, ${String(st.committed)} commits`);
  const fleetUrl = `http://x:${tokens.admin}@127.0.0.1:${port}/git/fleet.git`;
  const watchRefs = new RefWatch();
  watchRefs.start();
  const transport = TRANSPORT === 'disk' ? diskTransport(orch!) : httpTransport('127.0.0.1', port, SOCKETS);
  const simulator = new Simulator(sim, transport, { pollMs: POLL_S * 1000, applyMs: APPLY_MS });
  console.log(`  devices reach their repositories through ${transport.label}`);
  const simCpu0 = process.cpuUsage();
  simulator.start();
  const failures: string[] = [];
  try {
    // ---- idle baseline
    await sleep(POLL_S * 1000); // every device polled once
    const idle0 = { o: await orch!.usage(), s: await server.usage(), sc: server.childCpuMs(), t: Date.now() };
    await sleep(IDLE_S * 1000);
    const idle1 = { o: await orch!.usage(), s: await server.usage(), sc: server.childCpuMs(), t: Date.now() };
    const idleSec = (idle1.t - idle0.t) / 1000;
    const idleOrch = (idle1.o.cpuMs - idle0.o.cpuMs) / idleSec;
    const idleServer = (idle1.s.cpuMs - idle0.s.cpuMs + idle1.sc - idle0.sc) / idleSec;
    console.log(
      `\nidle, ${N} devices polling every ${POLL_S} s (${Math.round(N / POLL_S)} polls/s): ` +
        `orchestrator ${idleOrch.toFixed(0)} ms CPU/s, Git server ${idleServer.toFixed(0)} ms CPU/s`,
    );

    const phase = async (label: string, version: string, rollout: boolean) => {
      const before = new Map<string, string | null>();
      await runBounded(ids, 32, async (id) => before.set(id, await readRef(devDir(id), 'main')));
      const fleetBefore = await readRef(fleetRepo, 'main');
      const u0 = {
        o: await orch!.usage(),
        s: await server.usage(),
        sc: server.childCpuMs(),
        oc: orch!.childCpuMs(),
      };
      const obs0 = new Map(ids.map((id) => [id, simulator.observations.get(id)!.length]));
      const rep0 = new Map(ids.map((id) => [id, simulator.reports.get(id)!.length]));
      const st0 = { ...simulator.stats };
      const tIntent = Date.now();
      const intentCommit = commitAndPush(
        wt,
        fleetRepo,
        { 'deployments/web.yaml': intent(version, rollout) },
        `web ${version}${rollout ? ' in a rollout' : ''}`,
        fleetUrl,
      );
      const pushMs = Date.now() - tIntent;
      // done: every device reported a main whose web runs `version`, and (rollout) the state says done
      const reportedAt = (id: string): number | undefined => {
        const obs = simulator.observations.get(id)!.slice(obs0.get(id)!);
        const o = obs.find((x) => x.deployments.get('web')?.version === version);
        if (!o) return undefined;
        return simulator.reports
          .get(id)!
          .slice(rep0.get(id)!)
          .find((r) => r.commit === o.oid)?.at;
      };
      let state: Record<string, unknown> | undefined;
      let lastProgress = 0;
      const deadline = Date.now() + TIMEOUT_S * 1000;
      for (;;) {
        await sleep(500);
        const done = ids.filter((id) => reportedAt(id) !== undefined).length;
        if (rollout) state = await rolloutState().catch(() => state);
        const finished = done === N && (!rollout || state?.phase === 'done');
        if (Date.now() - lastProgress > 15_000 || finished) {
          lastProgress = Date.now();
          console.log(
            `  ${label}: ${s(Date.now() - tIntent)}: ${done}/${N} devices reported ${version}` +
              (rollout
                ? `, rollout ${String(state?.phase ?? 'no state yet')} wave ${String(state?.current ?? '-')}`
                : '') +
              `, sim ${simulator.stats.polls} polls ${simulator.stats.pushes} pushes ${simulator.stats.errors} errors`,
          );
        }
        if (finished) break;
        if (Date.now() > deadline) {
          failures.push(`${label}: not finished after ${TIMEOUT_S} s (${done}/${N} reported)`);
          break;
        }
      }
      const tEnd = Date.now();
      await sleep(1000); // let the last pass settle before reading CPU
      const u1 = {
        o: await orch!.usage(),
        s: await server.usage(),
        sc: server.childCpuMs(),
        oc: orch!.childCpuMs(),
      };
      const sim = {
        polls: simulator.stats.polls - st0.polls,
        fetches: simulator.stats.fetches - st0.fetches,
        pushes: simulator.stats.pushes - st0.pushes,
        errors: simulator.stats.errors - st0.errors,
      };
      const lastReport = Math.max(...ids.map((id) => reportedAt(id) ?? -Infinity));
      // commits
      const fleetCommits = await commitsSince(fleetRepo, intentCommit);
      let deviceCommits = 0;
      await runBounded(ids, 32, async (id) => {
        const n = (await commitsSince(devDir(id), before.get(id) ?? null)).length;
        deviceCommits += n;
      });
      const statusCommits = ids.reduce((n, id) => n + simulator.reports.get(id)!.length - rep0.get(id)!, 0);
      // changing intervals, from what the devices saw
      const to = rollout ? (state?.to as string | undefined) : undefined;
      const intervals: { start: number; end: number }[] = [];
      const seenIntervals: { start: number; end: number }[] = [];
      let fallbacks = 0;
      let waitSum = 0;
      let waitMax = 0;
      for (const id of ids) {
        const obs = simulator.observations.get(id)!.slice(obs0.get(id)!);
        const o = obs.find((x) =>
          rollout
            ? to !== undefined && x.deployments.get('web')?.revision === to
            : x.deployments.get('web')?.version === version,
        );
        if (!o) continue;
        const refs = watchRefs.times.get(id)!;
        let start = refs.main.get(o.oid);
        if (start === undefined || start < tIntent) {
          fallbacks++;
          start = o.prevPollAt;
        }
        const rep = simulator.reports
          .get(id)!
          .slice(rep0.get(id)!)
          .find((r) => r.commit === o.oid);
        let end = rep ? refs.status.get(rep.statusOid) : Infinity;
        if (end === undefined) {
          fallbacks++;
          end = rep!.at;
        }
        intervals.push({ start, end });
        seenIntervals.push({ start: o.seenAt, end });
        waitSum += o.seenAt - start;
        waitMax = Math.max(waitMax, o.seenAt - start);
      }
      const peak = maxOverlap(intervals);
      const peakSeen = maxOverlap(seenIntervals);
      const orchCpu = u1.o.cpuMs - u0.o.cpuMs + (u1.oc - u0.oc);
      const serverCpu = u1.s.cpuMs - u0.s.cpuMs + (u1.sc - u0.sc);
      const secs = (tEnd - tIntent) / 1000;
      console.log(`\n${label}`);
      console.log(`${pad('intent push (git push through the server)')}${s(pushMs)}`);
      return {
        tIntent,
        tEnd,
        lastReport,
        state,
        peak,
        peakSeen,
        fallbacks,
        changed: intervals.length,
        waitMean: intervals.length ? waitSum / intervals.length : 0,
        waitMax,
        fleetCommits,
        deviceCommits,
        statusCommits,
        orchCpu,
        orchCpuNet: orchCpu - idleOrch * secs,
        serverCpu,
        serverCpuNet: serverCpu - idleServer * secs,
        orchRss: u1.o.maxRssMb,
        sim,
        orchExtra: u1.o.extra,
      };
    };

    const report = (r: Awaited<ReturnType<typeof phase>>, rounds: number) => {
      const total = r.lastReport - r.tIntent;
      console.log(`${pad('intent -> last device reported installed')}${s(total)}`);
      if (r.state?.finishedAt)
        console.log(
          `${pad('intent -> rollout done (state finishedAt)')}${s(Date.parse(String(r.state.finishedAt)) - r.tIntent)}`,
        );
      console.log(
        `${pad(`devices' own apply time (${rounds} round${rounds > 1 ? 's' : ''} x ${APPLY_MS} ms)`)}${s(rounds * APPLY_MS)}`,
      );
      console.log(`${pad('beyond the apply time')}${s(total - rounds * APPLY_MS)}`);
      console.log(
        `${pad('device poll wait, main moved -> seen')}mean ${s(r.waitMean)}, max ${s(r.waitMax)} (poll every ${POLL_S} s)`,
      );
      const rolloutCommits = r.fleetCommits.filter((m) => m.startsWith('rollout ')).length;
      console.log(
        `${pad('commits')}fleet ${r.fleetCommits.length} (${rolloutCommits} "rollout ..."), device main ${r.deviceCommits} ` +
          `(${r.changed} with the new revision), status ${r.statusCommits}`,
      );
      console.log(
        `${pad('orchestrator CPU')}${s(r.orchCpu)} (${s(r.orchCpuNet)} beyond idle), peak RSS ${r.orchRss.toFixed(0)} MB (process lifetime)`,
      );
      console.log(
        `${pad('Git server CPU, git processes included')}${s(r.serverCpu)} (${s(r.serverCpuNet)} beyond idle)`,
      );
      console.log(
        `${pad('devices changing at once (max)')}${r.peak.max} from main moved, ${r.peakSeen.max} from main seen` +
          ` (${r.changed} devices changed${r.fallbacks ? `, ${r.fallbacks} ends without a ref time: the poll before / the push answer` : ''})`,
      );
    };

    let floor: Awaited<ReturnType<typeof phase>> | undefined;
    if (!skipFloor) {
      floor = await phase('floor: web 1.0.0 -> 1.1.0, no rollout (every device at once)', '1.1.0', false);
      report(floor, 1);
    }
    const r = await phase(
      `rollout: web ${skipFloor ? '1.0.0' : '1.1.0'} -> 1.2.0, ${WAVES} waves, maxConcurrent ${CAP}`,
      '1.2.0',
      true,
    );
    const perWave = Math.ceil(N / WAVES);
    report(r, WAVES * Math.ceil(perWave / Math.min(CAP, FLEET_CAP || CAP)));
    const waves = (r.state?.waves ?? []) as { name: string; passedAt?: string; devices: string[] }[];
    console.log(
      `${pad('waves passed (since intent)')}${waves
        .map((w) => (w.passedAt ? s(Date.parse(w.passedAt) - r.tIntent) : '-'))
        .join(' ')}`,
    );
    console.log(
      `${pad('orchestrator passes (whole process)')}${String(r.orchExtra.passes)}, ${s(Number(r.orchExtra.passMs))} in passes`,
    );
    if (floor)
      console.log(
        `\n  rollout / floor: ${((r.lastReport - r.tIntent) / (floor.lastReport - floor.tIntent)).toFixed(2)}x the time, ` +
          `${(r.orchCpu / Math.max(1, floor.orchCpu)).toFixed(2)}x the orchestrator CPU`,
      );
    const limit = Math.min(CAP, FLEET_CAP || CAP);
    if (r.peak.max > limit) failures.push(`${r.peak.max} devices changing at once, above the cap ${limit}`);
    if (r.state?.phase !== 'done') failures.push(`rollout ended in phase ${String(r.state?.phase)}`);
    console.log(
      `\n  simulator: ${simulator.stats.polls} polls, ${simulator.stats.fetches} fetches, ${simulator.stats.pushes} pushes, ` +
        `${simulator.stats.errors} errors${simulator.stats.lastError ? ` (last: ${simulator.stats.lastError})` : ''}, ` +
        `worst poll lag ${s(simulator.stats.worstPollLagMs)}, CPU ${s((process.cpuUsage(simCpu0).user + process.cpuUsage(simCpu0).system) / 1000)} (with the ref watch); ` +
        `status unsigned: the orchestrator runs without a status verifier or signer`,
    );
  } finally {
    simulator.stop();
    watchRefs.stop();
    server.proc.kill();
    orch?.proc.kill();
  }
  if (failures.length) {
    console.log(`\nFAILED: ${failures.join('; ')}`);
    process.exitCode = 1;
  } else console.log(`\nOK: never more than ${Math.min(CAP, FLEET_CAP || CAP)} devices changing at once`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!keep) rmSync(root, { recursive: true, force: true });
  });
