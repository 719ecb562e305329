// End-to-end: a Compose app whose image lives in the testbed's private registry (htpasswd). Without
// credentials the deployment fails with AGENT_REGISTRY_AUTH_FAILED; with the MARGO_REGISTRY_*
// parameters (docker login into a per-deployment DOCKER_CONFIG) it is installed. The credentials
// never appear in the status or the logs.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import {
  composePackage,
  deploymentYaml,
  DeviceRepo,
  docker,
  removeComposeProject,
  freePort,
  httpGet,
  startGitServer,
  tempDir,
  waitFor,
} from './helpers.ts';

const root = new URL('../../..', import.meta.url).pathname;
const helloCompose = readFileSync(join(root, 'test/fixtures/compose/hello/docker-compose.yml'), 'utf8');

test('compose: private registry without and with credentials', { timeout: 200_000 }, async (t) => {
  const tb = requireComponent(t, ['docker', 'registry', 'image']);
  if (!tb) return;
  Object.assign(process.env, testbedProcessEnv(tb));
  const env = testbedProcessEnv(tb);
  const dir = tempDir('agent-e2e-private-');
  const token = 'private-token';
  const server = await startGitServer(join(dir, 'srv'), token);
  const repo = new DeviceRepo(join(dir, 'srv'), 'dev-p');
  const port = await freePort();
  const id = '0000000d-5555-4a5b-9c3d-00000000000d';
  const project = 'margo-private-0000000d';
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  let agent: Agent | undefined;
  const doc = (creds: boolean) =>
    deploymentYaml({
      name: 'private',
      id,
      components: [{ name: 'echo', properties: { packageLocation: 'packages/hello.tgz' } }],
      parameters: {
        port: { value: String(port), pointer: 'ENV.HOST_PORT', components: ['echo'] },
        img: { value: tb.imagePrivate!, pointer: 'ENV.MARGO_TB_IMAGE', components: ['echo'] },
        ...(creds
          ? {
              server: { value: tb.registryAuth!, pointer: 'ENV.MARGO_REGISTRY_SERVER', components: ['echo'] },
              user: { value: tb.registryUser!, pointer: 'ENV.MARGO_REGISTRY_USERNAME', components: ['echo'] },
              password: {
                value: tb.registryPassword!,
                pointer: 'ENV.MARGO_REGISTRY_PASSWORD',
                components: ['echo'],
              },
            }
          : {}),
      },
    });
  const dropLocalImage = () => {
    try {
      docker(env, 'rmi', '-f', tb.imagePrivate!);
    } catch {
      /* not present */
    }
  };
  try {
    repo.commit({
      'packages/hello.tgz': await composePackage({ 'docker-compose.yml': helloCompose }),
      'deployments/private.yaml': doc(false),
    });
    const { config, problems } = loadAgentConfig({
      flags: {
        deviceId: 'dev-p',
        repoUrl: `${server.url}/dev-p.git`,
        token,
        stateDir: join(dir, 'state'),
        pollIntervalSeconds: 1,
        defaultTimeoutSeconds: 60,
        composeCommand: tb.compose!.join(' '),
        composeStopTimeoutSeconds: 1,
      },
    });
    assert.deepEqual(problems, []);
    agent = new Agent({ config, logger: pino({ level: 'debug' }, sink) });

    dropLocalImage(); // force a pull from the private registry
    const r1 = await agent.pollOnce();
    assert.deepEqual(
      r1.actions.map((a) => `${a.kind}:${a.result}`),
      ['install:failed'],
    );
    await waitFor(
      'auth failure reported',
      () => repo.statusJson(`deployments/${id}.json`)?.status?.error?.code === 'AGENT_REGISTRY_AUTH_FAILED',
    );

    dropLocalImage();
    repo.commit({ 'deployments/private.yaml': doc(true) });
    const r2 = await agent.pollOnce();
    assert.deepEqual(
      r2.actions.map((a) => `${a.kind}:${a.result}`),
      ['install:ok'],
    );
    assert.ok(await waitFor('workload', () => httpGet(`http://127.0.0.1:${port}/message`), 30_000));
    await waitFor(
      'installed',
      () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed',
    );
    assert.ok(!logs.join('').includes(tb.registryPassword!), 'password never logged');
    assert.ok(
      !(repo.statusFile(`deployments/${id}.json`) ?? '').includes(tb.registryPassword!),
      'password not in status',
    );
  } finally {
    await agent?.stop();
    removeComposeProject(env, project);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
