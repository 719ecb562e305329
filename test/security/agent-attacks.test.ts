// The device agent's side of issue 12 (findings 4, 8 and 10), against the real processes: `margo
// serve` and an enrolled `margo agent` running hello-world on the testbed's Docker engine. The
// attacker has write access to the Git host (plain git straight into the bare repositories).
//  - Freeze: the repository stays on an accepted commit past its manifest's expiry. Before the fix
//    the agent checked expiry only when the commit changed, so a healthy device never noticed.
//    The agent's clock is moved 8 days ahead (test/security/clock-shift.mjs) while the server
//    keeps the real time, so from the device's side `main` is frozen on an expired commit.
//  - A refused commit's own documents (an added deployment) were reported as device-signed
//    per-deployment status; now only the last good state's deployments carry the refusal.
//  - Symlinks and gitlinks in a validly signed tree were accepted. An attacker cannot sign, so the
//    commit is made here with the orchestrator's own key (defence in depth: a signing bug or a
//    leaked key must still not smuggle links into the device).
//  - Every status commit carries a signed observed.json {commit, seq, files} (finding 8, agent side).
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseObserved } from '@margo-gitops/spec';
import { createSignedManifest, loadPki, MANIFEST_FILE, nextManifestVersion } from '@margo-gitops/trust';
import { requireComponent } from '../testbed/env.js';
import {
  deployHelloArgs,
  json,
  MargoCli,
  removeWorkloadOnPort,
  repoRoot,
  stop,
  type Run,
} from '../e2e/cli/harness.js';
import { e2eRun, gitAgentArgs, helloGreeting } from './helpers.js';

const FIRST = 'before-the-freeze';
const SECOND = 'after-the-freeze';
const EVIL = 'through-a-link';
const DAY = 86_400_000;

let dir: string;
let cli: MargoCli;
let port: number;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let deviceRepo = '';
let clockFile = '';
let helloId = '';
const seen = new Set<string>();
let watching: NodeJS.Timeout | undefined;

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const host = (...args: string[]) => git(dir, '--git-dir', deviceRepo, ...args);
const asMallory = ['-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid'];

const greeting = () => helloGreeting(hostPort);

/** A file of the device's status branch (or of one status commit), parsed; undefined when absent. */
function statusJson<T = any>(path: string, rev = 'status'): T | undefined {
  try {
    return JSON.parse(host('show', `${rev}:${path}`)) as T;
  } catch {
    return undefined;
  }
}

/** Moves the agent's wall clock by `ms` (read by clock-shift.mjs on SIGUSR2). */
async function shiftAgentClock(ms: number): Promise<void> {
  await writeFile(clockFile, String(ms));
  agent!.kill('SIGUSR2');
}

/** The status commit whose observed.json names `desired`, if the agent made one. */
function statusCommitObserving(desired: string): string | undefined {
  for (const c of host('rev-list', 'status').split('\n').filter(Boolean)) {
    try {
      if (parseObserved(host('show', `${c}:observed.json`)).commit === desired) return c;
    } catch {
      // an unparsable observed.json is asserted on elsewhere
    }
  }
  return undefined;
}

/**
 * Pushes an attack commit (made by `push(attempt)`) until the agent has acted on one: every status
 * push makes the orchestrator restore `main`, which may happen before the agent's next fetch. Returns
 * the status commit that observed the attack commit.
 */
async function untilAgentActsOn(what: string, push: (attempt: number) => Promise<string>): Promise<string> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    // Quiet first: the agent has reported on the current main, so the orchestrator pass that
    // report starts is not the one that meets the attack commit.
    await cli.until(60, 'the agent to act on the current main', async () =>
      statusCommitObserving(host('rev-parse', 'main')),
    );
    const commit = await push(attempt);
    const acted = await cli.until(
      60,
      `the agent or the orchestrator to act on ${what}`,
      async () =>
        statusCommitObserving(commit) ?? (host('rev-parse', 'main') !== commit ? 'restored' : undefined),
    );
    if (acted !== 'restored') return acted;
    // Restored before the agent fetched it: once more, or the agent still acts on it late.
    const late = statusCommitObserving(commit);
    if (late) return late;
  }
  assert.fail(
    `the agent never fetched ${what} before the orchestrator restored main:\n${(cli.logs.agent ?? '').slice(-3000)}`,
  );
}

/**
 * As an attacker holding the orchestrator's signing key (see the file comment): clones main, lets
 * `edit` change and stage (the index is what is signed and committed), signs every blob for dev1
 * and pushes straight into the bare repository. Returns the commit.
 */
