// The on-site hold in the agent loop against a real git server (git http-backend), with an
// in-process driver recording what it is asked to do (the real Docker run is in
// test/e2e/cli/hold.test.ts): while held, a new desired commit changes nothing, the change is
// reported pending with AGENT_ON_SITE_HOLD and the reason, hold.json is on the status branch;
// the hold survives a restart of the agent; a release applies what waits at the next poll.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseDeviceHold, parseObserved, type ProfileType } from '@margo-gitops/spec';
import {
  Agent,
  loadAgentConfig,
  placeHold,
  releaseHold,
  type ComponentContext,
  type Driver,
  type Observation,
  type RemoveContext,
} from '@margo-gitops/agent';
import { deploymentYaml, DeviceRepo, startGitServer, tempDir } from './helpers.ts';

class LogDriver implements Driver {
  readonly name = 'compose' as const;
  log: string[] = [];
  running = new Set<string>();
  supports(type: ProfileType): boolean {
    return type === 'compose';
  }
  async init(): Promise<void> {}
  async prepare() {
    return {};
  }
  async apply(ctx: ComponentContext) {
    const key = ctx.deployment.name;
    this.log.push(`apply ${key} ${String(new Map(ctx.values).get('GREETING'))}`);
    this.running.add(key);
    return { key };
  }
  async remove(ctx: RemoveContext) {
    this.log.push(`remove ${String(ctx.record.key)}`);
    this.running.delete(String(ctx.record.key));
  }
  async observe(record: Record<string, unknown>): Promise<Observation> {
    return { ok: this.running.has(String(record.key)) };
  }
}

const ID = { a: '0000000e-8888-4a5b-9c3d-000000000001', b: '0000000e-8888-4a5b-9c3d-000000000002' };
const app = (name: keyof typeof ID, greeting: string) =>
  deploymentYaml({
    name,
    id: ID[name],
    components: [{ name: 'c', properties: { packageLocation: 'x.tgz' } }],
    parameters: { g: { value: greeting, pointer: 'ENV.GREETING', components: ['c'] } },
  });

test('hold: nothing applied while held (also after a restart), reported with its reason; release applies', async () => {
  const dir = tempDir('agent-hold-');
  const server = await startGitServer(join(dir, 'srv'), 'tok');
  const repo = new DeviceRepo(join(dir, 'srv'), 'dev-h');
  const stateDir = join(dir, 'state');
  const driver = new LogDriver();
  const { config, problems } = loadAgentConfig({
    flags: {
      deviceId: 'dev-h',
      repoUrl: `${server.url}/dev-h.git`,
      token: 'tok',
      stateDir,
      pollIntervalSeconds: 1,
      driftCheckEvery: 1,
    },
  });
  assert.deepEqual(problems, []);
  const newAgent = () => new Agent({ config, logger: pino({ level: 'silent' }), drivers: [driver] });
  let agent = newAgent();
  const status = (id: string) => repo.statusJson(`deployments/${id}.json`);
  try {
    repo.commit({ 'deployments/a.yaml': app('a', 'hi'), 'deployments/b.yaml': app('b', 'hi') });
    await agent.pollOnce();
    assert.deepEqual(driver.log, ['apply a hi', 'apply b hi']);
    assert.equal(repo.statusFile('hold.json'), undefined);

    // Held: a, changed, and b, removed, wait; both keep running, and drift repair leaves them be.
    placeHold(stateDir, 'line 3 runs batch 7\nuntil 18:00', new Date('2026-12-03T04:00:00Z'));
    driver.log = [];
    const held = repo.commit({ 'deployments/a.yaml': app('a', 'bye'), 'deployments/b.yaml': null });
    const r = await agent.pollOnce();
    assert.deepEqual(
      r.actions.map((x) => `${x.kind}:${x.name}:${x.result}`),
      ['remove:b:held', 'reconfigure:a:held'],
    );
    assert.deepEqual(r.hold, {
      reason: 'line 3 runs batch 7 until 18:00',
      since: '2026-12-03T04:00:00.000Z',
    });
    driver.running.delete('a'); // a container stopped on site: no repair while held
    await agent.pollOnce();
    assert.deepEqual(driver.log, []);
    for (const id of [ID.a, ID.b]) {
      const s = status(id);
      assert.equal(s.status.state, 'pending', JSON.stringify(s));
      assert.equal(s.status.error.code, 'AGENT_ON_SITE_HOLD');
      assert.match(
        s.status.error.message,
        /held on site since 2026-12-03T04:00:00\.000Z: line 3 runs batch 7 until 18:00$/,
      );
    }
    assert.deepEqual(parseDeviceHold(repo.statusFile('hold.json')!), {
      reason: 'line 3 runs batch 7 until 18:00',
      since: '2026-12-03T04:00:00.000Z',
    });
    // hold.json is bound by the signed-status binding like every status file.
    assert.ok(parseObserved(repo.statusFile('observed.json')!).files.has('hold.json'));
    assert.equal(parseObserved(repo.statusFile('observed.json')!).commit, held);

    // A restart while held: still nothing applied.
    await agent.stop();
    agent = newAgent();
    await agent.pollOnce();
    assert.deepEqual(driver.log, []);

    // Released: the next poll applies what waited (no new desired commit needed).
    driver.running.add('a');
    releaseHold(stateDir);
    const after = await agent.pollOnce();
    assert.deepEqual(
      after.actions.map((x) => `${x.kind}:${x.name}:${x.result}`),
      ['remove:b:ok', 'reconfigure:a:ok'],
    );
    assert.deepEqual(driver.log, ['remove b', 'apply a bye']);
    await agent.pollOnce();
    assert.equal(repo.statusFile('hold.json'), undefined);
    assert.equal(status(ID.a).status.state, 'installed');
  } finally {
    await agent.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hold: the running loop wakes on a release (hold file watched), without waiting an interval', async () => {
  const dir = tempDir('agent-hold-wake-');
  const server = await startGitServer(join(dir, 'srv'), 'tok');
  const repo = new DeviceRepo(join(dir, 'srv'), 'dev-w');
  const stateDir = join(dir, 'state');
  const driver = new LogDriver();
  const { config } = loadAgentConfig({
    flags: {
      deviceId: 'dev-w',
      repoUrl: `${server.url}/dev-w.git`,
      token: 'tok',
      stateDir,
      pollIntervalSeconds: 120,
    },
  });
  const agent = new Agent({ config, logger: pino({ level: 'silent' }), drivers: [driver] });
  try {
    placeHold(stateDir, 'held from the start');
    repo.commit({ 'deployments/a.yaml': app('a', 'hi') });
    void agent.start();
    for (const end = Date.now() + 20_000; !repo.statusFile('hold.json') && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(parseDeviceHold(repo.statusFile('hold.json')!).reason, 'held from the start');
    assert.deepEqual(driver.log, []);
    releaseHold(stateDir);
    for (const end = Date.now() + 20_000; !driver.log.length && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(driver.log, ['apply a hi'], 'applied long before the 120 s interval');
  } finally {
    await agent.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
