// bench/agent: (1) latency from a desired-state commit to `installed` (visible on the status branch)
// for a Compose app whose image is already local, beside a floor measured in the same run: a shell
// loop doing `git fetch` + `<compose> up -d` with the same poll interval (target <= 1.25x floor);
// (2) idle agent: CPU per no-change poll and RSS (target <= 60 MB).
//
//   node --conditions=source --import tsx bench/agent/index.ts [--rounds 9] [--idle-only]  (BENCH_TRACE=1 prints the agent's steps per round) [--interval 1]
//
// Uses the testbed (Docker, local registry image, nginx git server); the agent runs as a child
// process from packages/agent/dist when built (else from sources through tsx, noted in the output).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadTestbed, testbedProcessEnv } from '../../test/testbed/env.ts';
import { composePackage, deploymentYaml, git, tempDir } from '../../test/e2e/agent/helpers.ts';

const root = new URL('../..', import.meta.url).pathname;
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 9);
const INTERVAL = arg('interval', 1);
const IDLE_SECONDS = arg('idle-seconds', 20);
/** Node flags recommended for small devices (README): smaller young generation, size-optimised code. */
const SMALL_HEAP = ['--max-semi-space-size=1', '--optimize-for-size'];

const tb = loadTestbed();
if (!tb || !['docker', 'image', 'git'].every((c) => tb.components.includes(c as never))) {
  console.error('bench/agent needs the testbed (docker, image, git): run test/testbed/up');
  process.exit(2);
}
const env = testbedProcessEnv(tb);
const compose = tb.compose!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// No healthcheck: "installed" means running, as for `up -d` in the floor.
const COMPOSE = `services:\n  echo:\n    image: ${tb.image}\n    environment:\n      GREETING: \${GREETING:-hi}\n`;

