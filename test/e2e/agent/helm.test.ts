// End-to-end: a multi-chart Helm app from the testbed's local OCI registry into the real
// Kubernetes API server (kwok marks pods Ready so `--wait` completes): install with a parameter
// that reaches the ConfigMap, upgrade of one chart, drift repair (release uninstalled behind the
// agent's back), private registry with and without credentials, removal. Checked through
// @kubernetes/client-node.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { AppsV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import { agentFlags, deploymentYaml, helmDeviceSetup, waitFor } from './helpers.ts';

test(
  'helm: multi-chart app into the Kubernetes API server, upgrade, drift, private registry, removal',
  { timeout: 400_000 },
  async (t) => {
    const tb = requireComponent(t, ['helm', 'charts', 'kube', 'registry']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const token = 'helm-token';
    const { dir, server, repo, ns, kc, core, cleanup } = await helmDeviceSetup(tb, {
      prefix: 'agent-e2e-helm-',
      deviceId: 'dev-h',
      token,
      nsPrefix: 'margo-e2e-',
    });
    const id = '0000000b-4444-4a5b-9c3d-00000000000b';
    const privId = '0000000c-4444-4a5b-9c3d-00000000000c';
    const apps = kc.makeApiClient(AppsV1Api);
    let agent: Agent | undefined;
    const shop = (message: string, backendRev = '0.1.0') =>
      deploymentYaml({
        name: 'shop',
        id,
        type: 'helm.v3',
        namespace: ns,
        components: [
          {
            name: 'backend',
            properties: {
              repository: `${tb.chartRepo}/backend`,
              revision: backendRev,
              wait: true,
              timeout: '2m0s',
            },
          },
          {
            name: 'frontend',
            properties: {
              repository: `${tb.chartRepo}/frontend`,
              revision: '0.1.0',
              wait: true,
              timeout: '2m0s',
            },
          },
        ],
        parameters: {
          message: { value: message, pointer: 'message', components: ['frontend'] },
          role: { value: 'api', pointer: 'env.ROLE', components: ['backend'] },
        },
      });
    const priv = (withCreds: boolean) =>
      deploymentYaml({
        name: 'private-hello',
        id: privId,
        type: 'helm.v3',
        namespace: ns,
        components: [
          {
            name: 'hello',
            properties: {
              repository: `${tb.chartRepoAuth}/hello`,
              revision: '0.1.0',
              wait: true,
              timeout: '2m0s',
            },
          },
        ],
        parameters: withCreds
          ? {
              server: { value: tb.registryAuth!, pointer: 'MARGO_REGISTRY_SERVER', components: ['hello'] },
              user: { value: tb.registryUser!, pointer: 'MARGO_REGISTRY_USERNAME', components: ['hello'] },
              password: {
                value: tb.registryPassword!,
                pointer: 'MARGO_REGISTRY_PASSWORD',
                components: ['hello'],
              },
            }
          : {},
      });
    const configMap = async (release: string) =>
      (
        await core.listNamespacedConfigMap({
          namespace: ns,
          labelSelector: `app.kubernetes.io/instance=${release}`,
        })
      ).items[0];
    try {
      repo.commit({ 'deployments/shop.yaml': shop('hello from margo') });
      const { config, problems } = loadAgentConfig({
        flags: {
          ...agentFlags(dir, server, 'dev-h', token),
          helmPath: tb.helm!,
          kubeconfig: tb.kubeconfig!,
          helmPlainHttp: true,
          composeCommand: 'true',
        },
      });
      assert.deepEqual(problems, []);
      agent = new Agent({ config, logger: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }) });

      // install: namespace created, both releases, parameter in the frontend ConfigMap.
      const r1 = await agent.pollOnce();
      assert.deepEqual(
        r1.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
        ['install:shop:ok'],
      );
      assert.equal((await core.readNamespace({ name: ns })).metadata?.name, ns);
      assert.equal((await configMap('frontend'))?.data?.message, 'hello from margo');
      assert.equal((await configMap('backend'))?.data?.ROLE, 'api');
      const deps = (await apps.listNamespacedDeployment({ namespace: ns })).items
        .map((d) => d.metadata?.name)
        .sort();
      assert.equal(deps.length, 2);
      await waitFor(
        'installed status',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'installed',
      );
      assert.deepEqual(
        repo.statusJson(`deployments/${id}.json`).components.map((c: any) => `${c.name}:${c.state}`),
        ['backend:installed', 'frontend:installed'],
      );
      const caps = repo.statusJson('capabilities.json');
      assert.ok(caps.properties.supportedDeploymentTypes.includes('helm'));

      // parameter change + upgrade of one chart (backend has no 0.2.0: the hello chart is used for the upgrade check below).
      repo.commit({ 'deployments/shop.yaml': shop('second message') });
      const r2 = await agent.pollOnce();
      assert.deepEqual(
        r2.actions.map((a) => `${a.kind}:${a.result}`),
        ['reconfigure:ok'],
      );
      assert.equal((await configMap('frontend'))?.data?.message, 'second message');

      // drift: the frontend release is uninstalled behind the agent's back.
      execFileSync(tb.helm!, ['uninstall', 'frontend', '-n', ns, '--kubeconfig', tb.kubeconfig!], {
        stdio: 'ignore',
      });
      const r3 = await agent.pollOnce();
      assert.equal(r3.repairs, 1);
      assert.equal((await configMap('frontend'))?.data?.message, 'second message');

      // drift: the frontend values changed by hand (new helm revision) -> restored.
      execFileSync(
        tb.helm!,
        [
          'upgrade',
          'frontend',
          `${tb.chartRepo}/frontend`,
          '--version',
          '0.1.0',
          '--plain-http',
          '-n',
          ns,
          '--reuse-values',
          '--set',
          'message=tampered',
          '--kubeconfig',
          tb.kubeconfig!,
        ],
        { stdio: 'ignore' },
      );
      assert.equal((await configMap('frontend'))?.data?.message, 'tampered');
      const r3b = await agent.pollOnce();
      assert.equal(r3b.repairs, 1);
      assert.equal((await configMap('frontend'))?.data?.message, 'second message');

      // unreachable chart revision: failed with a specific code, the rest unaffected.
      repo.commit({ 'deployments/shop.yaml': shop('second message', '9.9.9') });
      const r4 = await agent.pollOnce();
      assert.deepEqual(
        r4.actions.map((a) => `${a.kind}:${a.result}`),
        ['upgrade:failed'],
      );
      await waitFor(
        'failed status',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.error?.code === 'AGENT_ARTIFACT_NOT_FOUND',
      );
      assert.equal(
        (await configMap('frontend'))?.data?.message,
        'second message',
        'last good state keeps running',
      );
      repo.commit({ 'deployments/shop.yaml': shop('second message') });
      assert.deepEqual(
        (await agent.pollOnce()).actions.map((a) => `${a.kind}:${a.result}`),
        ['noop:ok'],
      );

      // private registry: refused without credentials, installed with them.
      repo.commit({ 'deployments/private-hello.yaml': priv(false) });
      await agent.pollOnce();
      await waitFor(
        'auth failure reported',
        () =>
          repo.statusJson(`deployments/${privId}.json`)?.status?.error?.code === 'AGENT_ARTIFACT_AUTH_FAILED',
      );
      repo.commit({ 'deployments/private-hello.yaml': priv(true) });
      const r5 = await agent.pollOnce();
      assert.deepEqual(r5.actions.map((a) => `${a.kind}:${a.name}:${a.result}`).sort(), [
        'install:private-hello:ok',
        'noop:shop:ok',
      ]);
      assert.ok(await configMap('hello'));

      // removal of everything.
      repo.commit({ 'deployments/shop.yaml': null, 'deployments/private-hello.yaml': null });
      const r6 = await agent.pollOnce();
      assert.deepEqual(
        r6.actions.map((a) => `${a.kind}:${a.result}`),
        ['remove:ok', 'remove:ok'],
      );
      assert.equal((await apps.listNamespacedDeployment({ namespace: ns })).items.length, 0);
      await waitFor(
        'removed status',
        () => repo.statusJson(`deployments/${id}.json`)?.status?.state === 'removed',
      );
    } finally {
      await agent?.stop();
      await cleanup();
    }
  },
);
