/**
 * bench/git (5): what one device status push costs the server. The same push (a status commit of
 * the agent's three files, sent by bench/rollout's wire client with the device token) against:
 *   - the floor: stock `git http-backend` behind a plain node:http wrapper (no auth, no hook);
 *   - the embedded server with its Node pre-receive hook (`hookRunner: 'node'`, the runner before
 *     issue 15's cheap pushes and the fallback where no bash with /dev/tcp is found);
 *   - the embedded server as `margo serve` runs it (default hook runner).
 * Server CPU per push (the server process and every git process it waited for, from /proc), wall
 * time per push (p50), and, from a separate run under `strace -f -e trace=execve`, the programs
 * started per push with their names.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { commitObjects, pushCommit, type Remote } from '../rollout/git-wire.js';

const TICK_MS = 1000 / 100; // /proc stat clock ticks (USER_HZ = 100 on Linux)
const here = fileURLToPath(new URL('.', import.meta.url));

export type PushServerMode = 'cgi' | 'margo-node-hook' | 'margo';

interface PushServer {
  child: ChildProcess;
  port: number;
  cpuMs(): number;
  stop(): void;
}

async function start(mode: PushServerMode, reposRoot: string, tokensFile: string, strace?: string) {
  const serverArgs = [
    '--conditions=source',
    '--import',
    'tsx',
    join(here, 'server-child.ts'),
    mode === 'cgi' ? 'cgi' : 'margo',
    reposRoot,
    tokensFile,
  ];
  const env = { ...process.env, ...(mode === 'margo-node-hook' ? { BENCH_HOOK_RUNNER: 'node' } : {}) };
  const child = strace
    ? spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', strace, process.execPath, ...serverArgs], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env,
        detached: true, // its own process group: stop() ends strace and the server it traces
      })
    : spawn(process.execPath, serverArgs, { stdio: ['pipe', 'pipe', 'inherit'], env, detached: true });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((r) => lines.once('line', r));
  const { port } = JSON.parse(line) as { port: number };
  const s: PushServer = {
    child,
    port,
    cpuMs: () => {
      // utime stime cutime cstime (fields 14-17): the server and the git processes it waited for
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
    },
    stop: () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill();
      }
    },
  };
  return s;
}

/** A device pushing status commits to its repository, each changing observed.json. */
function pusher(port: number, deviceId: string, token: string, agent: http.Agent) {
  const remote: Remote = { host: '127.0.0.1', port, path: `/git/devices/${deviceId}.git`, token, agent };
  let tip: string | null = null;
  let seq = 0;
  return async (): Promise<void> => {
    seq++;
    const files = new Map<string, Buffer>([
      ['capabilities.json', Buffer.from(JSON.stringify({ deviceId, cpu: { cores: 2 } }))],
      [
        'deployments/app-1.json',
        Buffer.from(JSON.stringify({ deploymentId: 'app-1', status: { state: 'installed' }, seq })),
      ],
      ['observed.json', Buffer.from(JSON.stringify({ commit: '0'.repeat(40), sequence: seq }))],
    ]);
    const c = commitObjects(files, tip, deviceId, 1_700_000_000 + seq, 'status\n');
    await pushCommit(remote, 'refs/heads/status', tip, c.oid, c.objects);
    tip = c.oid;
  };
}

export interface PushCost {
  mode: PushServerMode;
  cpuMs: number;
  p50Ms: number;
  programs?: number;
  breakdown?: string;
}

