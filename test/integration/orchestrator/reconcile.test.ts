import assert from 'node:assert/strict';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo, IsoGitStore } from '@margo-gitops/git';
import { createStatusHttpHandler, deploymentIdFor, Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { parse } from 'yaml';
import { bareGit, capabilities, helloYaml, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-it-');
const dataDir = join(root, 'data');
const reposRoot = join(dataDir, 'repos');
const dev = (id: string) => join(reposRoot, 'devices', `${id}.git`);
let catalog: WorkTree;
let fleet: WorkTree;
let orch: Orchestrator;
let clock = Date.parse('2026-01-01T00:00:00Z');

function files(id: string): string[] {
  try {
    return bareGit(dev(id), 'ls-tree', '-r', '--name-only', 'main').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
function commitCount(id: string): number {
  try {
    return Number(bareGit(dev(id), 'rev-list', '--count', 'main'));
  } catch {
    return 0;
  }
}
function show(id: string, path: string) {
  return parse(bareGit(dev(id), 'show', `main:${path}`));
}

before(async () => {
  await createRepos(reposRoot);
  catalog = new WorkTree(root, join(reposRoot, 'catalog.git'), 'main', {
    name: 'Paula Publisher',
    email: 'paula@example.com',
  });
  fleet = new WorkTree(root, join(reposRoot, 'fleet.git'), 'main');
  // Devices report capabilities on their status branch before anything is deployed.
  const devices: [string, string, string][] = [
    ['edge-1', 'Standalone Device', '8Gi'],
    ['edge-2', 'Standalone Device', '2Gi'],
    ['k8s-1', 'Standalone Cluster', '16Gi'],
  ];
  for (const [id, role, memory] of devices) {
    await ensureDeviceRepo(reposRoot, id);
    new WorkTree(root, dev(id), 'status', { name: id, email: `${id}@devices.invalid` }).write(
      { 'capabilities.json': capabilities(id, role, memory) },
      'capabilities',
    );
  }
  orch = new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    concurrency: 4,
    now: () => clock,
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

const deviceDocs = {
  'devices/edge-1.yaml':
    'kind: Device\nid: edge-1\nrole: standalone-device\nlabels: {site: a}\nexpectedReportSeconds: 600\n',
  'devices/edge-2.yaml': 'kind: Device\nid: edge-2\nrole: standalone-device\nlabels: {site: a}\n',
  'devices/k8s-1.yaml': 'kind: Device\nid: k8s-1\nrole: standalone-cluster\nlabels: {site: b}\n',
  'devices/new-1.yaml': 'kind: Device\nid: new-1\nrole: standalone-device\nlabels: {site: a}\n',
};
const web = (greeting: string) =>
  `kind: Deployment\nname: web\napplication: {id: hello, version: ^1.0}\ntargets:\n  selector:\n    matchExpressions: [{key: site, operator: In, values: [a, b]}]\nparameters: {greeting: ${greeting}}\n`;
const extra = (greeting: string) =>
  `kind: Deployment\nname: extra\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [k8s-1]}\nparameters: {greeting: ${greeting}}\ndependsOn: [web]\n`;

test('catalog push + intent: the right devices get the right commits', async () => {
  const catalogOid = catalog.write({ 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') }, 'publish hello 1.0.0');
  const fleetOid = fleet.write(
    { ...deviceDocs, 'deployments/web.yaml': web('hi'), 'deployments/extra.yaml': extra('one') },
    'deploy web',
  );
  const s = await orch.reconcileNow('test');
  assert.deepEqual(s.failed, []);
  assert.equal(s.committed, 2, JSON.stringify(s));
  assert.deepEqual(files('edge-1'), ['deployments/web.yaml']);
  assert.deepEqual(files('k8s-1'), ['deployments/extra.yaml', 'deployments/web.yaml']);
  assert.deepEqual(files('edge-2'), []);
  assert.deepEqual(files('new-1'), []);

  const e1 = show('edge-1', 'deployments/web.yaml');
  assert.equal(e1.kind, 'ApplicationDeployment');
  assert.equal(e1.id, deploymentIdFor('edge-1', 'web'));
  assert.equal(e1.metadata.deviceId, 'edge-1');
  assert.equal(e1.spec.deploymentProfile.type, 'compose');
  assert.equal(e1.spec.parameters.greeting.value, 'hi');
  const k1 = show('k8s-1', 'deployments/extra.yaml');
  assert.equal(k1.spec.deploymentProfile.type, 'helm');
  assert.equal(k1.metadata.annotations['margo-gitops.io/depends-on'], 'web');

  const msg = bareGit(dev('edge-1'), 'log', '-1', '--format=%an <%ae>%n%B', 'main');
  assert.match(msg, /^Olivia Operator <olivia@example.com>/);
  assert.match(msg, new RegExp(`Margo-Fleet-Commit: ${fleetOid}`));
  assert.match(msg, new RegExp(`Margo-Catalog-Commit: ${catalogOid}`));
  assert.match(msg, /Margo-Intent: web/);
  // git itself finds the repository consistent, and isomorphic-git (the agent's backend) reads it.
  bareGit(dev('k8s-1'), 'fsck', '--strict');
  const iso = await new IsoGitStore(dev('k8s-1')).readFiles('main');
  assert.deepEqual([...iso.keys()].sort(), ['deployments/extra.yaml', 'deployments/web.yaml']);
  assert.equal(
    iso.get('deployments/web.yaml')!.toString(),
    bareGit(dev('k8s-1'), 'show', 'main:deployments/web.yaml') + '\n',
  );

  const reasons = Object.fromEntries(orch.deviceOutcomes('edge-2').map((o) => [o.deployment, o.reason]));
  assert.equal(reasons.web, 'needs 4Gi memory, device reports 2Gi');
  assert.equal(orch.deviceOutcomes('new-1')[0]?.reason, 'no capabilities reported');
});

test('re-run: zero commits', async () => {
  const before = ['edge-1', 'k8s-1'].map(commitCount);
  const s = await orch.reconcileNow('again');
  assert.equal(s.committed, 0);
  assert.equal(s.unchanged, 4);
  assert.deepEqual(['edge-1', 'k8s-1'].map(commitCount), before);
  // A fresh orchestrator (no memory, saved state only) also writes nothing.
  const progress: [number, number][] = [];
  const o2 = new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    onProgress: (p) => progress.push([p.done, p.total]),
  });
  assert.equal((await o2.reconcileNow('restart')).committed, 0);
  assert.deepEqual(progress, [
    [1, 4],
    [2, 4],
    [3, 4],
    [4, 4],
  ]);
  rmSync(join(dataDir, 'state'), { recursive: true, force: true });
  const o3 = new Orchestrator({ dataDir, reposRoot, logger: pino({ level: 'silent' }), intervalMs: 0 });
  assert.equal((await o3.reconcileNow('cold')).committed, 0);
});

test('change one parameter: only the affected device gets a commit', async () => {
  const before = { e1: commitCount('edge-1'), k: commitCount('k8s-1') };
  fleet.write({ 'deployments/extra.yaml': extra('two') }, 'change extra greeting');
  const s = await orch.reconcileNow('param');
  assert.equal(s.committed, 1);
  assert.equal(commitCount('edge-1'), before.e1);
  assert.equal(commitCount('k8s-1'), before.k + 1);
  assert.equal(show('k8s-1', 'deployments/extra.yaml').spec.parameters.greeting.value, 'two');
  assert.match(bareGit(dev('k8s-1'), 'log', '-1', '--format=%s', 'main'), /k8s-1: update extra/);
});

test('a new catalog version is followed by a range; an invalid parameter holds the device', async () => {
  catalog.write({ 'hello/1.2.0/margo.yaml': helloYaml('1.2.0') }, 'publish hello 1.2.0');
  const s = await orch.reconcileNow('catalog');
  assert.equal(s.committed, 2);
  assert.equal(
    show('edge-1', 'deployments/web.yaml').metadata.annotations['margo-gitops.io/application-version'],
    '1.2.0',
  );
  assert.equal(
    show('k8s-1', 'deployments/extra.yaml').metadata.annotations['margo-gitops.io/application-version'],
    '1.0.0',
  );

  fleet.write({ 'deployments/extra.yaml': extra('x'.repeat(50)) }, 'too long');
  const s2 = await orch.reconcileNow('bad param');
  assert.equal(s2.committed, 0);
  const o = orch.deviceOutcomes('k8s-1').find((x) => x.deployment === 'extra');
  assert.equal(o?.status, 'held');
  assert.equal(o?.code, 'ORCH_PARAMETER_INVALID');
  assert.equal(show('k8s-1', 'deployments/extra.yaml').spec.parameters.greeting.value, 'two');
});

test('fleet status: roll-up per deployment, unknown when not seen, over HTTP', async () => {
  // edge-1 reports web installed.
  const id = deploymentIdFor('edge-1', 'web');
  clock = Date.now();
  const edge1Status = new WorkTree(root, dev('edge-1'), 'status');
  edge1Status.write(
    {
      'capabilities.json': capabilities('edge-1', 'Standalone Device', '8Gi'),
      [`deployments/${id}.json`]: JSON.stringify({
        apiVersion: 'deployment.margo/v1',
        kind: 'DeploymentStatus',
        deploymentId: id,
        status: { state: 'installed' },
        components: [{ name: 'hello-compose', state: 'installed' }],
      }),
    },
    'status',
  );
  // Force an older change time so the report counts as current.
  clock = Date.now() + 1000;
  const st = await orch.getFleetStatus();
  const w = st.deployments.find((d) => d.name === 'web')!;
  assert.equal(w.counts.installed, 1, JSON.stringify(w.devices));
  assert.equal(w.counts['not-matched'], 2); // edge-2: memory; new-1: no capabilities reported
  assert.equal(w.devices.find((r) => r.deviceId === 'new-1')?.reason, 'no capabilities reported');
  // k8s-1 reported capabilities long "ago" relative to its 300 s window? Its status commit is recent: pending.
  assert.equal(w.devices.find((r) => r.deviceId === 'k8s-1')?.state, 'pending');
  // An hour later nobody is fresh: every matched device is unknown, never installed.
  clock = Date.now() + 3600_000;
  const late = (await orch.getFleetStatus()).deployments.find((d) => d.name === 'web')!;
  assert.equal(late.counts.installed, 0);
  assert.equal(late.counts.unknown, 2);
  // Unless a device keeps polling (the Git server reports it): idle, it has nothing to commit.
  const installedRow = w.devices.find((r) => r.state === 'installed')!;
  orch.notifyDeviceSeen(installedRow.deviceId);
  const polled = await orch.getFleetStatus();
  assert.equal(
    polled.deployments
      .find((d) => d.name === 'web')!
      .devices.find((r) => r.deviceId === installedRow.deviceId)?.state,
    'installed',
  );
  const deviceRow = polled.devices.find((d) => d.deviceId === installedRow.deviceId)!;
  assert.equal(deviceRow.reporting, 'reporting');
  assert.equal(deviceRow.lastSeenAt, new Date(clock).toISOString());
  // observed.json on the status branch: the device acted on its current main commit.
  const head = bareGit(dev('edge-1'), 'rev-parse', 'main').trim();
  edge1Status.write({ 'observed.json': JSON.stringify({ commit: head }) }, 'observed');
  const seen = (await orch.getFleetStatus()).devices.find((d) => d.deviceId === 'edge-1')!;
  assert.deepEqual([seen.observedCommit, seen.upToDate], [head, true]);
  edge1Status.write({ 'observed.json': '{"commit": 7}' }, 'bad');
  const bad = (await orch.getFleetStatus()).devices.find((d) => d.deviceId === 'edge-1')!;
  assert.equal(bad.observedCommit, undefined);
  assert.deepEqual(
    bad.statusProblems?.map((p) => [p.path, p.code]),
    [['observed.json', 'ORCH_STATUS_INVALID']],
  );
  edge1Status.write({ 'observed.json': null }, 'the tests below expect none');

  const handler = createStatusHttpHandler(orch, {
    authorize: (req) => req.headers.authorization === 'Bearer good',
  });
  const server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${base}/api/v1/status`)).status, 401);
    const all = await fetch(`${base}/api/v1/status`, { headers: { authorization: 'Bearer good' } });
    assert.equal(all.status, 200);
    assert.deepEqual(
      ((await all.json()) as { deployments: { name: string }[] }).deployments.map((d) => d.name),
      ['extra', 'web'],
    );
    const one = await fetch(`${base}/api/v1/status/extra`, { headers: { authorization: 'Bearer good' } });
    assert.equal(((await one.json()) as { deployment: { total: number } }).deployment.total, 1);
    assert.equal(
      (await fetch(`${base}/api/v1/status/nope`, { headers: { authorization: 'Bearer good' } })).status,
      404,
    );
    assert.equal((await fetch(`${base}/other`)).status, 404);
  } finally {
    server.close();
  }
});

test('a failing device repository blocks nobody and is retried', async () => {
  const lock = join(dev('edge-1'), 'refs', 'heads', 'main.lock');
  writeFileSync(lock, '');
  fleet.write({ 'deployments/web.yaml': web('hey') }, 'greeting hey');
  const s = await orch.reconcileNow('locked');
  assert.deepEqual(
    s.failed.map((f) => [f.deviceId, f.code]),
    [['edge-1', 'ORCH_REF_CONFLICT']],
  );
  assert.equal(s.committed, 1); // k8s-1 still updated
  assert.equal(show('edge-1', 'deployments/web.yaml').spec.parameters.greeting.value, 'hi');
  rmSync(lock);
  const s2 = await orch.reconcileNow('retry');
  assert.equal(s2.committed, 1);
  assert.equal(show('edge-1', 'deployments/web.yaml').spec.parameters.greeting.value, 'hey');
  bareGit(dev('edge-1'), 'fsck', '--strict');
});

test('delete the intent: removal commits; device stops matching: removal', async () => {
  fleet.write({ 'deployments/web.yaml': null }, 'remove web');
  const s = await orch.reconcileNow('delete');
  assert.equal(s.committed, 2);
  assert.deepEqual(files('edge-1'), []);
  assert.deepEqual(files('k8s-1'), ['deployments/extra.yaml']);
  assert.match(
    bareGit(dev('edge-1'), 'log', '-1', '--format=%B', 'main'),
    /remove web[\s\S]*Margo-Intent: web/,
  );
  fleet.write(
    {
      'devices/k8s-1.yaml': deviceDocs['devices/k8s-1.yaml'].replace(
        'standalone-cluster',
        'standalone-device',
      ),
      'deployments/extra.yaml': extra('three'),
    },
    'k8s-1 becomes a plain device',
  );
  // extra targets k8s-1 by id; as a standalone device it now gets the Compose profile (it has 16Gi, needs 4Gi).
  await orch.reconcileNow('role');
  assert.equal(show('k8s-1', 'deployments/extra.yaml').spec.deploymentProfile.type, 'compose');
  assert.equal((await orch.reconcileNow('idle')).committed, 0);
  assert.ok(existsSync(join(dataDir, 'state', 'orchestrator-devices.json')));
});

test('notifyPush coalesces into passes and picks up a status change', async () => {
  fleet.write({ 'deployments/web.yaml': web('back') }, 'web back');
  // Triggers arriving before a pass starts share it: one pass, one commit per device.
  const before = commitCount('edge-1');
  const a = orch.reconcileNow('push 1');
  orch.notifyPush({ repo: 'fleet.git', ref: 'refs/heads/main' });
  const b = orch.reconcileNow('push 2');
  assert.equal(a, b);
  const s = await a;
  assert.equal(s.committed, 2);
  assert.equal(commitCount('edge-1'), before + 1);
  // A trigger while a pass runs queues exactly one more.
  const running = orch.reconcileDevice('edge-1', 'x');
  const next1 = orch.reconcileNow('during');
  const next2 = orch.reconcileNow('during 2');
  assert.equal(next1, next2);
  assert.notEqual(next1, running);
  await Promise.all([running, next1]);
  assert.deepEqual(files('edge-1'), ['deployments/web.yaml']);
  // edge-2 grows memory: its status push makes it match.
  new WorkTree(root, dev('edge-2'), 'status').write(
    { 'capabilities.json': capabilities('edge-2', 'Standalone Device', '8Gi') },
    'more memory',
  );
  const d = await orch.reconcileDevice('edge-2');
  assert.equal(d.devices, 1);
  assert.equal(d.committed, 1);
  assert.deepEqual(files('edge-2'), ['deployments/web.yaml']);
});

test('a device whose labels stop matching loses the deployment', async () => {
  fleet.write(
    { 'devices/edge-1.yaml': deviceDocs['devices/edge-1.yaml'].replace('site: a', 'site: z') },
    'edge-1 moves to site z',
  );
  const s = await orch.reconcileNow('labels');
  assert.equal(s.committed, 1);
  assert.deepEqual(files('edge-1'), []);
  assert.match(bareGit(dev('edge-1'), 'log', '-1', '--format=%B', 'main'), /edge-1: remove web/);
});

test('a catalog package whose folder does not match its id is reported, not deployed', async () => {
  catalog.write({ 'broken/1.0.0/margo.yaml': helloYaml('1.0.0') }, 'publish a misplaced package');
  fleet.write(
    {
      'deployments/brk.yaml':
        'kind: Deployment\nname: brk\napplication: {id: broken, version: 1.0.0}\ntargets: {devices: [k8s-1]}\n',
    },
    'deploy brk',
  );
  const s = await orch.reconcileNow('broken catalog');
  assert.equal(s.committed, 0);
  const o = orch.deviceOutcomes('k8s-1').find((x) => x.deployment === 'brk');
  assert.equal(o?.status, 'error');
  assert.equal(o?.code, 'ORCH_CATALOG_INVALID');
  assert.match(o?.reason ?? '', /declares id hello, but its folder is broken\//);
  const st = await orch.getFleetStatus();
  assert.equal(st.deployments.find((d) => d.name === 'brk')?.errors[0]?.code, 'ORCH_CATALOG_INVALID');
});
