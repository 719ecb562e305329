// bench/agent: (1) latency from a desired-state commit to `installed` (visible on the status branch)
// for a Compose app whose image is already local, beside a floor measured in the same run: a shell
// loop doing `git fetch` + `<compose> up -d` with the same poll interval (target <= 1.25x floor);
// (2) idle agent: CPU per no-change poll and RSS (target <= 60 MB).
//
//   node --conditions=source --import tsx bench/agent/index.ts [--rounds 15] [--idle-only] [--interval 1]
//   (BENCH_TRACE=1 prints the agent's steps per round)
//
// The agent runs as a device runs it: packages/agent/bin/margo-agent (the bundle `npm run build`
// writes, under the launcher's V8 flags; MARGO_AGENT_NODE_FLAGS overrides them), with an identity
// under its state folder and every desired-state commit carrying a manifest signed under that
// identity's root CA, so each change pays for the verification and each status commit for its
// signature. Idle figures are also given for `node margo-agent.mjs` with node's defaults and for
// the unbundled packages (packages/agent/dist/device-main.js), for comparison.
//
// Fairness of the latency comparison: the floor loop and the agent poll side by side for the whole
// run and their rounds alternate, so load drifts hit both. Round i commits at the same phase of the
// poll cycle for both: the same wait until the next poll starts (waits spread evenly over the
// interval, in a shuffled order). Each poller's poll starts are observed (the floor prints them;
// the agent logs each fetch with its duration, so it runs at debug level here, which costs it a
// little) and the next one is predicted from the last one and the poller's own period, since an
// apply moves both loops' phase. The push of each change is allowed for. Besides the ratio of the
// medians, the bench prints the waits both got and the round-by-round difference agent - floor.
//
// Uses the testbed (Docker, local registry image, nginx git server).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSignedManifest, initPki, MANIFEST_FILE, type Pki } from '@margo-gitops/trust';
import { writeDeviceIdentity } from '../../test/fixtures/device-identity.ts';
import { loadTestbed, testbedProcessEnv } from '../../test/testbed/env.ts';
import {
  composeContainers,
  composePackage,
  deploymentYaml,
  git,
  tempDir,
} from '../../test/e2e/agent/helpers.ts';

const root = new URL('../..', import.meta.url).pathname;
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 15);
const INTERVAL = arg('interval', 1);
const IDLE_SECONDS = arg('idle-seconds', 20);
const LAUNCHER = join(root, 'packages/agent/bin/margo-agent');
const BUNDLE = join(root, 'packages/agent/dist/bundle/margo-agent.mjs');
const UNBUNDLED = join(root, 'packages/agent/dist/device-main.js');
/** How a device starts the agent: the launcher (bundle + small-device V8 flags), or node on a file. */
type Command = string[];
const viaLauncher: Command = [LAUNCHER];
const viaNode = (file: string): Command => [process.execPath, file];

const tb = loadTestbed();
if (!tb || !['docker', 'image', 'git'].every((c) => tb.components.includes(c as never))) {
  console.error('bench/agent needs the testbed (docker, image, git): run test/testbed/up');
  process.exit(2);
}
for (const f of [LAUNCHER, BUNDLE, UNBUNDLED]) {
  if (!existsSync(f)) {
    console.error(`bench/agent needs ${f}: run npm run build`);
    process.exit(2);
  }
}
const env = testbedProcessEnv(tb);
const compose = tb.compose!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// No healthcheck: "installed" means running, as for `up -d` in the floor.
const COMPOSE = `services:\n  echo:\n    image: ${tb.image}\n    environment:\n      GREETING: \${GREETING:-hi}\n`;

interface Repo {
  url: string;
  work: string;
  bare: string;
  /** The files of `main`, to sign a manifest over (signed repositories only). */
  files: Map<string, Buffer>;
  signFor?: string;
}