async function pushSigned(name: string, edit: (wt: string) => Promise<void>): Promise<string> {
  const wt = join(dir, name);
  await rm(wt, { recursive: true, force: true });
  git(dir, 'clone', '-q', '-b', 'main', deviceRepo, wt);
  const previous = await readFile(join(wt, MANIFEST_FILE));
  await edit(wt);
  const files = new Map<string, Buffer>();
  for (const line of git(wt, 'ls-files', '-s').split('\n')) {
    const [meta, path] = line.split('\t') as [string, string];
    const [mode, oid] = meta.split(' ') as [string, string];
    // A gitlink has no content to hash: the manifest cannot list it (readFiles never sees it).
    if (mode === '160000' || path === MANIFEST_FILE) continue;
    files.set(path, execFileSync('git', ['cat-file', 'blob', oid], { cwd: wt }));
  }
  const pki = await loadPki(join(dir, 'margo-data', 'pki'));
  const manifest = createSignedManifest(
    {
      deviceId: 'dev1',
      files,
      version: nextManifestVersion(previous),
      expiresAt: new Date(Date.now() + DAY),
    },
    pki.signing,
  );
  await writeFile(join(wt, MANIFEST_FILE), manifest);
  git(wt, 'add', MANIFEST_FILE);
  git(wt, ...asMallory, 'commit', '-qm', name); // not -a: a gitlink has no folder in the work tree
  // Forced: the orchestrator may have restored main meanwhile (the host lets the attacker).
  git(wt, 'push', '-q', '-f', 'origin', 'HEAD:main');
  return git(wt, 'rev-parse', 'HEAD');
}

before(async () => {
  ({ dir, port, hostPort, cli } = await e2eRun('margo-agent-attacks-'));
  deviceRepo = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
  clockFile = join(dir, 'agent-clock-offset');
});

after(async () => {
  if (watching) clearInterval(watching);
  if (server && server.exitCode === null) await margo('undeploy', 'hello');
  await stop(agent);
  await stop(server);
  removeWorkloadOnPort(hostPort);
  await rm(dir, { recursive: true, force: true });
});

