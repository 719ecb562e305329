// The OpenTelemetry collector reaching a Helm release, on real components: the testbed's helm,
// chart registry and Kubernetes API server (kwok). An agent without otelCollector installs the
// hello chart; the same device restarted with otelCollector set upgrades the release once (the
// collector is part of the component's fingerprint) and the release's values carry
// global.margo.otel (settings + the OTEL_* EnvVar list naming device, app, deployment); a further
// restart with the same settings changes nothing (no new Helm revision): the injection is
// deterministic. A parameter targeting global.margo.otel.serviceName wins over the injected one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { pino } from 'pino';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import { agentFlags, deploymentYaml, helmDeviceSetup } from '../agent/helpers.ts';

test(
  'helm: otelCollector reaches the release values once, then no change',
  { timeout: 300_000 },
  async (t) => {
    const tb = requireComponent(t, ['helm', 'charts', 'kube', 'registry']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const token = 'helm-otel-token';
    const { dir, server, repo, ns, cleanup } = await helmDeviceSetup(tb, {
      prefix: 'agent-e2e-helm-otel-',
      deviceId: 'dev-o',
      token,
      nsPrefix: 'margo-otel-',
    });
    const id = '0000000d-4444-4a5b-9c3d-00000000000d';
    const helm = (...args: string[]) =>
      execFileSync(tb.helm!, [...args, '-n', ns, '--kubeconfig', tb.kubeconfig!], { encoding: 'utf8' });
    const values = () =>
      (JSON.parse(helm('get', 'values', 'web', '-o', 'json')) ?? {}) as Record<string, any>;
    const revision = () =>
      (JSON.parse(helm('history', 'web', '-o', 'json')) as { revision: number }[]).length;
    const agentWith = (otel: Record<string, unknown>) => {
      const { config, problems } = loadAgentConfig({
        flags: {
          ...agentFlags(dir, server, 'dev-o', token),
          helmPath: tb.helm!,
          kubeconfig: tb.kubeconfig!,
          helmPlainHttp: true,
          composeCommand: 'true',
          ...otel,
        },
      });
      assert.deepEqual(problems, []);
      return new Agent({ config, logger: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }) });
    };
    const doc = (serviceName?: string) =>
      deploymentYaml({
        name: 'shop',
        id,
        type: 'helm.v3',
        namespace: ns,
        annotations: { 'margo-gitops.io/application-version': '0.1.0' },
        components: [
          {
            name: 'web',
            properties: {
              repository: `${tb.chartRepo}/hello`,
              revision: '0.1.0',
              wait: true,
              timeout: '2m0s',
            },
          },
        ],
        parameters: serviceName
          ? { svc: { value: serviceName, pointer: 'global.margo.otel.serviceName', components: ['web'] } }
          : {},
      });
    let agent: Agent | undefined;
    try {
      repo.commit({ 'deployments/shop.yaml': doc() });
      agent = agentWith({});
      const r1 = await agent.pollOnce();
      assert.deepEqual(
        r1.actions.map((a) => `${a.kind}:${a.result}`),
        ['install:ok'],
      );
      assert.equal(values().global, undefined, 'no collector: nothing injected');
      assert.equal(revision(), 1);
      await agent.stop();

      // The device owner configures the collector: one upgrade with the values.
      const otel = { otelCollectorEndpoint: 'http://10.0.0.1:4318' };
      agent = agentWith(otel);
      const r2 = await agent.pollOnce();
      assert.deepEqual(
        r2.actions.filter((a) => a.kind !== 'noop').map((a) => `${a.kind}:${a.result}`),
        ['reconfigure:ok'],
      );
      assert.equal(revision(), 2);
      const o = values().global.margo.otel;
      assert.equal(o.endpoint, 'http://10.0.0.1:4318');
      assert.equal(o.protocol, 'http/protobuf');
      assert.equal(o.serviceName, 'web');
      const env = new Map((o.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
      assert.equal(env.get('HTTP_OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://10.0.0.1:4318');
      assert.equal(env.get('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://10.0.0.1:4318');
      assert.equal(env.get('OTEL_SERVICE_NAME'), 'web');
      assert.match(env.get('OTEL_RESOURCE_ATTRIBUTES')!, /margo\.device\.id=dev-o/);
      assert.match(env.get('OTEL_RESOURCE_ATTRIBUTES')!, new RegExp(`margo\\.deployment\\.id=${id}`));
      assert.match(env.get('OTEL_RESOURCE_ATTRIBUTES')!, /margo\.app\.version=0\.1\.0/);
      await agent.stop();

      // Same settings after a restart: nothing to do, no new revision.
      agent = agentWith(otel);
      const r3 = await agent.pollOnce();
      assert.deepEqual(
        r3.actions.filter((a) => a.kind !== 'noop').map((a) => `${a.kind}:${a.result}`),
        [],
      );
      assert.equal(revision(), 2);

      // A parameter of the deployment wins over the injected value.
      repo.commit({ 'deployments/shop.yaml': doc('shop-web') });
      const r4 = await agent.pollOnce();
      assert.deepEqual(
        r4.actions.map((a) => `${a.kind}:${a.result}`),
        ['reconfigure:ok'],
      );
      assert.equal(values().global.margo.otel.serviceName, 'shop-web');
      assert.equal(values().global.margo.otel.endpoint, 'http://10.0.0.1:4318');
    } finally {
      await agent?.stop();
      await cleanup();
    }
  },
);
