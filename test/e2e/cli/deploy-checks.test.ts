// `margo deploy` against a real `margo serve` (built CLI, real Git server): what the orchestrator
// would refuse is refused BEFORE anything is written (exit 1, the orchestrator's code, a hint, the
// fleet repository's main unchanged); --force writes it anyway and says what is wrong; the rollout
// flags write a `rollout:` block the fleet parser accepts. No agent and no Docker: nothing here
// needs a device to run anything (devices are added, not enrolled).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { parseDeploymentIntent } from '@margo-gitops/spec';
import { freePort, json, MargoCli, repoRoot as repo, stop, type Run } from './harness.js';

let dir: string;
let cli: MargoCli;
let server: ChildProcess | undefined;
/** The commit --force wrote (a deployment the orchestrator refuses), for the rollback check. */
let forcedCommit = '';

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const fleetGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', join(dir, 'margo-data/repos/fleet.git'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
/**
 * What the CLI committed: the `deploy ...` commits of fleet main (the orchestrator commits there
 * too, e.g. rollout state, so main's head alone does not tell).
 */
const deployCommits = () =>
  fleetGit('log', '--format=%H %s', 'main')
    .split('\n')
    .filter((l) => / deploy /.test(l));
const fleetFile = (path: string) => fleetGit('show', `main:${path}`);

