// The orchestrator uses a device's status only when it is signed by that device's certificate
// (trust's createStatusVerifier): unsigned status, status signed by another device and status
// edited on the Git host are ignored (capabilities too, so nothing is matched on forged facts)
// and flagged with their codes in the fleet status.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import {
  SIGNATURES_FILE,
  createDeviceKeyAndCsr,
  createStatusVerifier,
  initPki,
  signDeviceCsr,
  signFiles,
  type Pki,
} from '@margo-gitops/trust';
import { pino } from 'pino';
import { bareGit, capabilities, helloYaml, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-statusverify-');
const dataDir = join(root, 'data');
const reposRoot = join(dataDir, 'repos');
const dev = (id: string) => join(reposRoot, 'devices', `${id}.git`);
const IDS = ['genuine', 'unsigned', 'borrowed', 'edited'];
let pki: Pki;
let orch: Orchestrator;
const logs: Record<string, unknown>[] = [];
let genuineIdentity: { keyPem: string; certPem: string };

function identity(id: string) {
  const k = createDeviceKeyAndCsr(id, { bits: 2048 });
  return { keyPem: k.keyPem, certPem: signDeviceCsr(pki.ca, k.csrPem, { expectedDeviceId: id }) };
}

function report(
  id: string,
  signer?: { keyPem: string; certPem: string },
  tamper = false,
  wt = new WorkTree(root, dev(id), 'status', { name: id, email: `${id}@devices.invalid` }),
): void {
  const caps = Buffer.from(capabilities(id, 'Standalone Device', '8Gi'));
  const files = new Map([['capabilities.json', caps]]);
  if (signer) files.set(SIGNATURES_FILE, Buffer.from(signFiles(files, signer.keyPem, signer.certPem)));
  if (tamper) files.set('capabilities.json', Buffer.from(capabilities(id, 'Standalone Device', '64Gi')));
  wt.write(
    {
      [SIGNATURES_FILE]: null, // an unsigned report has none, also on top of a signed one
      ...Object.fromEntries([...files].map(([p, b]) => [p, b.toString('utf8')])),
    },
    'status',
  );
}

before(async () => {
  pki = await initPki(join(dataDir, 'pki'), { commonName: 'status verification test', bits: 2048 });
  await createRepos(reposRoot);
  for (const id of IDS) await ensureDeviceRepo(reposRoot, id);
  const genuine = (genuineIdentity = identity('genuine'));
  report('genuine', genuine);
  report('unsigned');
  report('borrowed', genuine); // another device's valid signature
  report('edited', identity('edited'), true); // signed, then changed on the Git host
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') },
    'publish',
  );
  new WorkTree(root, join(reposRoot, 'fleet.git'), 'main').write(
    {
      ...Object.fromEntries(
        IDS.map((id) => [`devices/${id}.yaml`, `kind: Device\nid: ${id}\nrole: standalone-device\n`]),
      ),
      'deployments/web.yaml': `kind: Deployment\nname: web\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [${IDS.join(', ')}]}\n`,
    },
    'deploy',
  );
  const logger = pino({ level: 'warn' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
  orch = new Orchestrator({
    dataDir,
    reposRoot,
    logger,
    intervalMs: 0,
    statusVerifier: createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
  });
});

after(async () => {
  await orch?.stop();
  cleanup();
});

test('only genuinely signed capabilities are matched; the rest are ignored and flagged', async () => {
  await orch.reconcileNow('test');
  const hasWeb = (id: string) =>
    bareGit(dev(id), 'ls-tree', '-r', '--name-only', 'main').includes('deployments/web.yaml');
  assert.equal(hasWeb('genuine'), true);
  for (const id of ['unsigned', 'borrowed', 'edited']) {
    assert.equal(orch.deviceOutcomes(id)[0]?.reason, 'no capabilities reported', id);
    assert.throws(() => bareGit(dev(id), 'rev-parse', '--verify', 'main'), `${id} got no desired state`);
  }

  const st = await orch.getFleetStatus();
  const problems = (id: string) => st.devices.find((d) => d.deviceId === id)?.statusProblems ?? [];
  assert.deepEqual(problems('genuine'), []);
  assert.equal(problems('unsigned')[0]?.code, 'TRUST_STATUS_UNSIGNED');
  assert.equal(problems('unsigned')[0]?.path, 'capabilities.json');
  assert.equal(problems('borrowed')[0]?.code, 'TRUST_STATUS_WRONG_SIGNER');
  assert.equal(problems('edited')[0]?.code, 'TRUST_STATUS_FORGED');

  const flagged = logs.filter((l) => l.msg === 'status file ignored').map((l) => l.deviceId);
  assert.deepEqual([...new Set(flagged)].sort(), ['borrowed', 'edited', 'unsigned']);
});

test('an unsigned report after a genuine one keeps the last genuine capabilities and is flagged', async () => {
  report('genuine'); // e.g. pushed with the device token, without the device key
  await orch.reconcileNow('test');
  assert.ok(
    bareGit(dev('genuine'), 'ls-tree', '-r', '--name-only', 'main').includes('deployments/web.yaml'),
    'the deployment stays',
  );
  assert.equal(orch.deviceOutcomes('genuine')[0]?.status, 'matched', 'still matched on the genuine facts');
  const st = await orch.getFleetStatus();
  const row = st.devices.find((d) => d.deviceId === 'genuine');
  assert.equal(row?.statusProblems?.[0]?.code, 'TRUST_STATUS_UNSIGNED');
});

test('after a restart, the last genuine capabilities are found in the status history', async () => {
  const wt = new WorkTree(root, dev('genuine'), 'status', {
    name: 'genuine',
    email: 'genuine@devices.invalid',
  });
  report('genuine', genuineIdentity, false, wt);
  report('genuine', undefined, false, wt); // the newest report is unsigned, its parent genuine
  const fresh = new Orchestrator({
    dataDir: join(root, 'data-restarted'),
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    statusVerifier: createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
  });
  try {
    await fresh.reconcileNow('restart');
    assert.equal(fresh.deviceOutcomes('genuine')[0]?.status, 'matched');
    const st = await fresh.getFleetStatus();
    assert.equal(
      st.devices.find((d) => d.deviceId === 'genuine')?.statusProblems?.[0]?.code,
      'TRUST_STATUS_UNSIGNED',
    );
  } finally {
    await fresh.stop();
  }
});
