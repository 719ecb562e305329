/**
 * bench/render: one intent change fanning out to a fleet of N devices (default 10,000).
 *
 *   node --conditions=source --import tsx bench/render/index.ts [--devices N] [--concurrency C] [--skip-floor] [--keep]
 *
 * Prints, for the orchestrator: wall time, commits/s and peak RSS of (1) the first fan-out,
 * (2) a no-op reconcile of the unchanged fleet (target < 5 s for 10,000), (3) a no-op reconcile by
 * a freshly started orchestrator (saved state only), (4) one intent change fanned out to every
 * device. Beside (1) and (4) it prints a floor measured in the same run: stock `git fast-import`
 * writing the same files as one commit into the same kind of bare repositories (one process per
 * repository, same concurrency). Target: the orchestrator within 3x of the floor.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import {
  buildTree,
  readRef,
  readTreeFiles,
  readCommit,
  updateRef,
  writeCommit,
} from '../../packages/orchestrator/src/io/git-objects.js';
import { runBounded } from '../../packages/orchestrator/src/io/pool.js';
import { capsOf } from '../rollout/simulator.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const N = arg('devices', 10_000);
const C = arg('concurrency', 8);
const keep = process.argv.includes('--keep');
/** Quick runs: measure the orchestrator only. */
const skipFloor = process.argv.includes('--skip-floor');

const root = mkdtempSync(join(tmpdir(), 'margo-bench-render-'));
const reposRoot = join(root, 'data', 'repos');
const floorRoot = join(root, 'floor');
const ids = Array.from({ length: N }, (_, i) => `dev-${String(i).padStart(5, '0')}`);

const HELLO = (v: string) => `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: hello
  name: Hello
  version: ${v}
  catalog: {organization: [{name: Acme}]}
deploymentProfiles:
  - type: compose
    id: hello-compose
    requiredResources: {cpu: {cores: 1}, memory: 1Gi}
    components:
      - name: hello
        properties: {repository: "oci://127.0.0.1:5000/hello/hello", revision: "${v}"}
  - type: helm.v3
    id: hello-helm
    components:
      - name: hello
        properties: {repository: "oci://127.0.0.1:5000/charts/hello", revision: "${v}"}
parameters:
  greeting:
    value: hello
    targets: [{pointer: ENV.GREETING, components: [hello]}]
configuration:
  sections: [{name: General, settings: [{parameter: greeting, name: Greeting, schema: text}]}]
  schema: [{name: text, dataType: string, maxLength: 64, allowEmpty: false}]
`;
function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
}

function commitWorkTree(dir: string, remote: string, files: Record<string, string>, message: string): void {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  sh(dir, 'add', '-A');
  sh(
    dir,
    '-c',
    'user.name=Olivia Operator',
    '-c',
    'user.email=olivia@example.com',
    'commit',
    '-q',
    '-m',
    message,
  );
  sh(dir, 'push', '-q', remote, 'HEAD:refs/heads/main');
}

const intent = (greeting: string) =>
  `kind: Deployment\nname: web\napplication: {id: hello, version: ^1}\ntargets:\n  selector: {matchLabels: {fleet: bench}}\nparameters: {greeting: ${greeting}}\n`;

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** The floor: `git fast-import` writes `files` as one commit on main of each repository. */
async function floor(
  repoDirs: string[],
  files: Map<string, Map<string, Buffer>>,
): Promise<{ ms: number; peakChildRssMb: number }> {
  let peak = 0;
  const t0 = performance.now();
  await runBounded(repoDirs, C, async (dir) => {
    const id = dir.slice(dir.lastIndexOf('/') + 1, -4);
    const f = files.get(id)!;
    const parent = await readRef(dir, 'main');
    const msg = Buffer.from(`${id}: update web\n`);
    const parts: Buffer[] = [
      Buffer.from(
        `commit refs/heads/main\ncommitter margo <m@margo.invalid> ${Math.floor(Date.now() / 1000)} +0000\ndata ${msg.length}\n`,
      ),
      msg,
    ];
    if (parent) parts.push(Buffer.from(`from ${parent}\n`));
    parts.push(Buffer.from('deleteall\n'));
    for (const [p, c] of f)
      parts.push(Buffer.from(`M 100644 inline ${p}\ndata ${c.length}\n`), c, Buffer.from('\n'));
    parts.push(Buffer.from('\n'));
    await new Promise<void>((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', '%M', 'git', '--git-dir', dir, 'fast-import', '--quiet'], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const kb = Number(err.trim().split('\n').pop());
        if (Number.isFinite(kb)) peak = Math.max(peak, kb);
        if (code === 0) resolve();
        else reject(new Error(`fast-import failed in ${dir}: ${err}`));
      });
      child.stdin.end(Buffer.concat(parts));
    });
  });
  return { ms: performance.now() - t0, peakChildRssMb: Math.round(peak / 1024) };
}

async function desiredFiles(): Promise<Map<string, Map<string, Buffer>>> {
  const out = new Map<string, Map<string, Buffer>>();
  await runBounded(ids, 16, async (id) => {
    const dir = join(reposRoot, 'devices', `${id}.git`);
    const head = (await readRef(dir, 'main'))!;
    out.set(id, await readTreeFiles(dir, (await readCommit(dir, head)).tree));
  });
  return out;
}

