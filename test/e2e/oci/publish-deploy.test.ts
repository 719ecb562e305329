/**
 * The whole OCI loop on real components, as a user runs it: `margo serve` (embedded Git server and
 * OCI registry), two enrolled `margo agent`s (one on the Docker engine, one with Helm against the
 * testbed's Kubernetes API server), `margo app publish` of the examples to the embedded registry
 * and of a copy of hello-world to the testbed's htpasswd registry (`--registry`), `margo deploy`,
 * and `installed` checked on Docker and in Kubernetes, not only in status. The committed desired
 * state names each artifact by `oci://` + revision with its digest; stock `helm pull` fetches the
 * published chart from the embedded registry.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import { expectOpenApiValid } from '../../conformance/openapi.ts';
import { freePort, json, MargoCli, removeWorkloadOnPort, repoRoot, stop } from '../cli/harness.ts';
import { helloGreeting } from '../../security/helpers.ts';
import { toRows } from '../../../packages/cli/src/commands/status.ts';

const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const p of procs.reverse()) await stop(p);
  for (const c of cleanups.reverse()) await c();
});

test(
  'publish to the embedded and an external registry, deploy Compose and Helm, installed',
  { timeout: 900_000 },
  async (t) => {
    const tb = requireComponent(t, ['docker', 'registry', 'helm', 'kube']);
    if (!tb) return;
    const dir = await mkdtemp(join(tmpdir(), 'margo-e2e-oci-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const hostPort = await freePort();
    const hostPort2 = await freePort();
    cleanups.push(
      () => removeWorkloadOnPort(hostPort),
      () => removeWorkloadOnPort(hostPort2),
    );
    const external = tb.registryAuth!; // host:port of the htpasswd registry
    const env = testbedProcessEnv(tb, { MARGO_AGENT_OCI_PLAIN_HTTP_HOSTS: external });
    const cli = new MargoCli(dir, env);
    cli.runTimeoutSeconds = 240;
    const margo = (...args: string[]) => cli.run(...args);
    const server = `http://127.0.0.1:${port}`;

    const init = json<{ adminTokenFile: string }>(
      await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
    );
    procs.push(
      await cli.start('serve', ['serve', '--data', 'margo-data'], /status\s+http:\/\/\S+\/api\/v1\/status/),
    );
    for (const [id, role] of [
      ['dev1', 'standalone-device'],
      ['k8s1', 'standalone-cluster'],
    ]) {
      const token = json<{ enrolmentToken: string }>(
        await margo('device', 'add', id!, '--role', role!, '-o', 'json'),
      ).enrolmentToken;
      await writeFile(join(dir, `${id}.token`), token, { mode: 0o600 });
      const kube =
        id === 'k8s1' ? { MARGO_AGENT_KUBECONFIG: tb.kubeconfig!, MARGO_AGENT_HELM_PATH: tb.helm! } : {};
      procs.push(
        await cli.start(
          id!,
          ['agent', '--server', server, '--token-file', `${id}.token`, '--state', `${id}-state`],
          new RegExp(`agent for device ${id} running`),
          kube,
        ),
      );
    }
    const deviceFile = (id: string, path: string) =>
      execFileSync(
        'git',
        ['--git-dir', join(dir, 'margo-data', 'repos', 'devices', `${id}.git`), 'show', `main:${path}`],
        {
          encoding: 'utf8',
        },
      );
    /** The device's state in `margo status NAME -o json`, read with the CLI's own row model. */
    const installed = (name: string, device: string) =>
      cli.until(300, `${name} installed on ${device}`, async () => {
        const r = await margo('status', name, '-o', 'json');
        if (r.code !== 0) return false;
        const row = toRows(JSON.parse(r.out)).find((d) => d.name === name);
        return row?.devices.find((d) => d.deviceId === device)?.state === 'installed';
      });

    // 1. Compose from the embedded registry.
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    json(
      await margo(
        'deploy',
        'hello-world@1.0.0',
        '--name',
        'hello',
        '--device',
        'dev1',
        '--set-string',
        'GREETING=from the embedded registry',
        '--set',
        `HOST_PORT=${hostPort}`,
        '-o',
        'json',
      ),
    );
    await cli.until(
      300,
      'hello serves the greeting',
      async () => (await helloGreeting(hostPort)) === 'from the embedded registry',
    );
    await installed('hello', 'dev1');
    const hello = parse(deviceFile('dev1', 'deployments/hello.yaml'));
    expectOpenApiValid('appDeploymentManifest', hello);
    const c = hello.spec.deploymentProfile.components[0];
    assert.equal(c.properties.repository, `oci://127.0.0.1:${port}/hello-world/hello`);
    assert.equal(c.properties.revision, '1.0.0');
    assert.match(c['x-margo-gitops-extensions'].digest, /^sha256:[0-9a-f]{64}$/);
    // The container that publishes the port runs the public image by its ordinary reference. (Polled:
    // the engine lists a container only while it runs, and one CI run found none for an instant.)
    const image = await cli.until(60, 'the container publishing the port', async () =>
      execFileSync('docker', ['ps', '--filter', `publish=${hostPort}`, '--format', '{{.Image}}'], {
        env,
        encoding: 'utf8',
      }).trim(),
    );
    assert.equal(image, 'busybox:1.36.1');

    // 2. Helm from the embedded registry into Kubernetes.
    const ns = `margo-oci-${Date.now().toString(36)}`;
    json(await margo('app', 'publish', join(repoRoot, 'examples/helm-app'), '-o', 'json'));
    json(
      await margo(
        'deploy',
        'helm-app@1.0.0',
        '--name',
        'chart',
        '--device',
        'k8s1',
        '--namespace',
        ns,
        '--set-string',
        'greeting=from helm',
        '-o',
        'json',
      ),
    );
    await installed('chart', 'k8s1');
    const chart = parse(deviceFile('k8s1', 'deployments/chart.yaml'));
    expectOpenApiValid('appDeploymentManifest', chart);
    assert.equal(chart.spec.deploymentProfile.type, 'helm');
    assert.equal(
      chart.spec.deploymentProfile.components[0].properties.repository,
      `oci://127.0.0.1:${port}/helm-app/hello`,
    );
    const kc = new KubeConfig();
    kc.loadFromFile(tb.kubeconfig!);
    const deployments = await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: ns });
    assert.equal(deployments.items.length, 1, 'the chart made its Deployment in the namespace');
    cleanups.push(async () => {
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: ns })
        .catch(() => undefined);
    });

    // 3. A stock client pulls the published chart from the embedded registry: same bytes as pinned.
    const token = (await readFile(init.adminTokenFile, 'utf8')).trim();
    const pulled = join(dir, 'pulled');
    await mkdir(pulled);
    // helm keeps the login in its own registry config, here a file of this test only.
    const helmEnv = { ...env, HELM_REGISTRY_CONFIG: join(dir, 'helm-registry.json') };
    execFileSync(
      tb.helm!,
      ['registry', 'login', `127.0.0.1:${port}`, '--plain-http', '--username', 'admin', '--password-stdin'],
      { env: helmEnv, input: token },
    );
    execFileSync(
      tb.helm!,
      ['pull', `oci://127.0.0.1:${port}/helm-app/hello`, '--version', '1.0.0', '--plain-http', '-d', pulled],
      { env: helmEnv },
    );
    const tgz = await readFile(join(pulled, 'hello-1.0.0.tgz'));
    assert.ok(tgz.length > 100);
    const manifest = await fetch(`${server}/v2/helm-app/hello/manifests/1.0.0`, {
      headers: {
        authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`,
        accept: 'application/vnd.oci.image.manifest.v1+json',
      },
    });
    const mBytes = Buffer.from(await manifest.arrayBuffer());
    assert.equal(
      `sha256:${createHash('sha256').update(mBytes).digest('hex')}`,
      chart.spec.deploymentProfile.components[0]['x-margo-gitops-extensions'].digest,
    );
    const layer = JSON.parse(mBytes.toString()).layers[0];
    assert.equal(layer.digest, `sha256:${createHash('sha256').update(tgz).digest('hex')}`);

    // 4. Compose from an external registry with credentials: published with --registry, pulled by
    //    the agent with the deployment's registry credentials (a sealed secret).
    const pkg = join(dir, 'hello-external');
    await cp(join(repoRoot, 'examples/hello-world'), pkg, { recursive: true });
    const desc = (await readFile(join(pkg, 'margo.yaml'), 'utf8')).replace(
      'version: 1.0.0',
      'version: 1.0.1',
    );
    await writeFile(
      join(pkg, 'margo.yaml'),
      desc.replace(
        /^parameters:\n/m,
        `parameters:
  REGISTRY_SERVER:
    targets: [{pointer: ENV.MARGO_REGISTRY_SERVER, components: ["hello"]}]
  REGISTRY_USERNAME:
    targets: [{pointer: ENV.MARGO_REGISTRY_USERNAME, components: ["hello"]}]
  REGISTRY_PASSWORD:
    targets: [{pointer: ENV.MARGO_REGISTRY_PASSWORD, components: ["hello"]}]
`,
      ),
    );
    await writeFile(join(dir, 'registry-password'), tb.registryPassword!, { mode: 0o600 });
    const ns2 = `margo-e2e-${Date.now().toString(36)}`;
    const published = json(
      await margo(
        'app',
        'publish',
        pkg,
        '--registry',
        `oci://${external}/${ns2}`,
        '--registry-username',
        tb.registryUser!,
        '--registry-password-file',
        join(dir, 'registry-password'),
        '-o',
        'json',
      ),
    );
    assert.ok(JSON.stringify(published).includes(external), JSON.stringify(published));
    json(
      await margo(
        'deploy',
        'hello-world@1.0.1',
        '--name',
        'hello-ext',
        '--device',
        'dev1',
        '--namespace',
        'hello-ext',
        '--set-string',
        'GREETING=from the external registry',
        '--set',
        `HOST_PORT=${hostPort2}`,
        '--set-string',
        `REGISTRY_SERVER=${external}`,
        '--set-string',
        `REGISTRY_USERNAME=${tb.registryUser}`,
        '--secret-file',
        `REGISTRY_PASSWORD=${join(dir, 'registry-password')}`,
        '-o',
        'json',
      ),
    );
    await cli.until(
      300,
      'hello-ext serves the greeting',
      async () => (await helloGreeting(hostPort2)) === 'from the external registry',
    );
    const ext = parse(deviceFile('dev1', 'deployments/hello-ext.yaml'));
    expectOpenApiValid('appDeploymentManifest', ext);
    assert.equal(
      ext.spec.deploymentProfile.components[0].properties.repository,
      `oci://${external}/${ns2}/hello-world/hello`,
    );
    assert.ok(
      !deviceFile('dev1', 'deployments/hello-ext.yaml').includes(tb.registryPassword!),
      'the password is sealed',
    );
    await installed('hello-ext', 'dev1');
  },
);