/** Programs started per push from an strace log (execve that succeeded), with a breakdown. */
function countExecs(log: string, pushes: number): { programs: number; breakdown: string } {
  const names = new Map<string, number>();
  let n = 0;
  for (const l of log.split('\n')) {
    const m = /execve\("([^"]+)", \[([^\]]*)\]/.exec(l);
    if (!m || !/= 0$/.test(l.trim())) continue;
    n++;
    const argv = m[2]!.split(', ').map((a) => a.replace(/^"|"$/g, ''));
    const base = m[1]!.split('/').pop()!;
    const sub = base === 'git' ? argv.find((a, i) => i > 0 && !a.startsWith('-')) : undefined;
    const hook = /hook/.test(argv.join(' ')) || /pre-receive/.test(m[1]!) ? ' (hook)' : '';
    const key = `${base}${sub ? ` ${sub}` : ''}${hook}`;
    names.set(key, (names.get(key) ?? 0) + 1);
  }
  const per = (k: number) => Math.round((k / pushes) * 10) / 10;
  return {
    programs: per(n),
    breakdown: [...names]
      .filter(([, k]) => k >= pushes)
      .map(([k, v]) => `${k}${per(v) === 1 ? '' : ` x${per(v)}`}`)
      .join(', '),
  };
}

/**
 * Measures `pushes` sequential status pushes per mode (after 3 warm-up pushes), each mode on its
 * own device repository of `reposRoot`, then counts programs per push with strace when present.
 */
export async function measureStatusPushes(
  reposRoot: string,
  tokensFile: string,
  devices: { id: string; token: string }[],
  pushes: number,
  scratch: string,
): Promise<PushCost[]> {
  const modes: PushServerMode[] = ['cgi', 'margo-node-hook', 'margo'];
  const out: PushCost[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const [i, mode] of modes.entries()) {
      const dev = devices[i]!;
      const srv = await start(mode, reposRoot, tokensFile);
      try {
        const push = pusher(srv.port, dev.id, dev.token, agent);
        for (let k = 0; k < 3; k++) await push();
        const cpu0 = srv.cpuMs();
        const lat: number[] = [];
        for (let k = 0; k < pushes; k++) {
          const t = performance.now();
          await push();
          lat.push(performance.now() - t);
        }
        lat.sort((a, b) => a - b);
        out.push({ mode, cpuMs: (srv.cpuMs() - cpu0) / pushes, p50Ms: lat[Math.floor(lat.length / 2)]! });
      } finally {
        srv.stop();
        agent.destroy();
      }
    }
    const hasStrace = spawnSync('strace', ['-V']).status === 0;
    if (hasStrace) {
      const n = 5;
      for (const [i, mode] of modes.entries()) {
        const dev = devices[modes.length + i]!;
        const log = join(scratch, `strace-${mode}.log`);
        const srv = await start(mode, reposRoot, tokensFile, log);
        try {
          const push = pusher(srv.port, dev.id, dev.token, agent);
          await push(); // creates the status branch (and starts the hook service) before counting
          await new Promise((r) => setTimeout(r, 200));
          const before = readFileSync(log, 'utf8').length;
          for (let k = 0; k < n; k++) await push();
          await new Promise((r) => setTimeout(r, 300));
          const all = readFileSync(log, 'utf8');
          await rm(log);
          Object.assign(out.find((o) => o.mode === mode)!, countExecs(all.slice(before), n));
        } finally {
          srv.stop();
          agent.destroy();
        }
      }
    }
  } finally {
    agent.destroy();
  }
  return out;
}

export function pushCostRows(costs: PushCost[]): string[] {
  const label: Record<PushServerMode, string> = {
    cgi: 'floor: stock git http-backend (no auth, no hook)',
    'margo-node-hook': 'margo embedded server, Node pre-receive hook (before)',
    margo: 'margo embedded server, default hook runner (after)',
  };
  const floor = costs.find((c) => c.mode === 'cgi');
  return costs.map(
    (c) =>
      `(5) status push, ${label[c.mode]}: server CPU ${c.cpuMs.toFixed(1)} ms/push${floor && c !== floor ? ` (floor +${(c.cpuMs - floor.cpuMs).toFixed(1)})` : ''}, wall p50 ${c.p50Ms.toFixed(1)} ms, programs started ${c.programs ?? 'n/a (no strace)'}/push${c.breakdown ? ` [${c.breakdown}]` : ''}`,
  );
}
