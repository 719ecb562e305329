// What the orchestrator builds on for a device: its own record and commits it can prove it signed,
// never the unverified head of `main` (issue 12, findings 1, 2 and 4). Real bare repositories, the
// real trust signer, auditor and device-side verifier; the clock is moved, not waited for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import {
  createManifestSigner,
  createSignedManifest,
  createSignedStateAuditor,
  initPki,
  loadSigningState,
  rotateSigningKey,
  MANIFEST_FILE,
  verifyManifest,
  type Pki,
} from '@margo-gitops/trust';
import { isMargoError } from '@margo-gitops/spec';
import { pino } from 'pino';
import { bareGit, capabilities, git, helloYaml, tempRoot, WorkTree } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const { root, cleanup } = tempRoot('margo-orch-trusted-');
after(cleanup);

async function setup(name: string) {
  const base = join(root, name);
  const reposRoot = join(base, 'data', 'repos');
  await createRepos(reposRoot);
  await ensureDeviceRepo(reposRoot, 'edge-1');
  const devDir = join(reposRoot, 'devices', 'edge-1.git');
  new WorkTree(root, devDir, 'status').write(
    { 'capabilities.json': capabilities('edge-1', 'Standalone Device', '8Gi') },
    'caps',
  );
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') },
    'hello',
  );
  const fleet = new WorkTree(root, join(reposRoot, 'fleet.git'), 'main');
  fleet.write(
    {
      'devices/edge-1.yaml': 'kind: Device\nid: edge-1\nrole: standalone-device\n',
      'deployments/web.yaml':
        'kind: Deployment\nname: web\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [edge-1]}\nparameters: {greeting: decided}\n',
    },
    'web',
  );
  const pki: Pki = await initPki(join(base, 'pki'), { commonName: 'test CA', bits: 2048 });
  const clock = { now: Date.now() };
  const mk = () =>
    new Orchestrator({
      dataDir: join(base, 'data'),
      reposRoot,
      logger: pino({ level: 'silent' }),
      intervalMs: 0,
      signer: createManifestSigner(async () => (await loadSigningState(pki.dir)).signing, {
        now: () => new Date(clock.now),
      }),
      auditor: createSignedStateAuditor({
        caCertPem: pki.ca.certPem,
        pkiDir: pki.dir,
        now: () => new Date(clock.now),
      }),
      signerEpoch: async () => (await loadSigningState(pki.dir)).serial,
      now: () => clock.now,
    });
  /** The device's check of main at the current clock (what the agent runs before applying). */
  const deviceVerify = () => {
    const files = new Map<string, Buffer>();
    for (const p of bareGit(devDir, 'ls-tree', '-r', '--name-only', 'main').split('\n'))
      if (p) files.set(p, raw(devDir, p)!);
    return verifyManifest(files.get(MANIFEST_FILE), {
      caCertPem: pki.ca.certPem,
      deviceId: 'edge-1',
      files,
      now: new Date(clock.now),
    });
  };
  return { base, reposRoot, devDir, fleet, pki, clock, mk, deviceVerify };
}

/** Exact bytes of a file on main (bareGit trims). */
function raw(devDir: string, path: string): Buffer | undefined {
  try {
    return execFileSync('git', ['--git-dir', devDir, 'show', `main:${path}`], { stdio: 'pipe' });
  } catch {
    return undefined;
  }
}

let planted = 0;
/** Pushes a commit to the device's main straight into the bare repository (the Git-host attacker). */
function plant(devDir: string, files: Record<string, string | null>): string {
  const wt = join(root, `attack-${++planted}`);
  git(root, 'clone', '-q', '-b', 'main', devDir, wt);
  for (const [p, content] of Object.entries(files)) {
    if (content === null) rmSync(join(wt, p));
    else writeFileSync(join(wt, p), content);
  }
  git(wt, 'add', '-A');
  git(wt, '-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid', 'commit', '-qm', 'attack');
  git(wt, 'push', '-q', 'origin', 'HEAD:main');
  return git(wt, 'rev-parse', 'HEAD');
}