function bareRepo(name: string): { url: string; work: string; bare: string } {
  const bare = join(tb!.gitRoot!, `${name}.git`);
  rmSync(bare, { recursive: true, force: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  const work = tempDir(`bench-${name}-`);
  git(work, 'init', '-q', '-b', 'main');
  return { url: `${tb!.gitHttpAuth}/${name}.git`, work, bare };
}

function commitPush(work: string, bare: string, files: Record<string, string | Buffer | null>): number {
  for (const [p, c] of Object.entries(files)) {
    const abs = join(work, p);
    if (c === null) rmSync(abs, { force: true });
    else {
      mkdirSync(join(abs, '..'), { recursive: true });
      writeFileSync(abs, c);
    }
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'bench');
  git(work, 'push', '-q', '-f', bare, 'main');
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
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', 'label=com.docker.compose.project'], {
    env,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  for (const id of ids) {
    const p = execFileSync(
      'docker',
      ['inspect', '--format', '{{index .Config.Labels "com.docker.compose.project"}}', id],
      { env, encoding: 'utf8' },
    ).trim();
    if (p.startsWith(prefix)) execFileSync('docker', ['rm', '-f', id], { env, stdio: 'ignore' });
  }
}

function agentCommand(): { args: string[]; from: string } {
  const dist = join(root, 'packages/agent/dist/main.js');
  if (existsSync(dist)) return { args: [dist], from: 'dist' };
  return {
    args: ['--conditions=source', '--import', 'tsx', join(root, 'packages/agent/src/main.ts')],
    from: 'sources via tsx',
  };
}

function startAgent(
  dir: string,
  url: string,
  deviceId: string,
  logLevel: string,
  nodeFlags: string[] = [],
): { child: ChildProcess; lines: string[] } {
  const cfg = join(dir, `${deviceId}.yaml`);
  writeFileSync(
    cfg,
    stringify({
      deviceId,
      repoUrl: url,
      token: tb!.gitPassword,
      gitUsername: tb!.gitUser,
      stateDir: join(dir, `state-${deviceId}`),
      pollIntervalSeconds: INTERVAL,
      composeCommand: compose.join(' '),
      composeStopTimeoutSeconds: 1,
      logLevel,
      capabilitiesEvery: 1000,
    }),
  );
  const { args } = agentCommand();
  const child = spawn(process.execPath, [...nodeFlags, ...args, '--config', cfg], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stderr!.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return { child, lines };
}

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

async function latencyAgent(dir: string): Promise<number[]> {
  const repo = bareRepo('bench-agent');
  commitPush(repo.work, repo.bare, {
    'packages/app.tgz': await composePackage({ 'docker-compose.yml': COMPOSE }),
  });
  const { child, lines } = startAgent(
    dir,
    repo.url,
    'bench-agent',
    process.env.BENCH_TRACE ? 'debug' : 'warn',
  );
  const out: number[] = [];
  try {
    await sleep(3000); // started and idle
    for (let i = 0; i < ROUNDS; i++) {
      const id = `0000${String(i).padStart(4, '0')}-6666-4a5b-9c3d-000000000000`;
      const doc = deploymentYaml({
        name: `bench${i}`,
        id,
        components: [{ name: 'echo', properties: { packageLocation: 'packages/app.tgz' } }],
        parameters: { g: { value: `round${i}`, pointer: 'ENV.GREETING', components: ['echo'] } },
      });
      await sleep(Math.random() * INTERVAL * 1000); // random phase against the poll timer
      const t0 = commitPush(repo.work, repo.bare, { [`deployments/bench${i}.yaml`]: doc });
      const wall0 = Date.now() - (performance.now() - t0);
      const t1 = await waitUntil(() => statusState(repo.bare, id) === 'installed', 60_000);
      out.push(t1 - t0);
      if (process.env.BENCH_TRACE) {
        for (const l of lines.splice(0)) {
          const j = JSON.parse(l) as { time: number; msg: string; state?: string; progress?: string };
          if (j.time >= wall0)
            console.log(`  +${j.time - wall0} ms ${j.msg} ${j.state ?? ''} ${j.progress ?? ''}`);
        }
        console.log(`  +${(t1 - t0).toFixed(0)} ms visible on the server`);
      }
    }
  } finally {
    await stopChild(child);
    removeProjects('margo-bench');
    rmSync(repo.bare, { recursive: true, force: true });
    rmSync(repo.work, { recursive: true, force: true });
  }
  return out;
}

async function latencyFloor(dir: string): Promise<number[]> {
  const repo = bareRepo('bench-floor');
  commitPush(repo.work, repo.bare, { README: 'floor\n' });
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
  child.stdout!.on('data', (b: Buffer) => {
    for (const m of b.toString().matchAll(/applied (\S+)/g)) applied.add(m[1]!);
  });
  const out: number[] = [];
  try {
    await sleep(3000);
    for (let i = 0; i < ROUNDS; i++) {
      await sleep(Math.random() * INTERVAL * 1000);
      const name = `f${i}`;
      const t0 = commitPush(repo.work, repo.bare, {
        [`apps/${name}.yml`]: COMPOSE.replace('${GREETING:-hi}', `round${i}`),
        current: name,
      });
      const t1 = await waitUntil(() => applied.has(name), 60_000);
      out.push(t1 - t0);
    }
  } finally {
    child.kill('SIGKILL');
    removeProjects('floor-');
    rmSync(repo.bare, { recursive: true, force: true });
    rmSync(repo.work, { recursive: true, force: true });
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
  nodeFlags: string[],
): Promise<{ polls: number; cpuPerPollMs: number; rssMb: number; maxRssMb: number }> {
  const name = `bench-idle${nodeFlags.length ? '-small' : ''}`;
  const repo = bareRepo(name);
  commitPush(repo.work, repo.bare, {
    'packages/app.tgz': await composePackage({ 'docker-compose.yml': COMPOSE }),
    'deployments/idle.yaml': deploymentYaml({
      name: 'idle',
      id: '0000aaaa-6666-4a5b-9c3d-000000000000',
      components: [{ name: 'echo', properties: { packageLocation: 'packages/app.tgz' } }],
    }),
  });
  const { child, lines } = startAgent(dir, repo.url, name, 'debug', nodeFlags);
  try {
    await waitUntil(
      () => statusState(repo.bare, '0000aaaa-6666-4a5b-9c3d-000000000000') === 'installed',
      60_000,
    ).catch((e) => {
      console.error(lines.slice(-10).join('\n'));
      throw e;
    });
    await sleep(3000);
    const count = () => lines.filter((l) => l.includes('"msg":"fetched"')).length;
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
try {
  console.log(
    `bench/agent: ${ROUNDS} rounds, poll interval ${INTERVAL}s, compose '${compose.join(' ')}', agent from ${agentCommand().from}`,
  );
  const skipLatency = process.argv.includes('--idle-only');
  const floor = skipLatency ? [1] : await latencyFloor(dir);
  const agent = skipLatency ? [1] : await latencyAgent(dir);
  const ratio = median(agent) / median(floor);
  if (!skipLatency)
    console.log(
      `latency floor (git fetch + up -d loop): median ${median(floor).toFixed(0)} ms  [${floor.map((x) => x.toFixed(0)).join(', ')}]`,
    );
  if (!skipLatency)
    console.log(
      `latency agent (commit -> installed on status branch): median ${median(agent).toFixed(0)} ms  [${agent.map((x) => x.toFixed(0)).join(', ')}]`,
    );
  if (!skipLatency)
    console.log(
      `latency ratio agent/floor: ${ratio.toFixed(2)}x (target <= 1.25x) ${ratio <= 1.25 ? 'OK' : 'OVER TARGET'}`,
    );
  for (const flags of [[], SMALL_HEAP]) {
    const i = await idle(dir, flags);
    console.log(
      `idle agent${flags.length ? ` (node ${flags.join(' ')})` : ' (node defaults)'}: ${i.polls} no-change polls in ${IDLE_SECONDS}s, CPU ${i.cpuPerPollMs.toFixed(2)} ms per poll, RSS ${i.rssMb.toFixed(1)} MB (max ${i.maxRssMb.toFixed(1)} MB; target <= 60 MB) ${i.maxRssMb <= 60 ? 'OK' : 'OVER TARGET'}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
