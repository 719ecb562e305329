// Smoke: a test chart from the OCI registry is installed with `helm install --wait` into the real
// kube-apiserver (pods made Ready by kwok), is visible through @kubernetes/client-node with the
// values that were set, and uninstalls cleanly.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { requireComponent, testbedProcessEnv } from '../testbed/env.ts';
import { mustRun, run, uniqueName, waitFor } from './util.ts';

function isNotFound(e: unknown): boolean {
  const err = e as { code?: number; statusCode?: number; body?: unknown };
  return err?.code === 404 || err?.statusCode === 404;
}

test('helm installs a test chart into the API server; client-node sees it; it uninstalls cleanly', async (t) => {
  const tb = requireComponent(t, ['kube', 'helm', 'charts']);
  if (!tb) return;
  const home = mkdtempSync(join(tmpdir(), 'margo-smoke-kube-'));
  const env = testbedProcessEnv(tb, {
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  });
  const ns = uniqueName('smoke');
  const release = 'hello';
  const token = uniqueName('token');

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(tb.kubeconfig!);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  t.after(async () => {
    await run(tb.helm!, ['uninstall', release, '-n', ns, '--wait'], { env, timeoutMs: 60_000 });
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });

  await mustRun(
    tb.helm!,
    [
      'install',
      release,
      `${tb.chartRepo}/hello`,
      '--version',
      '0.1.0',
      '--plain-http',
      '--namespace',
      ns,
      '--create-namespace',
      '--set',
      'replicaCount=2',
      '--set',
      `env.SMOKE_TOKEN=${token}`,
      '--wait',
      '--timeout',
      '120s',
    ],
    { env, timeoutMs: 150_000 },
  );

  // The objects are real API objects, seen through the official client.
  const dep = await apps.readNamespacedDeployment({ name: release, namespace: ns });
  assert.equal(dep.spec?.replicas, 2);
  assert.equal(dep.status?.readyReplicas, 2, 'helm --wait returned before the deployment was ready');
  const container = dep.spec?.template.spec?.containers[0];
  assert.equal(container?.image, tb.image ?? '127.0.0.1:5000/margo/echo:1');
  assert.ok(container?.env?.some((e) => e.name === 'SMOKE_TOKEN' && e.value === token));
  const cm = await core.readNamespacedConfigMap({ name: release, namespace: ns });
  assert.equal(cm.data?.SMOKE_TOKEN, token);

  const pods = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `app.kubernetes.io/instance=${release}`,
  });
  assert.equal(pods.items.length, 2);
  for (const p of pods.items) {
    assert.equal(p.spec?.nodeName, tb.kubeNode ?? 'kwok-node-0');
    assert.equal(p.status?.phase, 'Running');
    assert.ok(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  }

  const status = await mustRun(tb.helm!, ['status', release, '-n', ns, '-o', 'json'], { env });
  assert.equal((JSON.parse(status) as { info: { status: string } }).info.status, 'deployed');

  await mustRun(tb.helm!, ['uninstall', release, '-n', ns, '--wait', '--timeout', '60s'], {
    env,
    timeoutMs: 90_000,
  });
  await assert.rejects(apps.readNamespacedDeployment({ name: release, namespace: ns }), isNotFound);
  await assert.rejects(core.readNamespacedConfigMap({ name: release, namespace: ns }), isNotFound);
  // the pods go away too (garbage collection by the controller-manager, deletion faked by kwok)
  await waitFor(
    'pods of the uninstalled release to disappear',
    async () => {
      const left = await core.listNamespacedPod({
        namespace: ns,
        labelSelector: `app.kubernetes.io/instance=${release}`,
      });
      return left.items.length === 0 ? true : undefined;
    },
    60_000,
    500,
  );
  const releases = await mustRun(tb.helm!, ['list', '-n', ns, '-a', '-q'], { env });
  assert.equal(releases.trim(), '');
});

test('the multi-component test app (frontend + backend charts) installs and uninstalls', async (t) => {
  const tb = requireComponent(t, ['kube', 'helm', 'charts']);
  if (!tb) return;
  const home = mkdtempSync(join(tmpdir(), 'margo-smoke-kube-'));
  const env = testbedProcessEnv(tb, {
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  });
  const ns = uniqueName('smoke-multi');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(tb.kubeconfig!);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  t.after(async () => {
    for (const r of ['backend', 'frontend']) {
      await run(tb.helm!, ['uninstall', r, '-n', ns, '--wait'], { env, timeoutMs: 60_000 });
    }
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });
  for (const chart of ['backend', 'frontend']) {
    await mustRun(
      tb.helm!,
      [
        'install',
        chart,
        `${tb.chartRepo}/${chart}`,
        '--version',
        '0.1.0',
        '--plain-http',
        '-n',
        ns,
        '--create-namespace',
        '--wait',
        '--timeout',
        '120s',
      ],
      { env, timeoutMs: 150_000 },
    );
  }
  const fe = await apps.readNamespacedDeployment({ name: 'frontend', namespace: ns });
  const feEnv = fe.spec?.template.spec?.containers[0]?.env ?? [];
  assert.ok(feEnv.some((e) => e.name === 'BACKEND_URL' && e.value === 'http://backend:8080'));
  const svc = await core.readNamespacedService({ name: 'backend', namespace: ns });
  assert.equal(svc.spec?.ports?.[0]?.port, 8080);
  for (const r of ['frontend', 'backend']) {
    await mustRun(tb.helm!, ['uninstall', r, '-n', ns, '--wait'], { env, timeoutMs: 90_000 });
    await assert.rejects(apps.readNamespacedDeployment({ name: r, namespace: ns }), isNotFound);
  }
});
