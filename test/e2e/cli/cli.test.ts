// Drives the built CLI (node packages/cli/bin/margo.js) as a user would, in a temporary folder:
// init -> serve -> device add -> agent -> publish -> deploy -> status (installed, on the real Docker
// engine of the testbed) -> set a parameter -> undeploy -> rollback, checking output and exit codes,
// including -o json. The device runs the stand-alone `margo-agent` (the bundle, through its
// launcher with the small-device V8 flags), as devices do; test/security/attacker-e2e.test.ts runs
// `margo agent`. Needs `npm run build` (npm test does it) and the testbed's docker + image.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireComponent } from '../../testbed/env.js';
import {
  cliSuite,
  deployHelloArgs,
  freePort,
  json,
  MargoCli,
  margoAgentBin,
  removeWorkloadOnPort,
  repoRoot as repo,
  servedHello,
  stop,
  type Run,
} from './harness.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let cli: MargoCli;
let port: number;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let enrolmentToken = '';
let firstDeployCommit = '';

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const until = <T>(seconds: number, what: string, get: () => Promise<T | undefined | false>) =>
  cli.until(seconds, what, get);

interface Row {
  deviceId: string;
  state: string;
  error?: { code: string; message: string };
}
async function deviceRow(name: string): Promise<Row | undefined> {
  const r = await margo('status', name, '-o', 'json');
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.out) as { deployment: { devices: Row[] } }).deployment.devices.find(
    (d) => d.deviceId === 'dev1',
  );
}
const deviceState = async (name: string) => (await deviceRow(name))?.state;

const served = (): Promise<string | undefined> => servedHello(hostPort);

before(async () => {
  ({ dir, env, cli } = await cliSuite('margo-e2e-cli-'));
  port = await freePort();
  hostPort = await freePort();
});

after(async () => {
  // Leave no container behind: remove the deployment if it is still there, then stop everything.
  if (server && server.exitCode === null && agent && agent.exitCode === null) {
    const r = await margo('undeploy', 'hello');
    if (r.code === 0) await until(60, 'removal at cleanup', async () => !(await served())).catch(() => {});
  }
  await stop(agent);
  await stop(server);
  removeWorkloadOnPort(hostPort, env);
  await rm(dir, { recursive: true, force: true });
});