function line(label: string, ms: number, commits: number, extra = ''): void {
  const rate = commits ? `${Math.round((commits / ms) * 1000)} commits/s` : '';
  console.log(`${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(8)} s  ${rate.padStart(16)}  ${extra}`);
}

async function main(): Promise<void> {
  console.log(`bench/render: ${N} devices, concurrency ${C}, node ${process.version}, ${root}`);
  const t0 = performance.now();
  await createRepos(reposRoot);
  mkdirSync(floorRoot, { recursive: true });
  // Device repositories with a status branch carrying capabilities (written directly; not timed).
  await runBounded(ids, 16, async (id) => {
    const { path } = await ensureDeviceRepo(reposRoot, id);
    const tree = (await buildTree(path, new Map([['capabilities.json', capsOf(id)]])))!;
    const sig = { name: id, email: `${id}@devices.invalid`, timestamp: Math.floor(Date.now() / 1000) };
    await updateRef(
      path,
      'status',
      null,
      await writeCommit(path, { tree, parents: [], author: sig, committer: sig, message: 'capabilities\n' }),
    );
    if (!skipFloor) await ensureDeviceRepo(floorRoot, id);
  });
  const wt = mkdtempSync(join(root, 'wt-'));
  sh(wt, 'init', '-q', '-b', 'main');
  const cat = mkdtempSync(join(root, 'cat-'));
  sh(cat, 'init', '-q', '-b', 'main');
  commitWorkTree(
    cat,
    join(reposRoot, 'catalog.git'),
    { 'hello/1.0.0/margo.yaml': HELLO('1.0.0') },
    'hello 1.0.0',
  );
  const devices: Record<string, string> = {};
  for (const id of ids)
    devices[`devices/${id}.yaml`] =
      `kind: Device\nid: ${id}\nrole: standalone-device\nlabels: {fleet: bench}\n`;
  commitWorkTree(
    wt,
    join(reposRoot, 'fleet.git'),
    { ...devices, 'deployments/web.yaml': intent('hello') },
    'fleet',
  );
  console.log(`setup ${((performance.now() - t0) / 1000).toFixed(1)} s (not measured)\n`);

  const dataDir = join(root, 'data');
  const logger = pino({ level: 'silent' });
  const orch = new Orchestrator({ dataDir, reposRoot, logger, intervalMs: 0, concurrency: C });
  const floorDirs = ids.map((id) => join(floorRoot, 'devices', `${id}.git`));

  // 1. First fan-out.
  let t = performance.now();
  const s1 = await orch.reconcileNow('bench initial');
  const first = performance.now() - t;
  if (s1.committed !== N || s1.failed.length)
    throw new Error(`initial: ${JSON.stringify({ ...s1, failed: s1.failed.slice(0, 3) })}`);
  line('first fan-out: orchestrator', first, s1.committed, `peak RSS ${rssMb()} MB`);
  if (!skipFloor) {
    const f1 = await floor(floorDirs, await desiredFiles());
    line('first fan-out: floor (git fast-import)', f1.ms, N, `peak child RSS ${f1.peakChildRssMb} MB`);
    console.log(`  ratio ${(first / f1.ms).toFixed(2)}x of the floor (target <= 3x)`);
  }
  console.log('');

  // 2. No-op, warm.
  t = performance.now();
  const s2 = await orch.reconcileNow('bench no-op');
  const noop = performance.now() - t;
  if (s2.committed !== 0) throw new Error('no-op committed');
  line(
    'no-op reconcile (warm)',
    noop,
    0,
    `${s2.unchanged} unchanged, target < 5 s: ${noop < 5000 ? 'met' : 'MISSED'}`,
  );

  // 3. No-op by a freshly started orchestrator (saved state only).
  const orch2 = new Orchestrator({ dataDir, reposRoot, logger, intervalMs: 0, concurrency: C });
  t = performance.now();
  const s3 = await orch2.reconcileNow('bench no-op restart');
  const noopCold = performance.now() - t;
  if (s3.committed !== 0) throw new Error('restart no-op committed');
  line(
    'no-op reconcile (fresh process state)',
    noopCold,
    0,
    `target < 5 s: ${noopCold < 5000 ? 'met' : 'MISSED'}`,
  );
  console.log('');

  // 4. One intent change fans out to every device.
  commitWorkTree(
    wt,
    join(reposRoot, 'fleet.git'),
    { 'deployments/web.yaml': intent('bonjour') },
    'greeting bonjour',
  );
  t = performance.now();
  const s4 = await orch2.reconcileNow('bench change');
  const change = performance.now() - t;
  if (s4.committed !== N || s4.failed.length)
    throw new Error(`change: ${JSON.stringify({ ...s4, failed: s4.failed.slice(0, 3) })}`);
  line('intent change fan-out: orchestrator', change, s4.committed, `peak RSS ${rssMb()} MB`);
  if (!skipFloor) {
    const f4 = await floor(floorDirs, await desiredFiles());
    line(
      'intent change fan-out: floor (git fast-import)',
      f4.ms,
      N,
      `peak child RSS ${f4.peakChildRssMb} MB`,
    );
    console.log(`  ratio ${(change / f4.ms).toFixed(2)}x of the floor (target <= 3x)`);
  }
  // Sanity: git agrees the written repositories are sound.
  sh(root, '--git-dir', join(reposRoot, 'devices', `${ids[N - 1]}.git`), 'fsck', '--strict');
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!keep) rmSync(root, { recursive: true, force: true });
  });
