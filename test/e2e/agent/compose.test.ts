// End-to-end: the agent applies a Compose app from the local registry on the real testbed Docker
// engine: install (parameter reaches the workload over HTTP), reconfigure, upgrade, drift repair,
// bad desired state (checksum, unreachable package, invalid document) beside a healthy app, removal.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import {
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

test(
  'compose: install, reconfigure, upgrade, drift repair, bad state isolation, removal',
  { timeout: 300_000 },
  async (t) => {
    const tb = requireComponent(t, ['docker', 'registry', 'image']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const env = testbedProcessEnv(tb);
    const dir = tempDir('agent-e2e-compose-');
    const token = 'device-token-1';
    const server = await startGitServer(join(dir, 'srv'), token);
    const repo = new DeviceRepo(join(dir, 'srv'), 'dev-c1');
    const port = await freePort();
    const id = '7f1c9a52-1111-4a5b-9c3d-000000000001';
    let agent: Agent | undefined;
    try {
      const pkg1 = await composePackage({ 'docker-compose.yml': helloCompose });
      const pkg2 = await composePackage({
        'docker-compose.yml': helloCompose.replace('hello from compose', 'hello from v2'),
      });
      const deployment = (
        greeting: string,
        pkg = 'packages/hello-1.tgz',
        extra: Partial<Parameters<typeof deploymentYaml>[0]> = {},
      ) =>
        deploymentYaml({
          name: 'hello',
          id,
          components: [{ name: 'echo', properties: { packageLocation: pkg } }],
          parameters: {
            greeting: { value: greeting, pointer: 'ENV.GREETING', components: ['echo'] },
            port: { value: String(port), pointer: 'ENV.HOST_PORT', components: ['echo'] },
            image: { value: tb.image!, pointer: 'ENV.MARGO_TB_IMAGE', components: ['echo'] },
          },
          ...extra,
        });
      repo.commit({
        'packages/hello-1.tgz': pkg1,
        'packages/hello-2.tgz': pkg2,
        'deployments/hello.yaml': deployment('bonjour'),
      });

      const { config, problems } = loadAgentConfig({
        flags: {
          deviceId: 'dev-c1',
          repoUrl: `${server.url}/dev-c1.git`,
          token,
          stateDir: join(dir, 'state'),
          pollIntervalSeconds: 1,
          defaultTimeoutSeconds: 60,
          composeCommand: tb.compose!.join(' '),
          composeStopTimeoutSeconds: 1,
        },
      });
      assert.deepEqual(problems, []);
      agent = new Agent({ config, logger: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }) });

      // 1. install: the parameter reaches the container (busybox CGI prints its environment).
      const r1 = await agent.pollOnce();
      assert.equal(r1.ok, true);
      assert.deepEqual(
        r1.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
        ['install:hello:ok'],
      );
      const envText = await waitFor(
        'workload env',
        () => httpGet(`http://127.0.0.1:${port}/cgi-bin/env`),
        30_000,
      );
      assert.match(envText, /GREETING=bonjour/);
      assert.match((await httpGet(`http://127.0.0.1:${port}/message`)) ?? '', /hello from compose/);
      const st = await waitFor(
        'installed status',
        () =>
          repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed' &&
          repo.statusJson(`deployments/${id}.json`),
      );
      assert.deepEqual(st.components, [{ name: 'echo', state: 'installed', progress: 'deployed' }]);
      assert.ok(
        repo.statusJson('capabilities.json')?.properties?.cpus?.[0]?.cores >= 1,
        'capabilities reported',
      );

      // 2. a no-change poll does nothing and commits nothing.
      const commitsBefore = repo.statusCommits();
      const r2 = await agent.pollOnce();
      assert.equal(r2.reconciled, false);
      assert.equal(r2.repairs, 0);
      assert.equal(repo.statusCommits(), commitsBefore, 'no heartbeat commits');

      // 3. parameter change -> reconfigure, provably reaching the workload.
      repo.commit({ 'deployments/hello.yaml': deployment('hola') });
      const r3 = await agent.pollOnce();
      assert.deepEqual(
        r3.actions.map((a) => `${a.kind}:${a.result}`),
        ['reconfigure:ok'],
      );
      await waitFor(
        'new greeting',
        async () => /GREETING=hola/.test((await httpGet(`http://127.0.0.1:${port}/cgi-bin/env`)) ?? ''),
        30_000,
      );

      // 4. upgrade to a new package version.
      repo.commit({ 'deployments/hello.yaml': deployment('hola', 'packages/hello-2.tgz') });
      const r4 = await agent.pollOnce();
      assert.deepEqual(
        r4.actions.map((a) => `${a.kind}:${a.result}`),
        ['upgrade:ok'],
      );
      await waitFor(
        'v2 message',
        async () => /hello from v2/.test((await httpGet(`http://127.0.0.1:${port}/message`)) ?? ''),
        30_000,
      );
      const project = 'margo-hello-7f1c9a52';
      assert.equal(
        docker(env, 'ps', '-q', '--filter', `label=com.docker.compose.project=${project}`)
          .split('\n')
          .filter(Boolean).length,
        1,
        'one container, no duplicate',
      );

      // 5. drift: the container is removed behind the agent's back; the next poll repairs and reports it.
      docker(
        env,
        'rm',
        '-f',
        docker(env, 'ps', '-q', '--filter', `label=com.docker.compose.project=${project}`),
      );
      const r5 = await agent.pollOnce();
      assert.equal(r5.repairs, 1);
      await waitFor(
        'repaired workload',
        async () => /hello from v2/.test((await httpGet(`http://127.0.0.1:${port}/message`)) ?? ''),
        30_000,
      );
      await waitFor(
        'repair reported',
        () =>
          repo.statusJson(`deployments/${id}.json`)?.['x-margo-gitops-extensions']?.lastRepair?.component ===
          'echo',
      );
      assert.equal(repo.statusJson(`deployments/${id}.json`)?.status?.state, 'installed');

      // 6. bad desired state next to the good app: wrong checksum, unreachable package, invalid document.
      const badId = '7f1c9a52-1111-4a5b-9c3d-000000000002';
      const goneId = '7f1c9a52-1111-4a5b-9c3d-000000000003';
      const badDoc = (name: string, did: string, loc: string) =>
        deploymentYaml({ name, id: did, components: [{ name: 'x', properties: { packageLocation: loc } }] });
      repo.commit({
        'deployments/bad-sum.yaml': badDoc('bad-sum', badId, `packages/hello-1.tgz#sha256=${'0'.repeat(64)}`),
        'deployments/gone.yaml': badDoc('gone', goneId, 'http://127.0.0.1:9/nothing.tgz'),
        'deployments/broken.yaml':
          'apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  annotations:\n    id: 7f1c9a52-1111-4a5b-9c3d-000000000004\n  name: broken\nspec: {}\n',
      });
      const r6 = await agent.pollOnce();
      assert.deepEqual(r6.actions.map((a) => `${a.kind}:${a.name}:${a.result}`).sort(), [
        'install:bad-sum:failed',
        'install:gone:failed',
        'noop:hello:ok',
      ]);
      await waitFor(
        'failure codes reported',
        () =>
          repo.statusJson(`deployments/${badId}.json`)?.status?.error?.code === 'AGENT_CHECKSUM_MISMATCH' &&
          repo.statusJson(`deployments/${goneId}.json`)?.status?.error?.code ===
            'AGENT_PACKAGE_UNREACHABLE' &&
          repo.statusJson('deployments/7f1c9a52-1111-4a5b-9c3d-000000000004.json')?.status?.error?.code ===
            'AGENT_INVALID_DOCUMENT',
      );
      assert.equal(repo.statusJson(`deployments/${id}.json`)?.status?.state, 'installed');
      assert.match(
        (await httpGet(`http://127.0.0.1:${port}/message`)) ?? '',
        /hello from v2/,
        'healthy app untouched',
      );

      // 7. removal: the document disappears -> compose down, status removed.
      repo.commit({
        'deployments/hello.yaml': null,
        'deployments/bad-sum.yaml': null,
        'deployments/gone.yaml': null,
        'deployments/broken.yaml': null,
      });
      const r7 = await agent.pollOnce();
      assert.deepEqual(
        r7.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
        ['remove:hello:ok'],
      );
      assert.equal(docker(env, 'ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`), '');
      await waitFor(
        'removed status',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'removed',
      );
    } finally {
      await agent?.stop();
      try {
        docker(
          env,
          'rm',
          '-f',
          ...docker(env, 'ps', '-aq', '--filter', 'label=com.docker.compose.project=margo-hello-7f1c9a52')
            .split('\n')
            .filter(Boolean),
        );
      } catch {
        /* nothing left */
      }
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