describe('margo CLI end to end', { timeout: 600_000 }, () => {
  it('init creates the data folder, prints tokens once, refuses to overwrite', async () => {
    const r = await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json');
    const res = json<{ tokens: Record<string, string>; server: string }>(r);
    assert.match(res.tokens.admin!, /\S{20,}/);
    assert.equal(res.server, `http://127.0.0.1:${port}`);
    const again = await margo('init', '--data', 'margo-data');
    assert.equal(again.code, 5);
    assert.match(again.err, /^error CLI_DATA_DIR_EXISTS: .*\nhint: /m);
    const usage = await margo('deploy', 'x');
    assert.equal(usage.code, 2);
  });

  it('serve prints its URLs', async () => {
    server = await cli.start(
      'serve',
      ['serve', '--data', 'margo-data'],
      /status\s+http:\/\/\S+\/api\/v1\/status/,
    );
    assert.match(cli.logs.serve!, new RegExp(`margo serving on http://127\\.0\\.0\\.1:${port}`));
    const st = json<{ deployments: unknown[] }>(await margo('status', '-o', 'json'));
    assert.deepEqual(st.deployments, []);
  });

  it('device add commits the device and prints a one-time enrolment token', async () => {
    const r = json<{ id: string; enrolmentToken: string; commit: string }>(
      await margo(
        'device',
        'add',
        'dev1',
        '--role',
        'standalone-device',
        '--label',
        'site=e2e',
        '-o',
        'json',
      ),
    );
    assert.equal(r.id, 'dev1');
    assert.match(r.commit, /^[0-9a-f]{40}$/);
    enrolmentToken = r.enrolmentToken;
    const list = json<{ id: string; labels: Record<string, string> }[]>(
      await margo('device', 'list', '-o', 'json'),
    );
    assert.deepEqual(
      list.map((d) => [d.id, d.labels]),
      [['dev1', { site: 'e2e' }]],
    );
    assert.equal((await margo('device', 'add', 'dev1')).code, 5);
  });

  it('margo-agent enrols with the token', async () => {
    agent = await cli.start(
      'agent',
      ['--server', `http://127.0.0.1:${port}`, '--token', enrolmentToken, '--state', 'agent-state'],
      /agent for device dev1 running/,
      {},
      [margoAgentBin],
    );
    // It runs the bundle under the flags of its launcher, as one process (the shell exec'd node).
    const cmdline = (await readFile(`/proc/${agent.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(cmdline.includes('--no-opt'), cmdline.join(' '));
    assert.match(cmdline.join(' '), /dist\/bundle\/margo-agent\.mjs --server/);
    // The server records the enrolment in the fleet repository (one commit, visible in device show).
    const shown = await until(30, 'the enrolment in the fleet repository', async () => {
      const d = json<{ enrolment?: { enrolledAt?: string; certificateFingerprint?: string } }>(
        await margo('device', 'show', 'dev1', '-o', 'json'),
      );
      return d.enrolment?.enrolledAt ? d.enrolment : undefined;
    });
    assert.match(shown.certificateFingerprint ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('app publish: a bad package is refused with the server findings; a good one lands', async () => {
    const bad = join(dir, 'bad-app');
    await mkdir(bad, { recursive: true });
    await writeFile(
      join(bad, 'margo.yaml'),
      'apiVersion: margo.org/v1-alpha1\nkind: ApplicationDescription\nmetadata:\n  id: bad-app\n  name: Bad\n  version: 1.0.0\n  catalog: {}\ndeploymentProfiles: []\n',
    );
    const refused = await margo('app', 'publish', bad);
    assert.equal(refused.code, 1, refused.err);
    assert.match(refused.err, /bad-app\/1\.0\.0\/margo\.yaml:\d+:\d+/);
    assert.match(refused.err, /error CLI_PUBLISH_REJECTED/);
    const ok = json<{ id: string; version: string }>(
      await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'),
    );
    assert.deepEqual([ok.id, ok.version], ['hello-world', '1.0.0']);
    const apps = json<{ id: string }[]>(await margo('app', 'list', '-o', 'json'));
    assert.deepEqual(
      apps.map((a) => a.id),
      ['hello-world'],
    );
  });

  it('deploy writes one fleet commit and the orchestrator renders the device repository', async () => {
    const r = json<{ commit: string }>(
      await margo(...deployHelloArgs({ device: 'dev1', greeting: 'hi', hostPort })),
    );
    firstDeployCommit = r.commit;
    const st = await until(30, 'the deployment in the status API', async () => {
      const s = await margo('status', 'hello', '-o', 'json');
      return s.code === 0 ? (JSON.parse(s.out) as { deployment: { applicationId: string } }) : undefined;
    });
    assert.equal(st.deployment.applicationId, 'hello-world');
    const table = await margo('status');
    assert.match(table.out, /^DEPLOYMENT\s+APPLICATION/);
    assert.match(table.out, /\nhello\s+hello-world/);
  });

  it('status reaches installed on the real Docker engine and the workload got GREETING', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(agent, 'the agent is not running');
    await until(180, 'hello installed on dev1', async () => (await deviceState('hello')) === 'installed');
    assert.match((await until(30, 'the hello-world container to answer', served))!, /GREETING=hi/);
    // The server saw the device's polls (lastSeenAt), and the device says it acted on its current
    // desired commit (observed.json on its status branch).
    const fleet = await until(30, 'dev1 up to date in the fleet view', async () => {
      const st = json<{
        devices: { deviceId: string; lastSeenAt?: string; observedCommit?: string; upToDate?: boolean }[];
      }>(await margo('status', '-o', 'json'));
      const d = st.devices.find((x) => x.deviceId === 'dev1');
      return d?.upToDate ? d : undefined;
    });
    assert.match(fleet.observedCommit ?? '', /^[0-9a-f]{40}$/);
    assert.ok(Date.now() - Date.parse(fleet.lastSeenAt ?? '') < 60_000, `lastSeenAt ${fleet.lastSeenAt}`);
  });

  it('setting a parameter reaches the workload', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(agent, 'the agent is not running');
    json(await margo(...deployHelloArgs({ device: 'dev1', greeting: 'bye', hostPort })));
    await until(120, 'GREETING=bye in the container', async () =>
      /GREETING=bye/.test((await served()) ?? ''),
    );
    // The status push follows the container by up to a poll; a failed first attempt is retried.
    const rows: Row[] = [];
    await until(60, 'installed after the reconfigure', async () => {
      const row = await deviceRow('hello');
      if (row) rows.push(row);
      return row?.state === 'installed';
    }).catch((e: Error) => assert.fail(`${e.message}\nrows seen: ${JSON.stringify(rows.slice(-5))}`));
  });

  it('undeploy removes the workload', async (t) => {
    const r = await margo('undeploy', 'hello', '-o', 'json');
    assert.equal(json<{ removed: boolean }>(r).removed, true);
    assert.equal((await margo('undeploy', 'hello')).code, 3);
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(agent, 'the agent is not running');
    await until(120, 'the container to go away', async () => !(await served()));
  });

  it('rollback restores the deployment as one commit (revert of the undeploy), then --to the first deploy', async (t) => {
    const r = json<{ present: boolean; commit: string }>(await margo('rollback', 'hello', '-o', 'json'));
    assert.equal(r.present, true);
    const to = json<{ present: boolean }>(
      await margo('rollback', 'hello', '--to', firstDeployCommit, '-o', 'json'),
    );
    assert.equal(to.present, true);
    assert.equal((await margo('rollback', 'hello', '--to', '0000000')).code, 3);
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(agent, 'the agent is not running');
    await until(180, 'GREETING=hi back in the container', async () =>
      /GREETING=hi/.test((await served()) ?? ''),
    );
  });

  it('serve stops cleanly on SIGTERM', async () => {
    await stop(agent);
    agent = undefined;
    // (the cleanup in after() needs the server only while an agent runs)
    const code = await stop(server);
    server = undefined;
    assert.equal(code, 0, cli.logs.serve?.slice(-2000));
  });
});