test('moved clock: an unchanged device is re-signed days before expiry, so it never sees an expired manifest', async () => {
  const s = await setup('clock');
  const o = s.mk();
  assert.equal((await o.reconcileNow('first')).committed, 1);
  let resigns = 0;
  let minLeftAtResign = Infinity;
  let expiresAt = Date.parse(s.deviceVerify().manifest.expiresAt);
  // 30 days of hourly periodic passes; the device checks main every hour in between.
  for (let h = 1; h <= 30 * 24; h++) {
    s.clock.now += HOUR;
    const r = await o.reconcileNow('periodic');
    if (r.committed) {
      resigns++;
      minLeftAtResign = Math.min(minLeftAtResign, expiresAt - s.clock.now);
      expiresAt = Date.parse(s.deviceVerify().manifest.expiresAt);
    }
    s.deviceVerify(); // throws TRUST_MANIFEST_EXPIRED if the device ever got there
  }
  assert.ok(resigns >= 5 && resigns <= 7, `re-signed ${resigns} times in 30 days (7-day manifests)`);
  assert.ok(minLeftAtResign >= DAY, `re-signed with ${minLeftAtResign / HOUR} h left`);
  assert.match(bareGit(s.devDir, 'log', '-1', '--format=%s', 'main'), /re-sign desired state/);
});

test('a held deployment keeps the bytes the orchestrator signed, not an unsigned replacement', async () => {
  const s = await setup('hold');
  const o = s.mk();
  await o.reconcileNow('first');
  const signed = raw(s.devDir, 'deployments/web.yaml')!.toString();
  s.fleet.write({ 'deployments/web.yaml': 'kind: Deployment\nname: web\nbroken: [\n' }, 'typo');
  const planted = plant(s.devDir, {
    'deployments/web.yaml': signed.replace('decided', 'attacker'),
    [MANIFEST_FILE]: null,
  });
  assert.equal((await o.reconcileNow('held')).committed, 1);
  assert.equal(raw(s.devDir, 'deployments/web.yaml')!.toString(), signed);
  s.deviceVerify();
  assert.match(
    bareGit(s.devDir, 'log', '-1', '--format=%B', 'main'),
    new RegExp(`Margo-Replaced-Unsigned: ${planted} TRUST_MANIFEST_MISSING`),
  );
  const st = await o.getFleetStatus();
  assert.equal(st.devices[0]!.desiredStateProblem?.code, 'ORCH_DEVICE_REPO_TAMPERED');
  assert.equal(st.devices[0]!.desiredStateProblem?.commit, planted);
  assert.equal((await o.reconcileNow('again')).committed, 0, 'idempotent once restored');
});

test('a version of 2^64-1 on main is ignored; an older signed commit replayed is a rollback', async () => {
  const s = await setup('poison');
  const o = s.mk();
  await o.reconcileNow('first');
  const first = bareGit(s.devDir, 'rev-parse', 'main');
  const doc = JSON.parse(raw(s.devDir, MANIFEST_FILE)!.toString()) as { manifest: Record<string, string> };
  doc.manifest.version = '18446744073709551615';
  plant(s.devDir, { [MANIFEST_FILE]: JSON.stringify(doc) });
  s.clock.now += 1000;
  assert.equal((await o.reconcileNow('poisoned')).committed, 1);
  const v = s.deviceVerify();
  assert.ok(v.version < 1n << 62n, `version ${v.version}`);
  const st = await o.getFleetStatus();
  assert.match(st.devices[0]!.desiredStateProblem!.message, /TRUST_MANIFEST_SIGNATURE_INVALID/);
  assert.equal(st.devices[0]!.repoError, undefined);

  // Rewind main to the first signed commit: genuine signature, older version.
  bareGit(s.devDir, 'update-ref', 'refs/heads/main', first);
  s.clock.now += 1000;
  assert.equal((await o.reconcileNow('rewound')).committed, 1);
  assert.ok(s.deviceVerify().version > v.version);
  assert.equal((await o.getFleetStatus()).devices[0]!.desiredStateProblem?.commit, first);
  assert.match(
    (await o.getFleetStatus()).devices[0]!.desiredStateProblem!.message,
    /TRUST_MANIFEST_ROLLBACK/,
  );
});

