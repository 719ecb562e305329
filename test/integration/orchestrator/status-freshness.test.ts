// Status freshness (issue 12, finding 8): with a stolen device token an attacker can push the
// device's own old signed status files again. Every status commit carries a signed observed.json
// with a sequence number and the digest of each file; the orchestrator keeps the highest sequence
// it accepted (also across restarts) and ignores a replayed report or a file not bound to the
// commit's observed.json. Real bare repositories, real device signatures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import { createHash } from 'node:crypto';
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

const { root, cleanup } = tempRoot('margo-orch-freshness-');
const dataDir = join(root, 'data');
const reposRoot = join(dataDir, 'repos');
const devDir = join(reposRoot, 'devices', 'dev.git');
let pki: Pki;
let identity: { keyPem: string; certPem: string };
let wt: WorkTree;

/** The files of one signed status commit, as the agent writes them. */
function signedReport(seq: bigint, memory: string): Record<string, string> {
  const caps = Buffer.from(capabilities('dev', 'Standalone Device', memory));
  const files = new Map<string, Buffer>([['capabilities.json', caps]]);
  // The wire format written out here (not through spec's buildObserved), so the test also pins it.
  const digest = `sha256:${createHash('sha256').update(caps).digest('hex')}`;
  const observed = { commit: 'a'.repeat(40), seq: seq.toString(), files: { 'capabilities.json': digest } };
  files.set('observed.json', Buffer.from(JSON.stringify(observed, null, 2) + '\n'));
  files.set(SIGNATURES_FILE, Buffer.from(signFiles(files, identity.keyPem, identity.certPem)));
  return Object.fromEntries([...files].map(([p, b]) => [p, b.toString('utf8')]));
}

const mk = () =>
  new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    statusVerifier: createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
  });
const outcome = (o: Orchestrator) => o.deviceOutcomes('dev')[0]?.status;
const problems = async (o: Orchestrator) =>
  (await o.getFleetStatus()).devices.find((d) => d.deviceId === 'dev')?.statusProblems ?? [];

before(async () => {
  pki = await initPki(join(dataDir, 'pki'), { commonName: 'freshness test', bits: 2048 });
  const k = createDeviceKeyAndCsr('dev', { bits: 2048 });
  identity = { keyPem: k.keyPem, certPem: signDeviceCsr(pki.ca, k.csrPem, { expectedDeviceId: 'dev' }) };
  await createRepos(reposRoot);
  await ensureDeviceRepo(reposRoot, 'dev');
  wt = new WorkTree(root, devDir, 'status', { name: 'dev', email: 'dev@devices.invalid' });
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') },
    'publish',
  );
  new WorkTree(root, join(reposRoot, 'fleet.git'), 'main').write(
    {
      'devices/dev.yaml': 'kind: Device\nid: dev\nrole: standalone-device\n',
      // hello's Compose profile needs 4Gi: an 8Gi device matches, a 2Gi one does not.
      'deployments/web.yaml':
        'kind: Deployment\nname: web\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [dev]}\n',
    },
    'deploy',
  );
});
after(cleanup);

test('a replayed older signed report is ignored, also after a restart', async () => {
  const o = mk();
  const old = signedReport(100n, '8Gi');
  wt.write(old, 'report 100');
  await o.reconcileNow('r1');
  assert.equal(outcome(o), 'matched');

  wt.write(signedReport(200n, '2Gi'), 'report 200'); // the device shrank: no longer fits
  await o.reconcileNow('r2');
  assert.equal(outcome(o), 'not-matched');
  assert.deepEqual(await problems(o), []);

  wt.write(old, 'replay 100'); // the attacker, with the device token: genuine but old
  await o.reconcileNow('r3');
  assert.equal(outcome(o), 'not-matched', 'the replay does not bring the deployment back');
  assert.equal((await problems(o))[0]?.code, 'TRUST_STATUS_REPLAYED');

  const restarted = mk();
  await restarted.reconcileNow('restart');
  assert.notEqual(outcome(restarted), 'matched', 'the highest sequence survives a restart');
  assert.equal((await problems(restarted))[0]?.code, 'TRUST_STATUS_REPLAYED');
  await restarted.stop();
  await o.stop();
});

test('an old signed file mixed into a newer commit is not used', async () => {
  const o = mk();
  const current = signedReport(300n, '2Gi');
  const old = signedReport(150n, '8Gi');
  // The newest observed.json, with the old capabilities and their old (genuine) signature spliced
  // into the newest signatures.json: every file verifies on its own.
  const sigs = {
    ...(JSON.parse(current[SIGNATURES_FILE]!) as Record<string, string>),
    'capabilities.json': (JSON.parse(old[SIGNATURES_FILE]!) as Record<string, string>)['capabilities.json']!,
  };
  wt.write(
    { ...current, 'capabilities.json': old['capabilities.json']!, [SIGNATURES_FILE]: JSON.stringify(sigs) },
    'mixed',
  );
  await o.reconcileNow('mixed');
  const p = await problems(o);
  assert.deepEqual(
    p.map((x) => [x.path, x.code]),
    [['capabilities.json', 'TRUST_STATUS_STALE']],
  );
  assert.notEqual(outcome(o), 'matched');
  assert.throws(() => bareGit(devDir, 'show', 'main:deployments/web.yaml'));
  await o.stop();
});
