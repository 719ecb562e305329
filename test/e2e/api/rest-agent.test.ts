/**
 * Our agent over the rc.2 REST API on real components: `margo serve` with its mTLS API, the built
 * agent bundle (`margo-agent --transport rest`) enrolled as users enrol it, the Docker engine and
 * the testbed's Kubernetes API server with Helm. Checked where the workload lives (docker ps /
 * inspect, helm list, the chart's ConfigMap through the kube API), not only in status:
 * - hello-world installed, reconfigured (a parameter change) and removed on Docker;
 * - helm-app installed, reconfigured and removed on Kubernetes;
 * - the fleet roll-up (`margo status`) shows the REST device exactly like a Git device;
 * - a device enrolled over Git and running hello-world, restarted on the same state folder with
 *   `--transport rest`, keeps its history (its status branch goes on from the Git commits with
 *   `Margo-Transport: rest` ones) and its state (the container is not recreated).
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { loadTestbed, requireComponent, type Testbed } from '../../testbed/env.js';
import {
  freePort,
  json,
  margoAgentBin,
  removeWorkloadOnPort,
  repoRoot,
  stop,
  type MargoCli,
} from '../cli/harness.js';
import { e2eRun, helloGreeting } from '../../security/helpers.js';
import { httpsGet, startApiServe } from '../../integration/api/fleet.js';
import { Rc2Replies } from './rc2-replies.js';

interface FleetRow {
  deviceId: string;
  reporting: string;
  upToDate?: boolean;
  lastReportAt?: string;
  statusProblems?: unknown[];
  repoError?: unknown;
}

interface Ctx {
  dir: string;
  cli: MargoCli;
  server: string;
  api: string;
  tb: Testbed;
  agents: Map<string, ChildProcess>;
  ports: number[];
  namespaces: string[];
}

describe('the agent over REST + mTLS on Docker and Kubernetes', { timeout: 1_200_000 }, () => {
  const c: Partial<Ctx> = { agents: new Map(), ports: [], namespaces: [] };
  const ctx = () => c as Ctx;
  const margo = (...a: string[]) => ctx().cli.run(...a);
  const repo = (id: string) => join(ctx().dir, 'margo-data', 'repos', 'devices', `${id}.git`);
  const gitIn = (id: string, ...a: string[]) => {
    try {
      return execFileSync('git', ['--git-dir', repo(id), ...a], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  /** Commits of the device's status branch, oldest first, with their trailers. */
  const statusLog = (id: string) =>
    gitIn(
      id,
      'log',
      '--reverse',
      '--format=%H%x1f%an%x1f%(trailers:key=Margo-Transport,valueonly)%x1e',
      'status',
    )
      .split('\x1e')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [commit = '', author = '', transport = ''] = s.split('\x1f');
        return { commit, author, transport: transport.trim() };
      });
  const docker = (...a: string[]) =>
    execFileSync('docker', a, { encoding: 'utf8', env: ctx().cli.env }).trim();
  /** The id of the one container publishing `port` ('' when none runs). */
  const containerOn = (port: number) => docker('ps', '-q', '--no-trunc', '--filter', `publish=${port}`);
  const envOf = (id: string) => JSON.parse(docker('inspect', '-f', '{{json .Config.Env}}', id)) as string[];

  /** Device row and the one deployment row of `name` in `margo status -o json`. */
  const rollup = async (name: string, device: string) => {
    const r = await margo('status', '-o', 'json');
    if (r.code !== 0) return undefined;
    const s = JSON.parse(r.out) as {
      devices: FleetRow[];
      deployments: { name: string; devices: { deviceId: string; state: string }[] }[];
    };
    return {
      device: s.devices.find((d) => d.deviceId === device),
      row: s.deployments.find((d) => d.name === name)?.devices.find((d) => d.deviceId === device),
    };
  };
  const installed = (name: string, device: string) =>
    ctx().cli.until(300, `${name} installed on ${device}`, async () => {
      const r = await rollup(name, device);
      return r?.row?.state === 'installed' ? r : undefined;
    });

  /** Enrols (first start) or resumes a device with the built agent bundle. */
  const startAgent = async (id: string, transport: 'git' | 'rest', extra: NodeJS.ProcessEnv = {}) => {
    const x = ctx();
    // The enrolment string only on the first start; later starts resume from the state folder.
    const enrolled = existsSync(join(x.dir, `${id}-state`));
    const args = [
      '--state',
      `${id}-state`,
      ...(enrolled ? [] : ['--server', x.server, '--token-file', `${id}.token`]),
    ];
    x.agents.set(
      id,
      await x.cli.start(
        id,
        [...args, '--transport', transport],
        new RegExp(`agent for device ${id} running`),
        extra,
        [margoAgentBin],
      ),
    );
    // The agent says which transport it runs, and over REST the API it uses (from the enrolment).
    const said = /"msg":"transport".*$/m.exec(x.cli.logs[id] ?? '')?.[0] ?? '';
    assert.match(said, new RegExp(`"transport":"${transport}"`), said);
    if (transport === 'rest') assert.ok(said.includes(`"api":"${x.api}`), `${said} names ${x.api}`);
  };
  const addDevice = async (id: string, role: string) => {
    const token = json<{ enrolmentToken: string }>(
      await margo('device', 'add', id, '--role', role, '-o', 'json'),
    ).enrolmentToken;
    await writeFile(join(ctx().dir, `${id}.token`), token, { mode: 0o600 });
  };
  const deployHello = (name: string, device: string, greeting: string, port: number) =>
    margo(
      'deploy',
      'hello-world@1.0.0',
      '--name',
      name,
      '--device',
      device,
      '--set-string',
      `GREETING=${greeting}`,
      '--set',
      `HOST_PORT=${port}`,
      '-o',
      'json',
    );

  before(async () => {
    const tb = loadTestbed();
    if (!tb?.components.includes('docker')) return;
    const { dir, port, cli } = await e2eRun('margo-e2e-rest-');
    Object.assign(c, { dir, cli, tb, server: `http://127.0.0.1:${port}` });
    cli.runTimeoutSeconds = 240;
    const served = await startApiServe(cli, port);
    c.agents!.set('serve', served.server);
    c.api = served.api;
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    await addDevice('rest1', 'standalone-device');
    await addDevice('git1', 'standalone-device');
    await startAgent('rest1', 'rest');
    await startAgent('git1', 'git');
  });

  after(async () => {
    const x = c as Ctx;
    if (!x.cli) return;
    const serve = x.agents.get('serve');
    for (const [name, p] of x.agents) if (name !== 'serve') await stop(p);
    await stop(serve);
    for (const p of x.ports) removeWorkloadOnPort(p, x.cli.env);
    if (x.namespaces.length && x.tb.kubeconfig) {
      const kc = new KubeConfig();
      kc.loadFromFile(x.tb.kubeconfig);
      const core = kc.makeApiClient(CoreV1Api);
      for (const ns of x.namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await rm(x.dir, { recursive: true, force: true });
  });

  test('Docker: hello-world installed, reconfigured and removed over REST; roll-up like Git', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const x = ctx();
    const [pRest, pGit] = [await freePort(), await freePort()];
    x.ports.push(pRest, pGit);

    json(await deployHello('hello-rest', 'rest1', 'one', pRest));
    json(await deployHello('hello-git', 'git1', 'over git', pGit));
    await x.cli.until(300, 'hello-rest serves one', async () => (await helloGreeting(pRest)) === 'one');
    const first = containerOn(pRest);
    assert.match(first, /^[0-9a-f]{64}$/, 'one container publishes the port');
    assert.ok(envOf(first).includes('GREETING=one'), 'the parameter reached the container');
    const restUp = await installed('hello-rest', 'rest1');
    const gitUp = await installed('hello-git', 'git1');

    // Every report of rest1 reached its status branch through the API (server-written commits).
    const restLog = statusLog('rest1');
    assert.ok(restLog.length > 0);
    assert.deepEqual(
      restLog.filter((l) => l.transport !== 'rest' || l.author !== 'rest1 (api)'),
      [],
      'rest1 reports only over REST',
    );
    const gitLog = statusLog('git1');
    assert.ok(gitLog.length > 0 && gitLog.every((l) => l.transport === ''), 'git1 reports over Git');

    // What rest1 exchanged, checked against the rc.2 schemas: the answers it was given (asked again
    // with its own SVID: the same bytes, content-addressed) and the reports it sent (as committed).
    const replies = new Rc2Replies(join(x.dir, 'bundles'));
    const idDir = join(x.dir, 'rest1-state', 'identity');
    const svid = {
      cert: await readFile(join(idDir, 'device.crt')),
      key: await readFile(join(idDir, 'device.key')),
    };
    const ca = await readFile(join(idDir, 'ca.crt'));
    const get = async (path: string) => {
      const r = await httpsGet(`${x.api}${path}`, { ca, id: svid });
      assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
      await replies.check(`GET ${path}`, r);
      return r;
    };
    const m = JSON.parse((await get('/api/v1/deployments')).body.toString()) as {
      bundle: { url: string } | null;
      deployments: { url: string }[];
    };
    assert.equal(m.deployments.length, 1);
    for (const d of m.deployments) await get(d.url);
    await get(m.bundle!.url);
    const sent = gitIn('rest1', 'ls-tree', '-r', '--name-only', 'status').split('\n');
    assert.ok(sent.includes('capabilities.json'), sent.join(' '));
    for (const path of sent) {
      const schema = path.startsWith('deployments/')
        ? 'DeploymentStatusManifest'
        : path === 'capabilities.json'
          ? 'DeviceCapabilitiesManifest'
          : undefined;
      if (schema) replies.add(path, schema, JSON.parse(gitIn('rest1', 'show', `status:${path}`)));
    }
    assert.equal(replies.checked.get('DeploymentStatusManifest'), 1);
    assert.deepEqual(replies.violations, [], 'zero violations of the rc.2 OpenAPI schemas');

    // The roll-up shows both alike: reporting, up to date, no status problem, same fields.
    await x.cli.until(120, 'both devices reporting and up to date', async () => {
      const [a, b] = [await rollup('hello-rest', 'rest1'), await rollup('hello-git', 'git1')];
      return a?.device?.reporting === 'reporting' &&
        b?.device?.reporting === 'reporting' &&
        a.device.upToDate === true &&
        b.device.upToDate === true
        ? true
        : undefined;
    });
    // A new desired version that changes none of its deployments (the signing key rotated: every
    // device gets a re-signed manifest) is acknowledged over REST too, so rest1 does not stay behind.
    const before = gitIn('rest1', 'rev-parse', 'main');
    json(await margo('pki', 'rotate-signing-key', '--data', join(x.dir, 'margo-data'), '-o', 'json'));
    const after = await x.cli.until(120, 'rest1 gets a re-signed manifest', async () => {
      const head = gitIn('rest1', 'rev-parse', 'main');
      return head && head !== before ? head : undefined;
    });
    await x.cli.until(120, 'rest1 acknowledges the re-signed manifest', async () => {
      const r = await rollup('hello-rest', 'rest1');
      return (r?.device as { observedCommit?: string } | undefined)?.observedCommit === after &&
        r?.device?.upToDate === true
        ? true
        : undefined;
    });
    for (const r of [restUp, gitUp]) {
      assert.equal(r.device?.statusProblems, undefined, JSON.stringify(r.device?.statusProblems));
      assert.equal(r.device?.repoError, undefined);
    }
    // Reconfigure: a parameter change reaches the container.
    json(await deployHello('hello-rest', 'rest1', 'two', pRest));
    await x.cli.until(300, 'hello-rest serves two', async () => (await helloGreeting(pRest)) === 'two');
    const second = await x.cli.until(60, 'the reconfigured container', async () => containerOn(pRest));
    assert.ok(envOf(second).includes('GREETING=two'));
    await installed('hello-rest', 'rest1');

    // Remove: the container goes, the deployment leaves the roll-up.
    const id = (parse(gitIn('rest1', 'show', 'main:deployments/hello-rest.yaml')) as { id: string }).id;
    assert.ok(id);
    json(await margo('undeploy', 'hello-rest', '-o', 'json'));
    await x.cli.until(300, 'no container on the port', async () => containerOn(pRest) === '');
    await x.cli.until(120, 'the removal reported', async () => {
      const f = gitIn('rest1', 'show', `status:deployments/${id}.json`);
      return f === '' || (JSON.parse(f) as { status: { state: string } }).status.state === 'removed';
    });
    const gone = await margo('status', 'hello-rest', '-o', 'json');
    assert.notEqual(gone.code, 0, 'the deployment is gone from the roll-up');

    // The device rows carry the same fields: a Git device has lastSeenAt (its fetches); a REST
    // device's polls count as contact too, else it would show `stale` once its window passed with
    // nothing new to report (no heartbeats).
    const shape = (d: FleetRow | undefined) => Object.keys(d ?? {}).sort();
    assert.deepEqual(
      shape((await rollup('hello-git', 'rest1'))?.device),
      shape((await rollup('hello-git', 'git1'))?.device),
      'the REST device row has the fields of the Git device row',
    );
  });

  test('Kubernetes: helm-app installed, reconfigured and removed over REST', async (t) => {
    const tb = requireComponent(t, ['docker', 'helm', 'kube']);
    if (!tb) return;
    const x = ctx();
    json(await margo('app', 'publish', join(repoRoot, 'examples/helm-app'), '-o', 'json'));
    await addDevice('k8s1', 'standalone-cluster');
    await startAgent('k8s1', 'rest', {
      MARGO_AGENT_KUBECONFIG: tb.kubeconfig!,
      MARGO_AGENT_HELM_PATH: tb.helm!,
    });
    const ns = `margo-rest-${Date.now().toString(36)}`;
    x.namespaces.push(ns);
    const kc = new KubeConfig();
    kc.loadFromFile(tb.kubeconfig!);
    const core = kc.makeApiClient(CoreV1Api);
    const releases = () =>
      JSON.parse(
        execFileSync(tb.helm!, ['list', '-n', ns, '-o', 'json', '--kubeconfig', tb.kubeconfig!], {
          encoding: 'utf8',
          env: x.cli.env,
        }),
      ) as { name: string; status: string; revision: string }[];
    const greeting = async () =>
      (await core.listNamespacedConfigMap({ namespace: ns })).items
        .map((m) => m.data?.GREETING)
        .find(Boolean);
    const deployChart = (g: string) =>
      margo(
        'deploy',
        'helm-app@1.0.0',
        '--name',
        'chart',
        '--device',
        'k8s1',
        '--namespace',
        ns,
        '--set-string',
        `greeting=${g}`,
        '-o',
        'json',
      );

    json(await deployChart('one'));
    await installed('chart', 'k8s1');
    const r1 = releases();
    assert.equal(r1.length, 1, JSON.stringify(r1));
    assert.equal(r1[0]!.status, 'deployed');
    assert.equal(await greeting(), 'one', 'the parameter reached the ConfigMap');
    const k8sLog = statusLog('k8s1');
    assert.ok(k8sLog.length > 0 && k8sLog.every((l) => l.transport === 'rest'), 'k8s1 reports over REST');

    json(await deployChart('two'));
    await x.cli.until(300, 'the chart reconfigured', async () => (await greeting()) === 'two');
    await installed('chart', 'k8s1');
    const r2 = releases();
    assert.equal(r2[0]!.status, 'deployed');
    assert.ok(Number(r2[0]!.revision) > Number(r1[0]!.revision), 'an upgrade, not a reinstall');

    json(await margo('undeploy', 'chart', '-o', 'json'));
    await x.cli.until(300, 'the release uninstalled', async () => releases().length === 0);
  });

  test('Git to REST: the same state folder keeps its history and its containers', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const x = ctx();
    const pGit = x.ports[1]!;
    // hello-git runs on git1 (first test), reported over Git.
    assert.equal(await helloGreeting(pGit), 'over git');
    const container = containerOn(pGit);
    assert.match(container, /^[0-9a-f]{64}$/);
    const startedAt = docker('inspect', '-f', '{{.State.StartedAt}}', container);
    const gitHistory = statusLog('git1');
    assert.ok(gitHistory.length > 0 && gitHistory.every((l) => l.transport === ''));

    // Restart on the same state folder over REST.
    await stop(x.agents.get('git1'));
    await startAgent('git1', 'rest');

    // A new deployment arrives and is reported over REST.
    const pNew = await freePort();
    x.ports.push(pNew);
    json(await deployHello('hello-git-b', 'git1', 'over rest', pNew));
    await x.cli.until(300, 'hello-git-b serves', async () => (await helloGreeting(pNew)) === 'over rest');
    await installed('hello-git-b', 'git1');

    // History: the branch goes on from the Git commits (same first commits, then REST ones).
    const log = await x.cli.until(120, 'REST commits on git1 status', async () => {
      const l = statusLog('git1');
      return l.some((e) => e.transport === 'rest') ? l : undefined;
    });
    assert.deepEqual(
      log.slice(0, gitHistory.length).map((l) => l.commit),
      gitHistory.map((l) => l.commit),
      'the Git history is kept, not rewritten',
    );
    const later = log.slice(gitHistory.length);
    assert.ok(later.length > 0 && later.every((l) => l.transport === 'rest' && l.author === 'git1 (api)'));

    // State: the old deployment is still installed and its container was not recreated.
    assert.equal(containerOn(pGit), container, 'same container');
    // Its plans over REST (logged) hold the new deployment and nothing for the one it already ran.
    assert.match(x.cli.logs.git1 ?? '', /"install:hello-git-b"/);
    assert.doesNotMatch(x.cli.logs.git1 ?? '', /"[a-z-]+:hello-git"/, 'nothing planned for hello-git');
    assert.equal(docker('inspect', '-f', '{{.State.StartedAt}}', container), startedAt, 'not restarted');
    assert.equal(await helloGreeting(pGit), 'over git');
    const both = await installed('hello-git', 'git1');
    assert.equal(both.device?.statusProblems, undefined, JSON.stringify(both.device?.statusProblems));
  });
});