test('after losing its state the orchestrator recognises its own signed main, and only that', async () => {
  const s = await setup('lost');
  await s.mk().reconcileNow('first');
  const head = bareGit(s.devDir, 'rev-parse', 'main');
  rmSync(join(s.base, 'data', 'state'), { recursive: true, force: true });
  const o = s.mk();
  const deployed = raw(s.devDir, 'deployments/web.yaml')!.toString();
  // Its own signed main is recognised: no problem, same content; re-signed once at most, since the
  // record of which signing key signed it was lost with the state.
  assert.ok((await o.reconcileNow('restart')).committed <= 1);
  assert.equal((await o.reconcileNow('again')).committed, 0);
  assert.equal(raw(s.devDir, 'deployments/web.yaml')!.toString(), deployed);
  assert.equal(bareGit(s.devDir, 'rev-list', '--count', `${head}..main`) <= '1', true);
  assert.equal((await o.getFleetStatus()).devices[0]!.desiredStateProblem, undefined);

  // State lost AND main replaced while the intent is broken: nothing is provably the
  // orchestrator's, so the held deployment gets nothing rather than the attacker's bytes.
  s.fleet.write({ 'deployments/web.yaml': 'kind: Deployment\nname: web\nbroken: [\n' }, 'typo');
  const signed = raw(s.devDir, 'deployments/web.yaml')!.toString();
  plant(s.devDir, { 'deployments/web.yaml': signed.replace('decided', 'attacker') });
  rmSync(join(s.base, 'data', 'state'), { recursive: true, force: true });
  const o2 = s.mk();
  await o2.reconcileNow('restart 2');
  assert.equal(raw(s.devDir, 'deployments/web.yaml'), undefined);
  s.deviceVerify();
  try {
    verifyManifest(Buffer.from('{}'), { caCertPem: s.pki.ca.certPem, deviceId: 'edge-1', files: new Map() });
    assert.fail('an empty manifest verified');
  } catch (e) {
    assert.ok(isMargoError(e));
  }
});

test('a rotated signing key re-signs every device on the next pass; main signed by a revoked key is foreign', async () => {
  const s = await setup('rotate');
  const o = s.mk();
  await o.reconcileNow('first');
  const old = s.deviceVerify();
  assert.equal((await o.reconcileNow('noop')).committed, 0);
  await rotateSigningKey(s.pki, { compromised: true, bits: 2048 });
  s.clock.now += 1000;
  assert.equal((await o.reconcileNow('after rotation')).committed, 1, 're-signed without any change');
  const now = s.deviceVerify();
  assert.notEqual(now.signer.serial, old.signer.serial);
  assert.equal((await o.reconcileNow('again')).committed, 0, 'once');

  // The leaked key signs a newer-looking state; with its state lost, the orchestrator must not
  // take it for its own.
  const evil = new Map<string, Buffer>([
    [
      'deployments/web.yaml',
      Buffer.from(raw(s.devDir, 'deployments/web.yaml')!.toString().replace('decided', 'leaked')),
    ],
  ]);
  const manifest = createSignedManifest(
    { deviceId: 'edge-1', files: evil, version: now.version + 10n, expiresAt: new Date(s.clock.now + DAY) },
    s.pki.signing,
  );
  const planted = plant(s.devDir, {
    'deployments/web.yaml': evil.get('deployments/web.yaml')!.toString(),
    [MANIFEST_FILE]: manifest.toString(),
  });
  rmSync(join(s.base, 'data', 'state'), { recursive: true, force: true });
  const o2 = s.mk();
  await o2.reconcileNow('restart');
  const problem = (await o2.getFleetStatus()).devices[0]!.desiredStateProblem;
  assert.equal(problem?.commit, planted);
  assert.match(problem!.message, /TRUST_MANIFEST_SIGNER_REVOKED/);
  assert.doesNotMatch(raw(s.devDir, 'deployments/web.yaml')?.toString() ?? '', /leaked/);
});
