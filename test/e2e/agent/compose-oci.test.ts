// End-to-end: Compose Archives (Margo rc.3 `repository: oci://...` + `revision`) pushed as OCI
// artifacts to the testbed's real registry, pulled by the agent's OCI client and installed on the
// real Docker engine. The artifact is pushed with the OCI distribution API directly (no oras CLI
// here), with an older configuration (`ociPlainHttp: true`, deprecated: every host over http). The
// client itself is tested in packages/oci; pins, bad input and credentials in oci-*.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
  removeComposeProject,
  freePort,
  httpGet,
  startGitServer,
  tempDir,
  waitFor,
} from './helpers.ts';

const root = new URL('../../..', import.meta.url).pathname;
const helloCompose = readFileSync(join(root, 'test/fixtures/compose/hello/docker-compose.yml'), 'utf8');
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes `archive` as a one-layer OCI artifact to http://registry/name:tag; returns the manifest digest. */
async function pushArchive(
  registry: string,
  name: string,
  tag: string,
  archive: Buffer,
  auth?: { username: string; password: string },
): Promise<string> {
  const headers: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
    : {};
  const upload = async (bytes: Buffer) => {
    const start = await fetch(`http://${registry}/v2/${name}/blobs/uploads/`, { method: 'POST', headers });
    assert.equal(start.status, 202, await start.text());
    const loc = new URL(start.headers.get('location')!, `http://${registry}`);
    loc.searchParams.set('digest', sha(bytes));
    const put = await fetch(loc, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(bytes),
    });
    assert.equal(put.status, 201, await put.text());
  };
  const config = Buffer.from('{}');
  await upload(config);
  await upload(archive);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.margo.compose.config.v1+json',
        digest: sha(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha(archive),
          size: archive.length,
        },
      ],
    }),
  );
  const res = await fetch(`http://${registry}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(res.status, 201, await res.text());
  return sha(manifest);
}

test(
  'compose: a Compose Archive from the OCI registry is installed on the real engine',
  { timeout: 200_000 },
  async (t) => {
    const tb = requireComponent(t, ['docker', 'registry', 'image']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const env = testbedProcessEnv(tb);
    const dir = tempDir('agent-e2e-oci-');
    const token = 'oci-token';
    const server = await startGitServer(join(dir, 'srv'), token);
    const repo = new DeviceRepo(join(dir, 'srv'), 'dev-o');
    const port = await freePort();
    const id = '0000000e-6666-4a5b-9c3d-00000000000e';
    const project = 'margo-oci-0000000e';
    let agent: Agent | undefined;
    try {
      await pushArchive(
        tb.registry!,
        'margo/compose-oci-e2e',
        '2.0.0',
        await composePackage({ 'docker-compose.yml': helloCompose }),
      );
      repo.commit({
        'deployments/oci.yaml': deploymentYaml({
          name: 'oci',
          id,
          components: [
            {
              name: 'echo',
              properties: { repository: `oci://${tb.registry}/margo/compose-oci-e2e`, revision: '2.0.0' },
            },
          ],
          parameters: {
            port: { value: String(port), pointer: 'ENV.HOST_PORT', components: ['echo'] },
            greeting: { value: 'from-oci', pointer: 'ENV.GREETING', components: ['echo'] },
          },
        }),
      });
      const { config, problems } = loadAgentConfig({
        flags: {
          deviceId: 'dev-o',
          repoUrl: `${server.url}/dev-o.git`,
          token,
          stateDir: join(dir, 'state'),
          pollIntervalSeconds: 1,
          defaultTimeoutSeconds: 60,
          composeCommand: tb.compose!.join(' '),
          composeStopTimeoutSeconds: 1,
          ociPlainHttp: true,
        },
      });
      assert.deepEqual(problems, []);
      agent = new Agent({ config, logger: pino({ level: 'silent' }) });
      const r = await agent.pollOnce();
      assert.deepEqual(
        r.actions.map((a) => `${a.kind}:${a.result}`),
        ['install:ok'],
        JSON.stringify(repo.statusJson(`deployments/${id}.json`)),
      );
      const env1 = await waitFor('workload', () => httpGet(`http://127.0.0.1:${port}/cgi-bin/env`), 30_000);
      assert.match(env1!, /GREETING=from-oci/);
      await waitFor(
        'installed',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed',
      );
    } finally {
      await agent?.stop();
      removeComposeProject(env, project);
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
