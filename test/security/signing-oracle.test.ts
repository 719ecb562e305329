// The orchestrator as a signing oracle (issue 12, findings 1 and 2), against the real processes:
// `margo serve` and an enrolled `margo agent` running hello-world on the testbed's Docker engine.
// The attacker has write access to the Git host only (plain git straight into the bare
// repositories, no server, no token). Before the fix:
//  1. while a deployment was held (here: its fleet document broken on the Git host), the
//     orchestrator re-signed whatever bytes it found on the device's `main`, so an unsigned
//     hello.yaml without a manifest became a correctly signed commit the agent installed;
//  2. a version of 2^64-1 written into an unsigned margo-manifest.json was adopted as the
//     previous version, every later signing pass failed (ORCH_SIGNER_FAILED) and an undeploy never
//     reached the device, while `margo status` showed nothing wrong.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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

const GOOD = 'orchestrator-decided';
const EVIL = 'attacker-decided';

let dir: string;
let cli: MargoCli;
let port: number;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let deviceRepo = '';
let fleetRepo = '';
const seen = new Set<string>();
let watching: NodeJS.Timeout | undefined;

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const asMallory = ['-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid'];

const greeting = () => helloGreeting(hostPort);

/** Clones a bare repository on the "Git host", lets `edit` change the work tree, pushes it straight back. */
async function editOnHost(bare: string, name: string, edit: (wt: string) => Promise<void>): Promise<string> {
  const wt = join(dir, name);
  git(dir, 'clone', '-q', '-b', 'main', bare, wt);
  await edit(wt);
  git(wt, 'add', '-A');
  git(wt, ...asMallory, 'commit', '-qm', name);
  git(wt, 'push', '-q', 'origin', 'HEAD:main');
  return git(wt, 'rev-parse', 'HEAD');
}

/** Every commit on the device's main that carries a margo-manifest.json and whose hello.yaml has `text`. */
function signedCommitsWith(text: string): string[] {
  return git(dir, '--git-dir', deviceRepo, 'log', '--format=%H', 'main')
    .split('\n')
    .filter((c) => {
      try {
        git(dir, '--git-dir', deviceRepo, 'cat-file', '-e', `${c}:margo-manifest.json`);
        return git(dir, '--git-dir', deviceRepo, 'show', `${c}:deployments/hello.yaml`).includes(text);
      } catch {
        return false;
      }
    });
}

interface DeviceStatusRow {
  deviceId: string;
  desiredStateProblem?: { code: string; message: string; hint: string; commit: string | null };
  repoError?: { code: string };
}
async function deviceRow(): Promise<DeviceStatusRow | undefined> {
  const r = await margo('status', '-o', 'json');
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.out) as { devices: DeviceStatusRow[] }).devices.find((d) => d.deviceId === 'dev1');
}

before(async () => {
  ({ dir, port, hostPort, cli } = await e2eRun('margo-oracle-'));
  deviceRepo = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
  fleetRepo = join(dir, 'margo-data', 'repos', 'fleet.git');
});

after(async () => {
  if (watching) clearInterval(watching);
  await stop(agent);
  await stop(server);
  removeWorkloadOnPort(hostPort);
  await rm(dir, { recursive: true, force: true });
});

