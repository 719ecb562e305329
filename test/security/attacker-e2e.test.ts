// The attacker, against the real processes: `margo serve` (embedded Git server, onboarding,
// orchestrator signing desired state) and an enrolled `margo agent` running hello-world on the
// testbed's Docker engine. The attacker edits and rewinds the device repository directly on the
// Git host, uses the device's Git token to read another device's repository, push to `main` and
// forge status, reuses the enrolment token, and keeps using a revoked device. Each attempt is
// refused with its code, and the workload never runs anything the orchestrator did not sign.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireComponent } from '../testbed/env.js';
import {
  deployHelloArgs,
  json,
  type MargoCli,
  removeWorkloadOnPort,
  repoRoot,
  stop,
  type Run,
} from '../e2e/cli/harness.js';
import { e2eRun, helloGreeting } from './helpers.js';

const FIRST = 'first-greeting';
const SECOND = 'second-greeting';
const EVIL = 'pwned-greeting';

let dir: string;
let cli: MargoCli;
let port: number;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let enrolmentToken = '';
let deviceRepo = '';
/** Every GREETING the workload served while the attacks ran. */
const seen = new Set<string>();
let watching: NodeJS.Timeout | undefined;

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
/** Commits everything in work tree `wt` as the attacker. */
const commitAsMallory = (wt: string, message: string) =>
  git(wt, '-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid', 'commit', '-qam', message);