describe('attacks on the device agent, real server and agent', { timeout: 900_000 }, () => {
  it('setup: serve, enrol dev1 (its clock movable), deploy hello-world', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
    server = await cli.start(
      'serve',
      ['serve', '--data', 'margo-data'],
      /status\s+http:\/\/\S+\/api\/v1\/status/,
    );
    const token = json<{ enrolmentToken: string }>(
      await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
    ).enrolmentToken;
    const tokenFile = join(dir, 'enrolment-token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    await writeFile(clockFile, '0');
    const preload = pathToFileURL(join(repoRoot, 'test/security/clock-shift.mjs')).href;
    // These attacks go through the Git host (commits straight into the bare repository), so the
    // agent runs over Git: over the API, `margo serve` does not even serve a main it cannot verify.
    agent = await cli.start('agent', gitAgentArgs(port, tokenFile), /agent for device dev1 running/, {
      MARGO_TEST_CLOCK_FILE: clockFile,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' '),
    });
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    json(await margo(...deployHelloArgs({ device: 'dev1', greeting: FIRST, hostPort })));
    await cli.until(180, `GREETING=${FIRST}`, async () => (await greeting()) === FIRST);
    helloId = await cli.until(60, 'the hello status', async () => {
      const f = host('ls-tree', '--name-only', 'status', 'deployments/').split('\n')[0];
      return f ? f.replace(/^deployments\/|\.json$/g, '') : undefined;
    });
    await cli.until(60, 'hello installed', async () =>
      statusJson(`deployments/${helloId}.json`)?.status?.state === 'installed' ? true : undefined,
    );
    watching = setInterval(() => void greeting().then((g) => g && seen.add(g)), 250);
  });

  it('status: every status commit carries a signed observed.json naming the desired commit and every file', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const head = host('rev-parse', 'status');
    const obs = parseObserved(host('show', `${head}:observed.json`));
    assert.match(obs.commit, /^[0-9a-f]{40}$/);
    assert.equal(host('cat-file', '-t', obs.commit), 'commit', 'a commit of the device repository');
    const paths = host('ls-tree', '-r', '--name-only', head).split('\n');
    const others = paths.filter((p) => p !== 'signatures.json' && p !== 'observed.json');
    assert.deepEqual([...obs.files.keys()].sort(), others.sort());
    for (const p of others) {
      const bytes = execFileSync('git', ['--git-dir', deviceRepo, 'show', `${head}:${p}`]);
      assert.equal(obs.files.get(p), `sha256:${createHash('sha256').update(bytes).digest('hex')}`, p);
    }
    const sigs = statusJson<Record<string, string>>('signatures.json', head)!;
    assert.ok(sigs['observed.json'], 'observed.json is signed like the other status files');
    const earlier = host('rev-list', '--skip=1', '-1', 'status');
    if (earlier) assert.ok(obs.seq > parseObserved(host('show', `${earlier}:observed.json`)).seq);
  });

  it('freeze: an expired accepted state is reported TRUST_MANIFEST_EXPIRED on the next poll without a new commit; a fresh signed commit clears it', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const frozen = host('rev-parse', 'main');
    const signedUntil = Date.parse(
      (JSON.parse(host('show', 'main:margo-manifest.json')) as { manifest: { expiresAt: string } }).manifest
        .expiresAt,
    );
    // The device's clock passes the expiry; the server (real time) sees nothing to re-sign.
    await shiftAgentClock(signedUntil - Date.now() + DAY);
    t.after(() => shiftAgentClock(0)); // the later cases must not fail for this one
    const st = await cli.until(90, 'TRUST_MANIFEST_EXPIRED in the hello status', async () => {
      const s = statusJson(`deployments/${helloId}.json`);
      return s?.status?.error?.code === 'TRUST_MANIFEST_EXPIRED' ? s : undefined;
    });
    assert.equal(host('rev-parse', 'main'), frozen, 'noticed without any new desired commit');
    assert.equal(st['x-margo-gitops-extensions'].commit, frozen);
    assert.match(cli.logs.agent ?? '', /desired state expired; last good state keeps running/);
    assert.equal(await greeting(), FIRST, 'the last good state keeps running');

    // Recovery: the clock is right again and the orchestrator signs a fresh commit.
    await shiftAgentClock(0);
    json(await margo(...deployHelloArgs({ device: 'dev1', greeting: SECOND, hostPort })));
    await cli.until(180, `GREETING=${SECOND}`, async () => (await greeting()) === SECOND);
    await cli.until(60, 'hello installed without error', async () => {
      const s = statusJson(`deployments/${helloId}.json`);
      return s?.status?.state === 'installed' && !s.status.error ? true : undefined;
    });
  });

  it('a refused commit produces no per-deployment status from its own documents', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const ghostId = randomUUID();
    const acted = await untilAgentActsOn('the unsigned commit', async (attempt) => {
      const wt = join(dir, `ghost-${attempt}`);
      git(dir, 'clone', '-q', '-b', 'main', deviceRepo, wt);
      const hello = parseYaml(await readFile(join(wt, 'deployments', 'hello.yaml'), 'utf8')) as any;
      hello.metadata.name = 'ghost';
      hello.metadata.annotations.id = ghostId;
      await writeFile(join(wt, 'deployments', 'ghost.yaml'), stringifyYaml(hello));
      git(wt, 'add', '-A');
      git(wt, ...asMallory, 'commit', '-qm', 'one more deployment');
      git(wt, 'push', '-q', '-f', 'origin', 'HEAD:main'); // unsigned: the file is not in the manifest
      return git(wt, 'rev-parse', 'HEAD');
    });
    assert.equal(
      statusJson(`deployments/${helloId}.json`, acted)?.status?.error?.code,
      'TRUST_MANIFEST_FILE_ADDED',
      'the refusal is reported on the last good deployment',
    );
    assert.equal(
      host('log', '--format=%H', 'status', '--', `deployments/${ghostId}.json`),
      '',
      'no status commit ever carried the refused document',
    );
    assert.equal(await greeting(), SECOND);
  });

  it('a signed tree with a symlink is refused whole (TRUST_TREE_ENTRY_INVALID; defence in depth)', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const acted = await untilAgentActsOn('the symlink commit', () =>
      pushSigned('symlink', async (wt) => {
        const f = join(wt, 'deployments', 'hello.yaml');
        await writeFile(f, (await readFile(f, 'utf8')).replace(SECOND, EVIL));
        await symlink('/etc/passwd', join(wt, 'deployments', 'passwd.yaml'));
        git(wt, 'add', '-A');
      }),
    );
    const err = statusJson(`deployments/${helloId}.json`, acted)?.status?.error;
    assert.equal(err?.code, 'TRUST_TREE_ENTRY_INVALID');
    assert.match(err.message, /deployments\/passwd\.yaml \(symlink 120000\)/);
    assert.equal(await greeting(), SECOND);
  });

  it('a signed tree with a gitlink is refused whole (TRUST_TREE_ENTRY_INVALID; defence in depth)', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const acted = await untilAgentActsOn('the gitlink commit', () =>
      pushSigned('gitlink', async (wt) => {
        const f = join(wt, 'deployments', 'hello.yaml');
        await writeFile(f, (await readFile(f, 'utf8')).replace(/after-the-freeze|through-a-link/, EVIL));
        git(wt, 'add', 'deployments/hello.yaml');
        git(wt, 'rm', '-q', '--ignore-unmatch', 'deployments/passwd.yaml');
        git(wt, 'update-index', '--add', '--cacheinfo', `160000,${git(wt, 'rev-parse', 'HEAD')},vendor/sub`);
      }),
    );
    const err = statusJson(`deployments/${helloId}.json`, acted)?.status?.error;
    assert.equal(err?.code, 'TRUST_TREE_ENTRY_INVALID');
    assert.match(err.message, /vendor\/sub \(gitlink \(submodule\) 160000\)/);
    assert.equal(await greeting(), SECOND);
  });

  it('the workload never ran what came through a link', (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    assert.ok(seen.has(SECOND), 'the watcher saw the workload');
    assert.ok(!seen.has(EVIL), `served greetings: ${[...seen].join(', ')}`);
  });
});