describe('the orchestrator signs only what it decided', { timeout: 900_000 }, () => {
  it('setup: serve (2 s reconcile), enrol dev1, deploy hello-world', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
    // A short periodic pass: edits made straight on the Git host notify nobody.
    const cfgPath = join(dir, 'margo-data', 'config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, reconcileIntervalSeconds: 2 }));
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
    agent = await cli.start(
      'agent',
      // Over Git: these attacks are pushes to the device repository (see gitAgentArgs).
      gitAgentArgs(port, tokenFile),
      /agent for device dev1 running/,
    );
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    json(await margo(...deployHelloArgs({ device: 'dev1', greeting: GOOD, hostPort })));
    await cli.until(180, `GREETING=${GOOD}`, async () => (await greeting()) === GOOD);
    watching = setInterval(() => void greeting().then((g) => g && seen.add(g)), 250);
  });

  it('finding 1: a held deployment does not turn unsigned bytes pushed to main into a signed commit', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    // Hold the deployment: its fleet document becomes invalid (the orchestrator keeps what the
    // device has for a broken intent rather than removing it over a typo).
    await editOnHost(fleetRepo, 'break-intent', async (wt) => {
      await writeFile(join(wt, 'deployments', 'hello.yaml'), 'kind: Deployment\nname: hello\nbroken: [\n');
    });
    await cli.until(60, 'the orchestrator to see the broken intent', async () =>
      /ORCH_FLEET_YAML_INVALID|ORCH_FLEET_SCHEMA/.test(cli.logs.serve ?? ''),
    );
    // The oracle request: an unsigned hello.yaml with the attacker's value, the manifest removed
    // (which used to force a re-sign of what was there).
    const planted = await editOnHost(deviceRepo, 'plant', async (wt) => {
      const f = join(wt, 'deployments', 'hello.yaml');
      await writeFile(f, (await readFile(f, 'utf8')).replace(GOOD, EVIL));
      await rm(join(wt, 'margo-manifest.json'));
    });
    const row = await cli.until(60, 'the foreign commit to be reported', async () => {
      const d = await deviceRow();
      return d?.desiredStateProblem?.commit === planted ? d : undefined;
    });
    assert.equal(row.desiredStateProblem!.code, 'ORCH_DEVICE_REPO_TAMPERED');
    assert.match(row.desiredStateProblem!.message, /TRUST_MANIFEST_MISSING/);
    assert.match(row.desiredStateProblem!.hint, /Git host/);
    await cli.until(60, 'main to hold the signed state again', async () => {
      const head = git(dir, '--git-dir', deviceRepo, 'show', 'main:deployments/hello.yaml');
      return head.includes(GOOD) && !head.includes(EVIL);
    });
    assert.match(
      git(dir, '--git-dir', deviceRepo, 'log', '-1', '--format=%s%n%b', 'main'),
      new RegExp(
        `restore the signed desired state[\\s\\S]*Margo-Replaced-Unsigned: ${planted} TRUST_MANIFEST_MISSING`,
      ),
    );
    assert.deepEqual(signedCommitsWith(EVIL), [], 'no signed commit carries the attacker value');
    assert.match((await margo('status')).out, /device problems[\s\S]*dev1\s+ORCH_DEVICE_REPO_TAMPERED/);
    assert.match((await margo('device', 'show', 'dev1')).out, /Desired state:\s+ORCH_DEVICE_REPO_TAMPERED/);
    // A few more passes while the intent is still broken change nothing.
    const head = git(dir, '--git-dir', deviceRepo, 'rev-parse', 'main');
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(git(dir, '--git-dir', deviceRepo, 'rev-parse', 'main'), head, 'restoring is idempotent');
    assert.equal(await greeting(), GOOD);
  });

  it('finding 2: a 2^64-1 version written to main neither poisons signing nor hides an undeploy', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const before = JSON.parse(git(dir, '--git-dir', deviceRepo, 'show', 'main:margo-manifest.json')) as {
      manifest: { version: string };
    };
    const planted = await editOnHost(deviceRepo, 'poison', async (wt) => {
      const f = join(wt, 'margo-manifest.json');
      const doc = JSON.parse(await readFile(f, 'utf8')) as { manifest: Record<string, string> };
      doc.manifest.version = '18446744073709551615';
      doc.manifest.expiresAt = '2000-01-01T00:00:00.000Z';
      await writeFile(f, JSON.stringify(doc));
    });
    await cli.until(60, 'the poisoned commit to be reported', async () => {
      const d = await deviceRow();
      return d?.desiredStateProblem?.commit === planted ? d : undefined;
    });
    // The operator repairs the intent and then removes the deployment: both reach the device.
    await editOnHost(fleetRepo, 'repair-intent', async (wt) => {
      await rm(join(wt, 'deployments', 'hello.yaml'));
    });
    await cli.until(90, 'the workload to be removed', async () => (await greeting()) === undefined);
    const after = JSON.parse(git(dir, '--git-dir', deviceRepo, 'show', 'main:margo-manifest.json')) as {
      manifest: { version: string };
    };
    assert.ok(BigInt(after.manifest.version) > BigInt(before.manifest.version));
    assert.ok(
      BigInt(after.manifest.version) < 1n << 62n,
      `version ${after.manifest.version} was not taken from main`,
    );
    assert.equal((await deviceRow())?.repoError, undefined, 'no signing failure');
  });

  it('the workload never ran what the attacker wrote', (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(seen.has(GOOD), 'the watcher saw the workload');
    assert.ok(!seen.has(EVIL), `served greetings: ${[...seen].join(', ')}`);
  });
});
