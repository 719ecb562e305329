// Issue 15 foundation, through the real orchestrator over real bare repositories: a bad `rollout:`
// or maintenance window in the fleet repository is reported with file:line:col and its stable code
// (and the bad deployment is held, like any invalid fleet document), while a valid one is accepted.
// The valid one (one wave of 100 %, a first installation) reaches its one device in the same pass.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { bareGit, capabilities, helloYaml, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-rollout-');
const reposRoot = join(root, 'data', 'repos');
const dev = (id: string) => join(reposRoot, 'devices', `${id}.git`);
let fleet: WorkTree;
let orch: Orchestrator;

before(async () => {
  await createRepos(reposRoot);
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') },
    'publish hello 1.0.0',
  );
  fleet = new WorkTree(root, join(reposRoot, 'fleet.git'), 'main');
  await ensureDeviceRepo(reposRoot, 'edge-1');
  new WorkTree(root, dev('edge-1'), 'status', { name: 'edge-1', email: 'edge-1@devices.invalid' }).write(
    { 'capabilities.json': capabilities('edge-1', 'Standalone Device', '8Gi') },
    'capabilities',
  );
  orch = new Orchestrator({
    dataDir: join(root, 'data'),
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    concurrency: 2,
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

const deployment = (name: string, rollout: string) =>
  `kind: Deployment\nname: ${name}\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [edge-1]}\n${rollout}`;

test('bad rollouts and windows are reported with file:line:col; a valid rollout is accepted', async () => {
  fleet.write(
    {
      'devices/edge-1.yaml': 'kind: Device\nid: edge-1\nrole: standalone-device\nlabels: {line: a}\n',
      'deployments/good.yaml': deployment(
        'good',
        'rollout:\n  maxConcurrent: 1\n  waves: [{percent: 100}]\n',
      ),
      'deployments/bad.yaml': deployment(
        'bad',
        'rollout:\n  waves:\n    - {percent: 10, devices: [edge-1]}\n',
      ),
      'windows/nights.yaml':
        'kind: MaintenanceWindow\nname: nights\nselector: {matchLabels: {line: a}}\ntimeZone: Europe/Atlantis\n' +
        'schedule: [{days: [mon], start: "22:00", end: "04:00"}]\n',
    },
    'deploy with rollouts',
  );
  await orch.reconcileNow('test');
  const { findings } = await orch.getFleetStatus();
  const where = (code: string) => {
    const f = findings.find((x) => x.code === code);
    assert.ok(f, `${code} in ${JSON.stringify(findings)}`);
    return `${f.file}:${f.line}:${f.column}`;
  };
  assert.equal(where('ROLLOUT_WAVE_INVALID'), 'deployments/bad.yaml:7:7');
  assert.equal(where('ROLLOUT_WINDOW_TIMEZONE_INVALID'), 'windows/nights.yaml:4:11');
  const files = bareGit(dev('edge-1'), 'ls-tree', '-r', '--name-only', 'main').split('\n');
  assert.deepEqual(
    files,
    ['deployments/good.yaml'],
    'the bad deployment is held; the good one is deployed by its one-wave rollout',
  );
});