before(async () => {
  assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
  dir = await mkdtemp(join(tmpdir(), 'margo-e2e-deploy-checks-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MARGO_CONFIG: join(dir, 'home', '.config', 'margo', 'config.json'),
    NO_COLOR: '1',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env);
  const port = await freePort();
  json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data', '--api-listen', 'off'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  json(await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
  json(await margo('device', 'add', 'press-07', '--label', 'line=a', '-o', 'json'));
  json(await margo('device', 'add', 'press-31', '--label', 'line=b', '-o', 'json'));
});

after(async () => {
  await stop(server);
  await rm(dir, { recursive: true, force: true });
});

describe('margo deploy refuses what the orchestrator would refuse', { timeout: 1_200_000 }, () => {
  const deploy = (...more: string[]) => margo('deploy', '--name', 'web', ...more);

  /** Runs a deploy that must be refused: exit 1, `error CODE: ...` and the hint, main unchanged. */
  async function refused(code: string, message: RegExp, hint: RegExp | undefined, ...args: string[]) {
    const before = deployCommits();
    const r = await deploy(...args);
    assert.equal(r.code, 1, `${args.join(' ')}\n${r.err}`);
    assert.match(
      r.err,
      new RegExp(`^error ${code}: deployment web would be refused by the orchestrator`, 'm'),
    );
    assert.match(r.err, message);
    assert.match(r.err, /nothing was written/);
    if (hint) assert.match(r.err, hint);
    assert.match(r.err, /--force writes it anyway/);
    assert.deepEqual(deployCommits(), before, 'nothing committed');
    return r;
  }

  it('an unknown application: the nearest id in the catalog', async () => {
    await refused(
      'ORCH_APP_NOT_FOUND',
      /application helo-world is not in the catalog/,
      /hint: Did you mean hello-world\?/,
      'helo-world@1.0.0',
      '--device',
      'press-07',
    );
  });

  it('an unknown version: the published versions', async () => {
    await refused(
      'ORCH_VERSION_NOT_FOUND',
      /hello-world/,
      /hint: Published versions of hello-world: 1\.0\.0/,
      'hello-world@9.9.9',
      '--device',
      'press-07',
    );
  });

  it('a device that is not in the fleet: the nearest ids; a selector matching none: the labels there are', async () => {
    await refused(
      'ORCH_DEVICE_NOT_REGISTERED',
      /device press-7 is not in the fleet repository/,
      /hint: Did you mean press-07\?/,
      'hello-world@1.0.0',
      '--device',
      'press-7',
    );
    await refused(
      'CLI_SELECTOR_MATCHES_NONE',
      /matches no device/,
      /hint: Labels in the fleet: line=a \(1\), line=b \(1\)/,
      'hello-world@1.0.0',
      '--selector',
      'line=c',
    );
  });

  it('parameter values outside the schema, unknown parameters, and secret values (before sealing, not shown)', async () => {
    await refused(
      'ORCH_PARAMETER_INVALID',
      /HOST_PORT/,
      undefined,
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--set',
      'HOST_PORT=80',
    );
    await refused(
      'ORCH_PARAMETER_UNKNOWN',
      /NOPE/,
      /Its parameters: GREETING, HOST_PORT/,
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--set',
      'NOPE=1',
    );
    // press-07 has not enrolled, so a secret could not even be sealed to it: the check comes first.
    await writeFile(join(dir, 'long.txt'), 'y'.repeat(201));
    const r = await refused(
      'ORCH_PARAMETER_INVALID',
      /GREETING.*maxLength 200.*the value is not shown/,
      undefined,
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--secret-file',
      'GREETING=long.txt',
    );
    assert.doesNotMatch(r.err, /yyyyyyyy/);
  });

  it('a bad rollout: file:line:col from the fleet parser; a canary that is not a target', async () => {
    await refused(
      'ORCH_FLEET_SCHEMA',
      /deployments\/web\.yaml:\d+:\d+: .*percent/,
      undefined,
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--waves',
      '150',
    );
    await refused(
      'ROLLOUT_WAVE_DEVICE_NOT_TARGET',
      /press-31 is not a target/,
      /Targets: press-07/,
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--canary',
      'press-31',
    );
  });

  it('several problems at once are listed, each with its code', async () => {
    const r = await refused(
      'ORCH_VERSION_NOT_FOUND',
      /\(2 problems\)[\s\S]*ORCH_DEVICE_NOT_REGISTERED: device press-99/,
      undefined,
      'hello-world@2',
      '--device',
      'press-99',
    );
    assert.match(r.err, /ORCH_VERSION_NOT_FOUND: application hello-world/);
  });

  it('--force writes anyway, with a warning naming the problems', async () => {
    const before = deployCommits();
    const r = await deploy('hello-world@9.9.9', '--device', 'press-99', '--force', '-o', 'json');
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /^warning: --force: writing deployment web although the orchestrator will refuse it:/m,
    );
    assert.match(r.err, /ORCH_VERSION_NOT_FOUND/);
    assert.match(r.err, /ORCH_DEVICE_NOT_REGISTERED: device press-99/);
    const out = JSON.parse(r.out) as { commit: string; problems: { code: string }[] };
    forcedCommit = out.commit;
    assert.deepEqual(
      out.problems.map((p) => p.code),
      ['ORCH_VERSION_NOT_FOUND', 'ORCH_DEVICE_NOT_REGISTERED'],
    );
    assert.deepEqual(deployCommits(), [`${out.commit} deploy web: hello-world@9.9.9`, ...before]);
    assert.equal(YAML.parse(fleetFile('deployments/web.yaml')).application.version, '9.9.9');
  });

  it('a good deploy to a device not enrolled yet passes; rollout flags write a valid rollout block; --reuse-values keeps it', async () => {
    const r = await deploy(
      'hello-world@1.0.0',
      '--device',
      'press-07',
      '--selector',
      'line=b',
      '--canary',
      'press-31',
      '--waves',
      '50,100',
      '--health-seconds',
      '60',
      '--manual-gate',
      '--max-concurrent',
      '1',
      '--failure-threshold',
      '10%',
      '--on-failure',
      'rollback',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const text = fleetFile('deployments/web.yaml');
    const parsed = parseDeploymentIntent(text, 'deployments/web.yaml');
    assert.deepEqual(parsed.findings, []);
    assert.deepEqual(parsed.value!.rollout, {
      maxConcurrent: 1,
      waves: [
        { name: 'canary', devices: ['press-31'], gate: { healthySeconds: 60, manual: true } },
        { name: 'wave-2', percent: 50, gate: { healthySeconds: 60, manual: false } },
        { name: 'wave-3', percent: 100, gate: { healthySeconds: 60, manual: false } },
      ],
      failureThreshold: { percent: 10 },
      onFailure: 'rollback',
    });
    // --reuse-values keeps the rollout; a rollout flag replaces it; without either it is dropped.
    const targets = ['--device', 'press-07', '--selector', 'line=b'];
    let again = await deploy(
      'hello-world@1.0.0',
      ...targets,
      '--reuse-values',
      '--set-string',
      'GREETING=hi',
    );
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(YAML.parse(fleetFile('deployments/web.yaml')).rollout, YAML.parse(text).rollout);
    // The kept canary must stay a target: dropping the selector that made it one is refused.
    const before = deployCommits();
    again = await deploy('hello-world@1.0.0', '--device', 'press-07', '--reuse-values');
    assert.equal(again.code, 1);
    assert.match(again.err, /^error ROLLOUT_WAVE_DEVICE_NOT_TARGET: .*press-31 is not a target/m);
    assert.deepEqual(deployCommits(), before);
    again = await deploy('hello-world@1.0.0', ...targets, '--reuse-values', '--max-concurrent', '2');
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(YAML.parse(fleetFile('deployments/web.yaml')).rollout, {
      waves: [{ percent: 100 }],
      maxConcurrent: 2,
    });
    again = await deploy('hello-world@1.0.0', '--device', 'press-07');
    assert.equal(again.code, 0, again.err);
    assert.equal(YAML.parse(fleetFile('deployments/web.yaml')).rollout, undefined);
  });

  it('the other fleet writers: rollback, undeploy, device add and label refuse what the orchestrator would', async () => {
    /** Subjects of the CLI's fleet commits (the orchestrator's own commits left out). */
    const cliCommits = () =>
      fleetGit('log', '--format=%s', 'main')
        .split('\n')
        .filter((l) => /^(rollback|undeploy|deploy|label device|add device) /.test(l));
    // Restoring the forced deployment is checked like a deploy.
    let before = cliCommits();
    let r = await margo('rollback', 'web', '--to', forcedCommit);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^error ORCH_VERSION_NOT_FOUND: rolling back deployment web would be refused/m);
    assert.match(r.err, /ORCH_DEVICE_NOT_REGISTERED: device press-99/);
    assert.deepEqual(cliCommits(), before);
    r = await margo('rollback', 'web', '--to', forcedCommit, '--force');
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^warning: --force: writing the rollback of deployment web/m);
    assert.equal(YAML.parse(fleetFile('deployments/web.yaml')).application.version, '9.9.9');
    // A deployment others depend on.
    json(await margo('deploy', 'hello-world@1.0.0', '--name', 'db', '--device', 'press-07', '-o', 'json'));
    json(
      await margo(
        'deploy',
        'hello-world@1.0.0',
        '--name',
        'app',
        '--device',
        'press-07',
        '--depends-on',
        'db',
        '-o',
        'json',
      ),
    );
    before = cliCommits();
    r = await margo('undeploy', 'db');
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /^error ORCH_FLEET_UNKNOWN_DEPENDENCY: removing deployment db would be refused.*deployment app depends on db/m,
    );
    assert.deepEqual(cliCommits(), before);
    r = await margo('undeploy', 'db', '--force');
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: --force/);
    assert.throws(() => fleetFile('deployments/db.yaml'));
    // A label the fleet parser refuses would drop the device from the fleet.
    before = cliCommits();
    r = await margo('device', 'label', 'press-07', 'bad key!=x');
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /^error ORCH_FLEET_SCHEMA: device press-07 would be refused by the orchestrator[\s\S]*devices\/press-07\.yaml:\d+:\d+/m,
    );
    r = await margo('device', 'add', 'press-50', '--label', `line=${'x'.repeat(64)}`);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^error ORCH_FLEET_SCHEMA: device press-50/m);
    assert.doesNotMatch(r.err + r.out, /mge1\./, 'no enrolment string issued');
    assert.deepEqual(cliCommits(), before);
  });
});