function bareRepo(name: string, signFor?: string): Repo {
  const bare = join(tb!.gitRoot!, `${name}.git`);
  rmSync(bare, { recursive: true, force: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  const work = tempDir(`bench-${name}-`);
  git(work, 'init', '-q', '-b', 'main');
  return {
    url: `${tb!.gitHttpAuth}/${name}.git`,
    work,
    bare,
    files: new Map(),
    ...(signFor ? { signFor } : {}),
  };
}

let manifestVersion = BigInt(Date.now()) * 1000n;

/** Commits and pushes; a signed repository gets a new margo-manifest.json in the same commit. */
function commitPush(repo: Repo, files: Record<string, string | Buffer | null>): number {
  const write = (p: string, c: string | Buffer | null) => {
    const abs = join(repo.work, p);
    if (c === null) rmSync(abs, { force: true });
    else {
      mkdirSync(join(abs, '..'), { recursive: true });
      writeFileSync(abs, c);
    }
  };
  for (const [p, c] of Object.entries(files)) {
    write(p, c);
    if (c === null) repo.files.delete(p);
    else repo.files.set(p, Buffer.from(c));
  }
  if (repo.signFor) {
    const expiresAt = new Date(Date.now() + 86_400_000);
    write(
      MANIFEST_FILE,
      createSignedManifest(
        { deviceId: repo.signFor, files: repo.files, version: ++manifestVersion, expiresAt },
        pki.signing,
      ),
    );
  }
  git(repo.work, 'add', '-A');
  git(repo.work, 'commit', '-q', '-m', 'bench');
  git(repo.work, 'push', '-q', '-f', repo.bare, 'main');
  return performance.now();
}

function statusState(bare: string, id: string): string | undefined {
  try {
    const s = execFileSync('git', ['show', `status:deployments/${id}.json`], {
      cwd: bare,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return (JSON.parse(s) as { status?: { state?: string } }).status?.state;
  } catch {
    return undefined;
  }
}

function removeProjects(prefix: string): void {
  for (const c of composeContainers(env))
    if (c.project.startsWith(prefix)) execFileSync('docker', ['rm', '-f', c.id], { env, stdio: 'ignore' });
}

function startAgent(
  dir: string,
  repo: Repo,
  deviceId: string,
  logLevel: string,
  command: Command = viaLauncher,
): { child: ChildProcess; lines: string[] } {
  const stateDir = join(dir, `state-${deviceId}`);
  writeDeviceIdentity(stateDir, { pki, deviceId, repoUrl: repo.url, token: tb!.gitPassword! });
  const logFile = join(dir, `${deviceId}.log`);
  const child = spawn(command[0]!, [...command.slice(1), '--state', stateDir, '--log-to', logFile], {
    cwd: root,
    env: {
      ...env,
      // The launcher's own variables; the agent refuses MARGO_AGENT_* names it does not know.
      MARGO_AGENT_NODE: command === viaLauncher ? process.execPath : undefined,
      MARGO_AGENT_NODE_FLAGS: command === viaLauncher ? process.env.MARGO_AGENT_NODE_FLAGS : undefined,
      MARGO_AGENT_POLL_INTERVAL_SECONDS: String(INTERVAL),
      MARGO_AGENT_GIT_USERNAME: tb!.gitUser,
      MARGO_AGENT_COMPOSE_COMMAND: compose.join(' '),
      MARGO_AGENT_COMPOSE_STOP_TIMEOUT_SECONDS: '1',
      MARGO_AGENT_LOG_LEVEL: logLevel,
      MARGO_AGENT_CAPABILITIES_EVERY: '1000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.once('exit', (code) => {
    if (code) console.error(`agent ${deviceId} exited with ${code}: ${stderr.slice(-2000)}`);
  });
  // The JSON log lines, read from the file on demand.
  const lines: string[] = [];
  let read = 0;
  Object.defineProperty(lines, 'refresh', {
    value: () => {
      if (!existsSync(logFile)) return;
      const all = readFileSync(logFile, 'utf8');
      const fresh = all.slice(read);
      const end = fresh.lastIndexOf('\n');
      if (end < 0) return;
      lines.push(...fresh.slice(0, end).split('\n'));
      read += end + 1;
    },
  });
  return { child, lines };
}

const refresh = (lines: string[]) => (lines as unknown as { refresh(): void }).refresh();

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(t);
}

async function waitUntil(fn: () => boolean, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (fn()) return performance.now();
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

/** Phases (fractions of the poll interval) for the rounds: evenly spread, shuffled once. */
function phases(n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => (i + 0.5) / n);
  for (let i = p.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Waits until `phase` of the interval before `p`'s next poll starts, so that the change waits
 * `phase` x interval to be seen. The next start is predicted from the first poll after the last
 * round (an apply moves the loop's phase) and the poller's period (median of its recent gaps).
 */
async function atPhase(p: Poller, phase: number, pushMs: number): Promise<void> {
  const interval = INTERVAL * 1000;
  const after = performance.now();
  let starts: number[] = [];
  await waitUntil(() => (starts = p.pollStarts()).some((t) => t > after), 10_000);
  const gaps = starts
    .slice(1)
    .map((t, k) => t - starts[k]!)
    .filter((g) => g > 0.9 * interval && g < 1.5 * interval);
  const period = gaps.length ? median(gaps.slice(-6)) : interval;
  // The push takes `pushMs`; the change is on the server that long after the commit starts.
  let at = starts.at(-1)! + period - phase * interval - pushMs;
  while (at < performance.now() + 5) at += period;
  await sleep(at - performance.now());
}

interface Poller {
  /** When its polls started, on the performance.now() clock. */
  pollStarts(): number[];
  /** Commits and pushes round i's change; resolves when it is applied, with when the push ended. */
  round(i: number): Promise<{ latency: number; pushedAt: number }>;
  close(): Promise<void>;
}

/** Converts a wall-clock time (ms since the epoch) to the performance.now() clock. */
const fromWall = (ms: number) => ms - (Date.now() - performance.now());

async function floorPoller(dir: string): Promise<Poller> {
  const repo = bareRepo('bench-floor');
  commitPush(repo, { README: 'floor\n' });
  const clone = join(dir, 'floor-clone');
  execFileSync('git', [
    'clone',
    '-q',
    repo.url.replace('://', `://${tb!.gitUser}:${tb!.gitPassword}@`),
    clone,
  ]);
  const script = `
    cd "${clone}"; last=$(git rev-parse HEAD)
    while true; do
      echo "poll $EPOCHREALTIME"
      git fetch -q origin main
      h=$(git rev-parse FETCH_HEAD)
      if [ "$h" != "$last" ]; then
        git checkout -q -f FETCH_HEAD
        app=$(cat current)
        ${compose.join(' ')} -p "floor-$app" -f "apps/$app.yml" up -d >/dev/null 2>&1
        echo "applied $app"
        last=$h
      fi
      sleep ${INTERVAL}
    done`;
  const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const applied = new Set<string>();
  const starts: number[] = [];
  child.stdout!.on('data', (b: Buffer) => {
    const text = b.toString();
    for (const m of text.matchAll(/applied (\S+)/g)) applied.add(m[1]!);
    for (const m of text.matchAll(/poll (\d+\.\d+)/g)) starts.push(fromWall(Number(m[1]) * 1000));
  });
  return {
    pollStarts: () => starts,
    async round(i) {
      const name = `f${i}`;
      const t0 = commitPush(repo, {
        [`apps/${name}.yml`]: COMPOSE.replace('${GREETING:-hi}', `round${i}`),
        current: name,
      });
      const t1 = await waitUntil(() => applied.has(name), 60_000);
      return { latency: t1 - t0, pushedAt: t0 };
    },
    async close() {
      child.kill('SIGKILL');
      removeProjects('floor-');
      rmSync(repo.bare, { recursive: true, force: true });
      rmSync(repo.work, { recursive: true, force: true });
    },
  };
}

async function agentPoller(dir: string): Promise<Poller> {
  const deviceId = 'bench-agent';
  const repo = bareRepo(deviceId, deviceId);
  commitPush(repo, { 'packages/app.tgz': await composePackage({ 'docker-compose.yml': COMPOSE }) });
  const { child, lines } = startAgent(dir, repo, deviceId, 'debug');
  // Poll starts from the debug log: each fetch is logged with its duration when it ends.
  const starts: number[] = [];
  let scanned = 0;
  let traced = 0;
  // Up and polling: the first desired state was verified and the capabilities reported.
  await waitUntil(() => {
    try {
      execFileSync('git', ['rev-parse', '-q', '--verify', 'refs/heads/status'], {
        cwd: repo.bare,
        stdio: 'ignore',
      });
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  return {
    pollStarts() {
      refresh(lines);
      for (; scanned < lines.length; scanned++) {
        if (!lines[scanned]!.includes('"msg":"fetched"')) continue;
        const j = JSON.parse(lines[scanned]!) as { time: number; fetchMs: number };
        starts.push(fromWall(j.time - j.fetchMs));
      }
      return starts;
    },
    async round(i) {
      const id = `0000${String(i).padStart(4, '0')}-6666-4a5b-9c3d-000000000000`;
      const doc = deploymentYaml({
        name: `bench${i}`,
        id,
        components: [{ name: 'echo', properties: { packageLocation: 'packages/app.tgz' } }],
        parameters: { g: { value: `round${i}`, pointer: 'ENV.GREETING', components: ['echo'] } },
      });
      const t0 = commitPush(repo, { [`deployments/bench${i}.yaml`]: doc });
      const wall0 = Date.now() - (performance.now() - t0);
      const t1 = await waitUntil(() => statusState(repo.bare, id) === 'installed', 60_000);
      if (process.env.BENCH_TRACE) {
        refresh(lines);
        for (const l of lines.slice(traced)) {
          const {
            time,
            msg,
            level: _l,
            pid: _p,
            hostname: _h,
            deploymentId: _d,
            commit: _c,
            ...rest
          } = JSON.parse(l) as Record<string, unknown> & { time: number; msg: string };
          if (time >= wall0 && !(msg === 'fetched' && !rest.changed))
            console.log(`  +${time - wall0} ms ${msg} ${JSON.stringify(rest)}`);
        }
        traced = lines.length;
        console.log(`  +${(t1 - t0).toFixed(0)} ms visible on the server`);
      }
      return { latency: t1 - t0, pushedAt: t0 };
    },
    async close() {
      await stopChild(child);
      removeProjects('margo-bench');
      rmSync(repo.bare, { recursive: true, force: true });
      rmSync(repo.work, { recursive: true, force: true });
    },
  };
}

/** How long after the change reached the server (at `t0`) the next poll started. */
function waitedForPoll(p: Poller, t0: number): number {
  return (p.pollStarts().find((t) => t > t0) ?? Number.NaN) - t0;
}

interface Latency {
  floor: number[];
  agent: number[];
  /** Per round, how long the change waited for the next poll to start. */
  waits: { floor: number[]; agent: number[] };
}

async function latency(dir: string): Promise<Latency> {
  const floorP = await floorPoller(dir);
  const agentP = await agentPoller(dir);
  const out: Latency = { floor: [], agent: [], waits: { floor: [], agent: [] } };
  try {
    await sleep(2000);
    const ph = phases(ROUNDS);
    const pushMs = [50];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so neither always follows the other's compose run.
      const order: ['floor' | 'agent', Poller][] = [
        ['floor', floorP],
        ['agent', agentP],
      ];
      if (i % 2) order.reverse();
      for (const [name, p] of order) {
        await atPhase(p, ph[i]!, median(pushMs));
        const t0 = performance.now();
        const r = await p.round(i);
        pushMs.push(r.pushedAt - t0);
        out[name].push(r.latency);
        out.waits[name].push(waitedForPoll(p, r.pushedAt));
      }
    }
  } finally {
    await floorP.close();
    await agentP.close();
  }
  return out;
}

function procStats(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: (ticks * 1000) / 100, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}

async function idle(
  dir: string,
  label: string,
  command: Command,
): Promise<{ polls: number; cpuPerPollMs: number; rssMb: number; maxRssMb: number }> {
  const name = `bench-idle-${label}`;
  const repo = bareRepo(name, name);
  commitPush(repo, {
    'packages/app.tgz': await composePackage({ 'docker-compose.yml': COMPOSE }),
    'deployments/idle.yaml': deploymentYaml({
      name: 'idle',
      id: '0000aaaa-6666-4a5b-9c3d-000000000000',
      components: [{ name: 'echo', properties: { packageLocation: 'packages/app.tgz' } }],
    }),
  });
  const { child, lines } = startAgent(dir, repo, name, 'debug', command);
  try {
    await waitUntil(
      () => statusState(repo.bare, '0000aaaa-6666-4a5b-9c3d-000000000000') === 'installed',
      60_000,
    ).catch((e) => {
      refresh(lines);
      console.error(lines.slice(-10).join('\n'));
      throw e;
    });
    await sleep(3000);
    const count = () => {
      refresh(lines);
      return lines.filter((l) => l.includes('"msg":"fetched"')).length;
    };
    const p0 = count();
    const s0 = procStats(child.pid!);
    let maxRss = s0.rssMb;
    const end = performance.now() + IDLE_SECONDS * 1000;
    while (performance.now() < end) {
      await sleep(500);
      maxRss = Math.max(maxRss, procStats(child.pid!).rssMb);
    }
    const s1 = procStats(child.pid!);
    const polls = count() - p0;
    return {
      polls,
      cpuPerPollMs: (s1.cpuMs - s0.cpuMs) / Math.max(1, polls),
      rssMb: s1.rssMb,
      maxRssMb: maxRss,
    };
  } finally {
    await stopChild(child);
    removeProjects('margo-idle');
    rmSync(repo.bare, { recursive: true, force: true });
    rmSync(repo.work, { recursive: true, force: true });
  }
}

const dir = tempDir('bench-agent-');
const pki: Pki = await initPki(join(dir, 'pki'), { commonName: 'bench CA', bits: 2048 });
try {
  console.log(
    `bench/agent: ${ROUNDS} rounds, poll interval ${INTERVAL}s, compose '${compose.join(' ')}', agent: margo-agent launcher, signed desired state`,
  );
  if (!process.argv.includes('--idle-only')) {
    const { floor, agent, waits } = await latency(dir);
    const ratio = median(agent) / median(floor);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `latency floor (git fetch + up -d loop): median ${median(floor).toFixed(0)} ms  [${list(floor)}]`,
    );
    console.log(
      `latency agent (commit -> installed on status branch): median ${median(agent).toFixed(0)} ms  [${list(agent)}]`,
    );
    console.log(
      `wait for the next poll: floor median ${median(waits.floor).toFixed(0)} ms [${list(waits.floor)}], agent median ${median(waits.agent).toFixed(0)} ms [${list(waits.agent)}]`,
    );
    const extra = agent.map((a, i) => a - floor[i]!);
    console.log(
      `latency agent - floor, round by round (same wait for the next poll): median ${median(extra).toFixed(0)} ms  [${list(extra)}]`,
    );
    console.log(
      `latency ratio agent/floor: ${ratio.toFixed(2)}x (target <= 1.25x) ${ratio <= 1.25 ? 'OK' : 'OVER TARGET'}`,
    );
  }
  const variants: [string, string, Command][] = [
    ['launcher', 'margo-agent launcher: bundle + small-device V8 flags (as shipped)', viaLauncher],
    ['bundle', 'node margo-agent.mjs, node defaults', viaNode(BUNDLE)],
    ['unbundled', 'unbundled packages, node defaults', viaNode(UNBUNDLED)],
  ];
  for (const [label, what, command] of variants) {
    const i = await idle(dir, label, command);
    console.log(
      `idle agent (${what}): ${i.polls} no-change polls in ${IDLE_SECONDS}s, CPU ${i.cpuPerPollMs.toFixed(2)} ms per poll, RSS ${i.rssMb.toFixed(1)} MB (max ${i.maxRssMb.toFixed(1)} MB; target <= 60 MB) ${i.maxRssMb <= 60 ? 'OK' : 'OVER TARGET'}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
