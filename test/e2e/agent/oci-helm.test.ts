// End-to-end: a Helm component from the testbed's authenticated OCI registry (htpasswd, 127.0.0.1:5001,
// the chart the testbed pushed with `helm push`), pinned by manifest digest, installed by the real
// Agent with real helm into the real Kubernetes API server (kwok node). The agent fetches the chart
// itself with the deployment's MARGO_REGISTRY_* credentials (plain http only for that host, listed
// in ociPlainHttpHosts) and hands helm a .tgz: no credential in helm's argv or registry config.
// A wrong password is refused with AGENT_ARTIFACT_AUTH_FAILED while the release stays at the last
// good revision; the right one upgrades it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { pullManifest } from '@margo-gitops/oci';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import { deploymentYaml, DeviceRepo, startGitServer, tempDir, waitFor } from './helpers.ts';

test(
  'helm from an authenticated OCI registry, pinned; refused credentials keep the last good release',
  { timeout: 300_000 },
  async (t) => {
    const tb = requireComponent(t, ['helm', 'charts', 'kube', 'registry']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const dir = tempDir('agent-e2e-oci-helm-');
    const token = 'oci-helm-token';
    const server = await startGitServer(join(dir, 'srv'), token);
    const repo = new DeviceRepo(join(dir, 'srv'), 'dev-oh');
    const ns = `margo-oci-${Date.now().toString(36)}`;
    const id = '0000001f-9999-4a5b-9c3d-00000000001f';
    const stateDir = join(dir, 'state');
    const kc = new KubeConfig();
    kc.loadFromFile(tb.kubeconfig!);
    const core = kc.makeApiClient(CoreV1Api);
    const creds = { username: tb.registryUser!, password: tb.registryPassword! };
    const target = { host: tb.registryAuth!, plainHttp: true, timeoutMs: 20_000, credentials: creds };
    let agent: Agent | undefined;
    const desired = (revision: string, digest: string, password: string) =>
      deploymentYaml({
        name: 'ocihelm',
        id,
        type: 'helm.v3',
        namespace: ns,
        components: [
          {
            name: 'hello',
            properties: {
              repository: `oci://${tb.registryAuth}/charts/hello`,
              revision,
              wait: true,
              timeout: '2m0s',
            },
            'x-margo-gitops-extensions': { digest },
          },
        ],
        parameters: {
          message: { value: `chart ${revision}`, pointer: 'message', components: ['hello'] },
          server: { value: tb.registryAuth!, pointer: 'MARGO_REGISTRY_SERVER', components: ['hello'] },
          user: { value: creds.username, pointer: 'MARGO_REGISTRY_USERNAME', components: ['hello'] },
          password: { value: password, pointer: 'MARGO_REGISTRY_PASSWORD', components: ['hello'] },
        },
      });
    const release = () =>
      JSON.parse(
        execFileSync(
          tb.helm!,
          ['status', 'hello', '--namespace', ns, '-o', 'json', '--kubeconfig', tb.kubeconfig!],
          {
            encoding: 'utf8',
          },
        ),
      ) as { version: number; info: { status: string }; chart?: unknown };
    const chartVersion = () =>
      (
        JSON.parse(
          execFileSync(
            tb.helm!,
            ['get', 'metadata', 'hello', '--namespace', ns, '-o', 'json', '--kubeconfig', tb.kubeconfig!],
            {
              encoding: 'utf8',
            },
          ),
        ) as { version: string }
      ).version;
    const status = () => repo.statusJson(`deployments/${id}.json`);
    try {
      const d1 = (await pullManifest(target, 'charts/hello', '0.1.0')).digest;
      const d2 = (await pullManifest(target, 'charts/hello', '0.2.0')).digest;
      const { config, problems } = loadAgentConfig({
        flags: {
          deviceId: 'dev-oh',
          repoUrl: `${server.url}/dev-oh.git`,
          token,
          stateDir,
          pollIntervalSeconds: 1,
          helmPath: tb.helm!,
          kubeconfig: tb.kubeconfig!,
          ociPlainHttpHosts: [tb.registryAuth!],
          composeCommand: 'true',
        },
      });
      assert.deepEqual(problems, []);
      agent = new Agent({ config, logger: pino({ level: 'silent' }) });

      repo.commit({ 'deployments/ocihelm.yaml': desired('0.1.0', d1, creds.password) });
      const r1 = await agent.pollOnce();
      assert.deepEqual(
        r1.actions.map((a) => `${a.kind}:${a.result}`),
        ['install:ok'],
        JSON.stringify(status()),
      );
      assert.equal(release().info.status, 'deployed');
      assert.equal(chartVersion(), '0.1.0');
      const cm = await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: 'app.kubernetes.io/instance=hello',
      });
      assert.equal(cm.items[0]?.data?.message, 'chart 0.1.0');
      const workDir = join(stateDir, 'helm', id, 'hello');
      assert.deepEqual(
        JSON.parse(readFileSync(join(workDir, 'registry.json'), 'utf8')),
        { auths: {} },
        'helm got no credentials',
      );
      assert.equal(readdirSync(workDir).filter((f) => f.endsWith('.tgz')).length, 1);

      // Wrong password: refused, the release stays at revision 1 with chart 0.1.0.
      repo.commit({ 'deployments/ocihelm.yaml': desired('0.2.0', d2, 'wrong-password') });
      const r2 = await agent.pollOnce();
      assert.deepEqual(
        r2.actions.map((a) => `${a.kind}:${a.result}`),
        ['upgrade:failed'],
      );
      const s = await waitFor('auth failure in the status', () =>
        status()?.components?.[0]?.error?.code ? status() : undefined,
      );
      assert.equal(
        s.components[0].error.code,
        'AGENT_ARTIFACT_AUTH_FAILED',
        JSON.stringify(s.components[0].error),
      );
      assert.ok(!JSON.stringify(s).includes(creds.password) && !JSON.stringify(s).includes('wrong-password'));
      assert.equal(release().version, 1);
      assert.equal(chartVersion(), '0.1.0');

      // The right password: upgraded to 0.2.0 (revision 2); only the installed chart file is kept.
      repo.commit({ 'deployments/ocihelm.yaml': desired('0.2.0', d2, creds.password) });
      const r3 = await agent.pollOnce();
      assert.deepEqual(
        r3.actions.map((a) => `${a.kind}:${a.result}`),
        ['upgrade:ok'],
      );
      assert.equal(release().version, 2);
      assert.equal(chartVersion(), '0.2.0');
      assert.equal(readdirSync(workDir).filter((f) => f.endsWith('.tgz')).length, 1);
      await waitFor('installed', () => status()?.status?.state === 'installed');
    } finally {
      await agent?.stop();
      try {
        execFileSync(tb.helm!, ['uninstall', 'hello', '--namespace', ns, '--kubeconfig', tb.kubeconfig!], {
          stdio: 'ignore',
        });
      } catch {
        /* not installed */
      }
      try {
        await core.deleteNamespace({ name: ns });
      } catch {
        /* not created */
      }
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
