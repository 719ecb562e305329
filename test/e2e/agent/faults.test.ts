// End-to-end under faults, with the agent as a child process: kill -9 at each step of an install
// and of a removal (restart converges: no duplicate containers, no lost removal, honest status),
// and a git server outage (workloads keep running, drift repaired offline, status queued on disk
// and pushed after the server is back).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import { AgentProcess } from './agent-process.ts';
import {
  composeContainers,
  composePackage,
  deploymentYaml,
  DeviceRepo,
  docker,
  freePort,
  httpGet,
  startGitServer,
  tempDir,
  waitFor,
} from './helpers.ts';

const root = new URL('../../..', import.meta.url).pathname;
const helloCompose = readFileSync(join(root, 'test/fixtures/compose/hello/docker-compose.yml'), 'utf8');

function containers(env: NodeJS.ProcessEnv, project: string): string[] {
  return docker(env, 'ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)
    .split('\n')
    .filter(Boolean);
}

function cleanup(env: NodeJS.ProcessEnv, prefix: string): void {
  for (const c of composeContainers(env)) if (c.project.startsWith(prefix)) docker(env, 'rm', '-f', c.id);
  for (const net of docker(env, 'network', 'ls', '--format', '{{.Name}}').split('\n')) {
    if (net.startsWith(prefix)) docker(env, 'network', 'rm', net);
  }
}

test('kill -9 at each step of install and removal converges', { timeout: 600_000 }, async (t) => {
  const tb = requireComponent(t, ['docker', 'registry', 'image']);
  if (!tb) return;
  const env = testbedProcessEnv(tb);
  const dir = tempDir('agent-e2e-kill-');
  const token = 'kill-token';
  const server = await startGitServer(join(dir, 'srv'), token);
  const repo = new DeviceRepo(join(dir, 'srv'), 'dev-k');
  const stateDir = join(dir, 'state');
  const agent = new AgentProcess(
    dir,
    {
      deviceId: 'dev-k',
      repoUrl: `${server.url}/dev-k.git`,
      token,
      stateDir,
      pollIntervalSeconds: 0.5,
      maxBackoffSeconds: 2,
      defaultTimeoutSeconds: 60,
      composeCommand: tb.compose!.join(' '),
      composeStopTimeoutSeconds: 1,
      logLevel: 'debug',
    },
    env,
  );
  const pkg = await composePackage({ 'docker-compose.yml': helloCompose });
  repo.commit({ 'packages/hello.tgz': pkg });
  const app = async (n: number) => {
    const id = `0000000${n}-2222-4a5b-9c3d-00000000000${n}`;
    const [p1, p2] = [await freePort(), await freePort()];
    const yaml = deploymentYaml({
      name: `kill${n}`,
      id,
      components: [
        { name: 'api', properties: { packageLocation: 'packages/hello.tgz' } },
        { name: 'web', properties: { packageLocation: 'packages/hello.tgz' } },
      ],
      parameters: {
        p1: { value: String(p1), pointer: 'ENV.HOST_PORT', components: ['api'] },
        p2: { value: String(p2), pointer: 'ENV.HOST_PORT', components: ['web'] },
        img: { value: tb.image!, pointer: 'ENV.MARGO_TB_IMAGE', components: ['api', 'web'] },
      },
    });
    return {
      id,
      yaml,
      name: `kill${n}`,
      projects: [`margo-kill${n}-0000000${n}-api`, `margo-kill${n}-0000000${n}-web`],
      ports: [p1, p2],
    };
  };
  const converged = async (a: Awaited<ReturnType<typeof app>>) => {
    await waitFor(
      `${a.name} installed`,
      () => {
        const s = repo.statusJson(`deployments/${a.id}.json`);
        return s?.status?.state === 'installed' && s.components.every((c: any) => c.state === 'installed');
      },
      90_000,
    );
    for (const p of a.projects) assert.equal(containers(env, p).length, 1, `exactly one container in ${p}`);
    for (const port of a.ports)
      assert.ok(await httpGet(`http://127.0.0.1:${port}/message`), `service on ${port} answers`);
    await waitFor(
      'no intents left',
      () => readdirSync(join(stateDir, 'intents')).filter((f) => f.endsWith('.json')).length === 0,
      10_000,
    );
  };
  // Kill points: while downloading the first component, during its compose up, between the two
  // components, during the second compose up, right after the last component.
  const killPoints: RegExp[] = [
    /"component":"api".*"progress":"downloading"/,
    /"component":"api".*"progress":"configuring"/,
    /"component":"api","state":"installed"/,
    /"component":"web".*"progress":"configuring"/,
    /"component":"web","state":"installed"/,
  ];
  try {
    const apps = [];
    for (let i = 0; i < killPoints.length; i++) {
      const a = await app(i + 1);
      apps.push(a);
      repo.commit({ [`deployments/${a.name}.yaml`]: a.yaml });
      agent.start();
      await agent.waitForLine(
        new RegExp(
          `"deploymentId":"${a.id}".*${killPoints[i]!.source}|${killPoints[i]!.source.replace('"component"', `"deploymentId":"${a.id}","component"`)}`,
        ),
        90_000,
      );
      await agent.kill9();
      agent.start();
      await converged(a);
      await agent.stop();
    }
    // Removal of all but the last, killed while removing; the restarted agent finishes the job.
    const keep = apps.at(-1)!;
    const files: Record<string, null> = {};
    for (const a of apps.slice(0, -1)) files[`deployments/${a.name}.yaml`] = null;
    repo.commit(files);
    agent.start();
    await agent.waitForLine(/"state":"removing"/, 60_000);
    await agent.kill9();
    agent.start();
    for (const a of apps.slice(0, -1)) {
      await waitFor(
        `${a.name} removed`,
        () => repo.statusJson(`deployments/${a.id}.json`)?.status?.state === 'removed',
        90_000,
      );
      for (const p of a.projects) assert.deepEqual(containers(env, p), [], `${p} removed`);
    }
    await converged(keep);
    await agent.stop();
  } finally {
    await agent.kill9();
    try {
      cleanup(env, 'margo-kill');
    } finally {
      // A failed cleanup must not leave the Git server running (the test file would never end).
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test(
  'git server outage: workloads keep running, drift repaired offline, status queued and pushed after recovery',
  { timeout: 300_000 },
  async (t) => {
    const tb = requireComponent(t, ['docker', 'registry', 'image']);
    if (!tb) return;
    const env = testbedProcessEnv(tb);
    const dir = tempDir('agent-e2e-outage-');
    const token = 'outage-token';
    const server = await startGitServer(join(dir, 'srv'), token);
    const repo = new DeviceRepo(join(dir, 'srv'), 'dev-o');
    const stateDir = join(dir, 'state');
    const port = await freePort();
    const id = '0000000a-3333-4a5b-9c3d-00000000000a';
    const project = 'margo-outage-0000000a';
    const agent = new AgentProcess(
      dir,
      {
        deviceId: 'dev-o',
        repoUrl: `${server.url}/dev-o.git`,
        token,
        stateDir,
        pollIntervalSeconds: 0.5,
        maxBackoffSeconds: 2,
        defaultTimeoutSeconds: 60,
        composeCommand: tb.compose!.join(' '),
        composeStopTimeoutSeconds: 1,
        logLevel: 'debug',
      },
      env,
    );
    const doc = (greeting: string) =>
      deploymentYaml({
        name: 'outage',
        id,
        components: [{ name: 'echo', properties: { packageLocation: 'packages/hello.tgz' } }],
        parameters: {
          port: { value: String(port), pointer: 'ENV.HOST_PORT', components: ['echo'] },
          greeting: { value: greeting, pointer: 'ENV.GREETING', components: ['echo'] },
          img: { value: tb.image!, pointer: 'ENV.MARGO_TB_IMAGE', components: ['echo'] },
        },
      });
    try {
      repo.commit({
        'packages/hello.tgz': await composePackage({ 'docker-compose.yml': helloCompose }),
        'deployments/outage.yaml': doc('one'),
      });
      agent.start();
      await waitFor(
        'installed',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed',
        90_000,
      );

      await server.stop();
      await agent.waitForLine(/fetch failed; workloads keep running/, 30_000);
      assert.ok(
        await httpGet(`http://127.0.0.1:${port}/message`),
        'workload keeps running during the outage',
      );
      // Drift while offline: repaired from the last known desired state; status queued.
      docker(env, 'rm', '-f', ...containers(env, project));
      await agent.waitForLine(/drift repaired/, 60_000);
      await waitFor('workload back', () => httpGet(`http://127.0.0.1:${port}/message`), 30_000);
      const queued = readdirSync(join(stateDir, 'outbox')).filter((f) => f.endsWith('.json')).length;
      const unpushedLocal = repo.statusJson(`deployments/${id}.json`)?.['x-margo-gitops-extensions']
        ?.lastRepair;
      assert.equal(unpushedLocal, undefined, 'the server has not seen the repair yet');
      // Kill the agent while offline too: the queue is on disk.
      await agent.kill9();
      repo.commit({ 'deployments/outage.yaml': doc('two') });
      agent.start();
      await agent.waitForLine(/fetch failed/, 30_000);
      void queued;

      await server.start();
      await waitFor(
        'repair pushed after recovery',
        () =>
          repo.statusJson(`deployments/${id}.json`)?.['x-margo-gitops-extensions']?.lastRepair?.component ===
          'echo',
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nagent log tail:\n${agent.lines.slice(-25).join('\n')}`);
      });
      await waitFor(
        'new desired state applied after recovery',
        async () => /GREETING=two/.test((await httpGet(`http://127.0.0.1:${port}/cgi-bin/env`)) ?? ''),
        60_000,
      );
      await waitFor(
        'status installed',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed',
        30_000,
      );
      await waitFor(
        'outbox drained',
        () => readdirSync(join(stateDir, 'outbox')).filter((f) => f.endsWith('.json')).length === 0,
        30_000,
      );
      assert.equal(containers(env, project).length, 1);
      await agent.stop();
    } finally {
      await agent.kill9();
      try {
        cleanup(env, 'margo-outage');
      } finally {
        // A failed cleanup must not leave the Git server running (the test file would never end).
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
);