/** Runs git expecting failure; returns its stderr. */
function gitFails(cwd: string, ...args: string[]): string {
  try {
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
  assert.fail(`git ${args.join(' ')} succeeded`);
}

const greeting = () => helloGreeting(hostPort);

async function state(): Promise<string | undefined> {
  const r = await margo('status', 'hello', '-o', 'json');
  if (r.code !== 0) return undefined;
  return (
    JSON.parse(r.out) as { deployment: { devices: { deviceId: string; state: string }[] } }
  ).deployment.devices.find((d) => d.deviceId === 'dev1')?.state;
}

const deploy = async (value: string) =>
  json(await margo(...deployHelloArgs({ device: 'dev1', greeting: value, hostPort })));

/** The commits of the device's `main` whose hello deployment carries `value`. */
function commitsWith(value: string): string[] {
  return git(dir, '--git-dir', deviceRepo, 'log', '--format=%H', 'main')
    .split('\n')
    .filter((c) => {
      try {
        return git(dir, '--git-dir', deviceRepo, 'show', `${c}:deployments/hello.yaml`).includes(value);
      } catch {
        return false;
      }
    });
}

const agentSays = (code: string) =>
  cli.until(90, `the agent to log ${code}`, async () => (cli.logs.agent ?? '').includes(code));

before(async () => {
  ({ dir, port, hostPort, cli } = await e2eRun('margo-attacker-'));
  deviceRepo = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
});

after(async () => {
  if (watching) clearInterval(watching);
  if (server && server.exitCode === null) {
    await margo('undeploy', 'hello');
  }
  await stop(agent);
  await stop(server);
  removeWorkloadOnPort(hostPort);
  await rm(dir, { recursive: true, force: true });
});

describe('attacker against the real server and agent', { timeout: 900_000 }, () => {
  it('setup: serve, enrol dev1, deploy hello-world twice (two signed commits)', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
    server = await cli.start(
      'serve',
      ['serve', '--data', 'margo-data'],
      /status\s+http:\/\/\S+\/api\/v1\/status/,
    );
    enrolmentToken = json<{ enrolmentToken: string }>(
      await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
    ).enrolmentToken;
    json(await margo('device', 'add', 'dev2', '--role', 'standalone-device', '-o', 'json'));
    // The attacks are on the Git host, so the agent runs over Git (`auto` would take the API).
    agent = await cli.start(
      'agent',
      [
        'agent',
        '--server',
        `http://127.0.0.1:${port}`,
        '--token',
        enrolmentToken,
        '--state',
        'agent-state',
        '--transport',
        'git',
      ],
      /agent for device dev1 running/,
    );
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    await deploy(FIRST);
    await cli.until(180, `GREETING=${FIRST}`, async () => (await greeting()) === FIRST);
    await deploy(SECOND);
    await cli.until(120, `GREETING=${SECOND}`, async () => (await greeting()) === SECOND);
    await cli.until(60, 'installed', async () => (await state()) === 'installed');
    assert.equal(commitsWith(FIRST).length > 0, true);
    watching = setInterval(() => {
      void greeting().then((g) => g && seen.add(g));
    }, 250);
  });

  it('a file edited directly on the Git host is refused (TRUST_MANIFEST_FILE_CHANGED); the orchestrator restores it', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const wt = join(dir, 'evil-edit');
    git(dir, 'clone', '-q', '-b', 'main', deviceRepo, wt);
    const file = join(wt, 'deployments', 'hello.yaml');
    const text = await readFile(file, 'utf8');
    assert.ok(text.includes(SECOND));
    await writeFile(file, text.replace(SECOND, EVIL));
    commitAsMallory(wt, 'innocent change');
    git(wt, 'push', '-q', 'origin', 'HEAD:main'); // straight into the bare repository: no server, no orchestrator
    await agentSays('TRUST_MANIFEST_FILE_CHANGED');
    await cli.until(120, 'the orchestrator to restore the signed state', async () => {
      const head = git(dir, '--git-dir', deviceRepo, 'show', 'main:deployments/hello.yaml');
      return !head.includes(EVIL) && head.includes(SECOND);
    });
    await cli.until(60, 'installed again', async () => (await state()) === 'installed');
    assert.equal(await greeting(), SECOND);
  });

  it('an older signed commit replayed on the Git host is refused (TRUST_MANIFEST_ROLLBACK)', async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const old = commitsWith(FIRST).at(-1)!;
    git(dir, '--git-dir', deviceRepo, 'update-ref', 'refs/heads/main', old);
    await agentSays('TRUST_MANIFEST_ROLLBACK');
    assert.equal(await greeting(), SECOND, 'the last good state keeps running');
    await cli.until(120, 'the orchestrator to move main forward again', async () =>
      git(dir, '--git-dir', deviceRepo, 'show', 'main:deployments/hello.yaml').includes(SECOND),
    );
  });

  it("with the device's Git token: another device's repository and pushing to main are refused", async (t) => {
    if (!requireComponent(t, ['docker', 'image']) || !agent) return;
    const e = JSON.parse(await readFile(join(dir, 'agent-state', 'identity', 'enrolment.json'), 'utf8')) as {
      repoUrl: string;
      token: string;
    };
    const auth = ['-c', `http.extraHeader=Authorization: Bearer ${e.token}`];
    const other = e.repoUrl.replace(/dev1\.git$/, 'dev2.git');
    assert.notEqual(other, e.repoUrl);
    assert.match(gitFails(dir, ...auth, 'ls-remote', other), /403|404|denied|not found/i);
    const wt = join(dir, 'device-token');
    git(dir, ...auth, 'clone', '-q', '-b', 'main', e.repoUrl, wt);
    await writeFile(join(wt, 'deployments', 'hello.yaml'), 'kind: nothing good\n');
    commitAsMallory(wt, 'take over');
    assert.match(
      gitFails(wt, ...auth, 'push', 'origin', 'HEAD:main'),
      /remote rejected.*GIT_ACCESS_DENIED a device token may update only refs\/heads\/status/,
    );
    assert.ok(
      !git(dir, '--git-dir', deviceRepo, 'show', 'main:deployments/hello.yaml').includes('nothing good'),
    );

    // Forged status: pushed with the device's own token but without the device key (agent stopped
    // so it does not overwrite it). The server ignores and flags it.
    await stop(agent);
    agent = undefined;
    git(wt, 'checkout', '-q', '--orphan', 'forged');
    git(wt, 'rm', '-rfq', '.');
    await writeFile(join(wt, 'capabilities.json'), '{"id":"dev1","roles":["Standalone Cluster"]}');
    git(wt, 'add', '-A');
    commitAsMallory(wt, 'forged status');
    git(wt, ...auth, 'push', '-q', '-f', 'origin', 'HEAD:status');
    const shown = await cli.until(60, 'the forged status to be flagged', async () => {
      const r = await margo('device', 'show', 'dev1', '-o', 'json');
      const d =
        r.code === 0
          ? (JSON.parse(r.out) as { status?: { statusProblems?: { code: string }[] } })
          : undefined;
      return d?.status?.statusProblems?.length ? d.status.statusProblems : undefined;
    });
    assert.equal(shown[0]!.code, 'TRUST_STATUS_UNSIGNED');
    assert.match(
      (await margo('device', 'show', 'dev1')).out,
      /Status ignored:\s+capabilities\.json: TRUST_STATUS_UNSIGNED/,
    );
    assert.match(cli.logs.serve ?? '', /status file ignored/);
  });

  it('the enrolment token cannot be used twice', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    const r = await margo(
      'agent',
      '--server',
      `http://127.0.0.1:${port}`,
      '--token',
      enrolmentToken,
      '--state',
      'agent-state-2',
    );
    assert.notEqual(r.code, 0);
    assert.match(r.err, /TRUST_ENROL_TOKEN_USED|TRUST_DEVICE_ALREADY_ENROLLED/);
  });

  it('a revoked device loses Git access at once', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.equal((await margo('device', 'revoke', 'dev1')).code, 0);
    agent = await cli.start(
      'agent',
      ['agent', '--state', 'agent-state', '--transport', 'git'],
      /agent for device dev1 running|GIT_AUTH_FAILED/,
    );
    await agentSays('GIT_AUTH_FAILED');
  });

  it('the workload never ran what the attacker wrote', (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(seen.has(SECOND), 'the watcher saw the workload');
    assert.ok(!seen.has(EVIL), `served greetings: ${[...seen].join(', ')}`);
  });
});
