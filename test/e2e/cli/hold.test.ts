// The on-site hold end to end, on real components: margo serve, the stand-alone margo-agent (its
// launcher and bundle, as devices run it) over Git and over the REST API, and the testbed's Docker
// engine. hello-world
// runs with GREETING=hi; `margo-agent hold --reason ...` on the device; a new desired state
// (GREETING=bye) is NOT applied (the same container keeps serving hi), the fleet status shows the
// device's change pending with AGENT_ON_SITE_HOLD and the reason, and the device's status branch
// on the server holds hold.json (pushed over Git; written by the API from the capabilities
// extension over REST), which readDeviceStatus turns into DeviceReport.hold; `margo agent release`
// applies the change and hold.json goes.
// Needs `npm run build` and the testbed's docker + image.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
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

const REASON = 'line 3 runs batch 7 until 18:00';
const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const until = <T>(seconds: number, what: string, get: () => Promise<T | undefined | false>) =>
  cli.until(seconds, what, get);

interface Row {
  deviceId: string;
  state: string;
  error?: { code: string; message: string };
}
async function row(): Promise<Row | undefined> {
  const r = await margo('status', 'hello', '-o', 'json');
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.out) as { deployment: { devices: Row[] } }).deployment.devices.find(
    (d) => d.deviceId === 'dev1',
  );
}
const served = (): Promise<string | undefined> => servedHello(hostPort);
/** The id of the container publishing the workload's port (what Docker runs, not what status says). */
function containerId(): string {
  return execFileSync('docker', ['ps', '-q', '--no-trunc', '--filter', `publish=${hostPort}`], {
    env,
    encoding: 'utf8',
  }).trim();
}
/** hold.json on dev1's status branch in the server's repository, or undefined. */
function serverHold(): { kind: string; reason: string; since?: string } | undefined {
  try {
    const gitDir = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
    const text = execFileSync('git', ['--git-dir', gitDir, 'show', 'status:hold.json'], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return JSON.parse(text) as { kind: string; reason: string };
  } catch {
    return undefined;
  }
}
/** `margo-agent ARGS` (the device's launcher) to completion. */
function margoAgent(...args: string[]): Run {
  try {
    const out = execFileSync(margoAgentBin, args, { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    return { code: x.status ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

for (const transport of ['git', 'rest'] as const)
  describe(`on-site hold end to end over ${transport}`, { timeout: 600_000 }, () => {
    before(async () => {
      ({ dir, env, cli } = await cliSuite('margo-e2e-hold-'));
      port = await freePort();
      hostPort = await freePort();
    });

    after(async () => {
      if (server && server.exitCode === null && agent && agent.exitCode === null) {
        margoAgent('release', '--state', 'agent-state');
        const r = await margo('undeploy', 'hello');
        if (r.code === 0)
          await until(60, 'removal at cleanup', async () => !(await served())).catch(() => {});
      }
      await stop(agent);
      await stop(server);
      removeWorkloadOnPort(hostPort, env);
      await rm(dir, { recursive: true, force: true });
    });

    it('hello-world runs GREETING=hi on the real Docker engine', async (t) => {
      if (!requireComponent(t, ['docker', 'image'])) return;
      json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
      server = await cli.start(
        'serve',
        ['serve', '--data', 'margo-data'],
        /status\s+http:\/\/\S+\/api\/v1\/status/,
      );
      const added = json<{ enrolmentToken: string }>(
        await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
      );
      agent = await cli.start(
        'agent',
        [
          '--server',
          `http://127.0.0.1:${port}`,
          '--token',
          added.enrolmentToken,
          '--state',
          'agent-state',
          '--transport',
          transport,
        ],
        /agent for device dev1 running/,
        {},
        [margoAgentBin],
      );
      json(await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
      json(await margo(...deployHelloArgs({ device: 'dev1', greeting: 'hi', hostPort })));
      await until(180, 'hello installed on dev1', async () => (await row())?.state === 'installed');
      assert.match((await until(30, 'the container to answer', served))!, /GREETING=hi/);
    });

    it('held: a new desired state is not applied; status says held, with the reason', async (t) => {
      if (!requireComponent(t, ['docker', 'image'])) return;
      assert.ok(agent, 'the agent is not running');
      const before = containerId();
      assert.match(before, /^[0-9a-f]{64}$/);
      const held = margoAgent('hold', '--state', 'agent-state', '--reason', REASON);
      assert.equal(held.code, 0, held.err);
      assert.match(held.out, new RegExp(`^held: ${REASON}`));
      const onServer = await until(60, `hold.json on the status branch (${transport})`, async () =>
        serverHold(),
      );
      assert.equal(onServer.kind, 'DeviceHold');
      assert.equal(onServer.reason, REASON);
      json(await margo(...deployHelloArgs({ device: 'dev1', greeting: 'bye', hostPort })));
      const r = await until(60, 'the change reported held', async () => {
        const x = await row();
        return x?.error?.code === 'AGENT_ON_SITE_HOLD' ? x : undefined;
      });
      assert.equal(r.state, 'pending');
      assert.match(r.error!.message, new RegExp(`held on site since \\S+: ${REASON}$`));
      // Several polls later: Docker runs the same container with the old value.
      await new Promise((res) => setTimeout(res, 5000));
      assert.equal(containerId(), before, 'the container was not touched');
      assert.match((await served())!, /GREETING=hi/);
      assert.equal((await row())?.error?.code, 'AGENT_ON_SITE_HOLD');
      // The fleet view: the device is listed as held, with the reason (devices[].hold, from hold.json).
      const dev = await until(30, 'dev1 held in the fleet status', async () => {
        const fleet = json<{ devices: { deviceId: string; hold?: { reason: string; since?: string } }[] }>(
          await margo('status', '-o', 'json'),
        );
        const d = fleet.devices.find((x) => x.deviceId === 'dev1');
        return d?.hold ? d : undefined;
      });
      assert.equal(dev?.hold?.reason, REASON, JSON.stringify(dev));
      assert.equal(dev?.hold?.since, onServer.since);
      assert.match((await margo('status')).out, new RegExp(`\\n {2}dev1 {2}held: ${REASON} \\(since `));
      const table = await margo('status', 'hello');
      assert.match(table.out, new RegExp(`dev1\\s+pending\\s+AGENT_ON_SITE_HOLD: .*${REASON}`));
      assert.match(
        margoAgent('hold', '--state', 'agent-state', '--status').out,
        new RegExp(`^held: ${REASON}`),
      );
    });

    it('released (margo agent release): the change is applied at once', async (t) => {
      if (!requireComponent(t, ['docker', 'image'])) return;
      assert.ok(agent, 'the agent is not running');
      const r = await margo('agent', 'release', '--state', 'agent-state');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^hold released/);
      await until(120, 'GREETING=bye in the container', async () =>
        /GREETING=bye/.test((await served()) ?? ''),
      );
      await until(60, 'installed after the release', async () => {
        const x = await row();
        return x?.state === 'installed' && !x.error;
      });
      const fleet = json<{ devices: { deviceId: string; hold?: unknown }[] }>(
        await margo('status', '-o', 'json'),
      );
      assert.equal(fleet.devices.find((d) => d.deviceId === 'dev1')?.hold, undefined);
      await until(60, 'hold.json gone from the status branch', async () => serverHold() === undefined);
    });
  });
