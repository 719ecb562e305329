// Attacker scenarios against the desired state, on real Git repositories: the attacker has write
// access to the Git host and edits device repositories with git plumbing, replays old commits,
// serves another device's state, or stops updates (freeze). The "device" below does what the
// agent does before applying anything: read the tree, verify margo-manifest.json against the root
// CA, and persist the applied version (AppliedManifestStore) across restarts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  AppliedManifestStore,
  MANIFEST_FILE,
  createDeviceKeyAndCsr,
  createRootCA,
  createSignedManifest,
  createSigningKey,
  initPki,
  needsResign,
  nextManifestVersion,
  rotateSigningKey,
  seal,
  signDeviceCsr,
  unseal,
  unsealDeep,
  verifyManifest,
  type Pki,
} from '@margo-gitops/trust';
import { isMargoError } from '@margo-gitops/spec';
import { BareRepo, codeOf, tempDir } from './helpers.js';

const BITS = 2048;
const DAY = 86_400_000;
const SECRET = 'registry-pw-5f1c2e';

interface Device {
  id: string;
  keyPem: string;
  certPem: string;
  stateDir: string;
  /** What the device last applied (the "running" state). */
  applied: Map<string, Buffer> | undefined;
}

/** Orchestrator: renders the desired state (secret sealed to the device), signs it, commits it. */
function publish(
  repo: BareRepo,
  pki: Pki,
  device: Device,
  apps: string[],
  now: Date,
  ttlMs = 7 * DAY,
): string {
  const files = new Map<string, Buffer>();
  for (const app of apps) {
    const doc = `apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  name: ${app}\nspec:\n  parameters:\n    registryPassword:\n      value: ${seal(SECRET, device.certPem)}\n`;
    files.set(`deployments/${app}.yaml`, Buffer.from(doc));
  }
  const previous = repo.head() ? repo.readTree().get(MANIFEST_FILE) : undefined;
  const version = nextManifestVersion(previous, now);
  files.set(
    MANIFEST_FILE,
    createSignedManifest(
      { deviceId: device.id, files, version, expiresAt: new Date(now.getTime() + ttlMs), issuedAt: now },
      pki.signing,
    ),
  );
  return repo.commit(files, `desired state v${version}`);
}

/** Device: verify before applying; on refusal nothing changes and the code is returned. */
async function poll(repo: BareRepo, caCertPem: string, device: Device, now: Date): Promise<string> {
  const files = repo.readTree();
  const manifest = files.get(MANIFEST_FILE);
  files.delete(MANIFEST_FILE);
  const mem = new AppliedManifestStore(join(device.stateDir, 'applied-manifest.json')); // new instance = restart
  const last = await mem.read();
  try {
    const v = verifyManifest(manifest, {
      caCertPem,
      deviceId: device.id,
      files,
      lastAppliedVersion: last?.version,
      lastAppliedDigest: last?.digest,
      now,
    });
    if (v.unchanged) return 'unchanged';
    // "apply": the driver sees the unsealed parameters
    for (const content of files.values()) {
      const doc = parseYaml(content.toString('utf8'));
      assert.equal(unsealDeep(doc, device.keyPem).spec.parameters.registryPassword.value, SECRET);
    }
    device.applied = files;
    await mem.record(device.id, v, repo.head());
    return 'applied';
  } catch (e) {
    if (!isMargoError(e)) throw e;
    return e.code;
  }
}

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

async function fleet(t: import('node:test').TestContext) {
  const root = await tempDir(t, 'margo-sec-ds-');
  const pki = await initPki(join(root, 'pki'), { commonName: 'security test root', bits: BITS });
  const mk = (id: string): Device => {
    const k = createDeviceKeyAndCsr(id, { bits: BITS });
    return {
      id,
      keyPem: k.keyPem,
      certPem: signDeviceCsr(pki.ca, k.csrPem, { expectedDeviceId: id }),
      stateDir: join(root, 'devices', id),
      applied: undefined,
    };
  };
  const a = mk('press-7');
  const b = mk('press-8');
  const repoA = BareRepo.init(join(root, 'repos', 'press-7.git'));
  const repoB = BareRepo.init(join(root, 'repos', 'press-8.git'));
  return { root, pki, a, b, repoA, repoB };
}

test('files edited, added or removed directly on the Git host are refused; nothing is applied', async (t) => {
  const { pki, a, repoA } = await fleet(t);
  const now = new Date();
  publish(repoA, pki, a, ['web', 'db'], now);
  assert.equal(await poll(repoA, pki.ca.certPem, a, now), 'applied');
  const good = a.applied;

  const tree = repoA.readTree();
  const attacks: { name: string; edit: (m: Map<string, Buffer>) => void; code: string }[] = [
    {
      name: 'edit a deployment',
      edit: (m) =>
        m.set(
          'deployments/web.yaml',
          Buffer.from(
            m.get('deployments/web.yaml')!.toString().replace('name: web', 'name: web\n  image: evil/miner'),
          ),
        ),
      code: 'TRUST_MANIFEST_FILE_CHANGED',
    },
    {
      name: 'add a deployment',
      edit: (m) => m.set('deployments/miner.yaml', Buffer.from('kind: ApplicationDeployment\n')),
      code: 'TRUST_MANIFEST_FILE_ADDED',
    },
    {
      name: 'remove a deployment',
      edit: (m) => m.delete('deployments/db.yaml'),
      code: 'TRUST_MANIFEST_FILE_MISSING',
    },
    { name: 'remove the manifest', edit: (m) => m.delete(MANIFEST_FILE), code: 'TRUST_MANIFEST_MISSING' },
    {
      name: 'edit a file and its hash in the manifest',
      edit: (m) => {
        m.set('deployments/web.yaml', Buffer.from('kind: evil\n'));
        const doc = JSON.parse(m.get(MANIFEST_FILE)!.toString());
        doc.manifest.files['deployments/web.yaml'] = 'sha256:' + sha256hex('kind: evil\n');
        m.set(MANIFEST_FILE, Buffer.from(JSON.stringify(doc)));
      },
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
  ];
  for (const attack of attacks) {
    const files = new Map(tree);
    attack.edit(files);
    repoA.commit(files, `attacker: ${attack.name}`);
    assert.equal(await poll(repoA, pki.ca.certPem, a, now), attack.code, attack.name);
    assert.equal(a.applied, good, `${attack.name}: the last good state keeps running`);
  }
});

test('replaying an older signed commit is refused, also after a restart', async (t) => {
  const { pki, a, repoA } = await fleet(t);
  const t0 = new Date();
  const v1 = publish(repoA, pki, a, ['web'], t0);
  assert.equal(await poll(repoA, pki.ca.certPem, a, t0), 'applied');
  publish(repoA, pki, a, ['web', 'db'], new Date(t0.getTime() + 1000));
  assert.equal(await poll(repoA, pki.ca.certPem, a, t0), 'applied');
  assert.equal(
    await poll(repoA, pki.ca.certPem, a, t0),
    'unchanged',
    're-checking the applied commit is fine',
  );
  const applied = a.applied;
  repoA.resetTo(v1); // force-push of the old, validly signed commit
  assert.equal(await poll(repoA, pki.ca.certPem, a, t0), 'TRUST_MANIFEST_ROLLBACK');
  assert.equal(a.applied, applied);
});

test('a manifest signed for another device is refused', async (t) => {
  const { pki, a, b, repoA, repoB } = await fleet(t);
  const now = new Date();
  publish(repoA, pki, a, ['web'], now);
  assert.equal(await poll(repoA, pki.ca.certPem, a, now), 'applied');
  publish(repoB, pki, b, ['web', 'scada-bridge'], new Date(now.getTime() + 5000));
  repoA.commit(repoB.readTree(), "attacker: serve press-8's desired state to press-7");
  assert.equal(await poll(repoA, pki.ca.certPem, a, now), 'TRUST_MANIFEST_WRONG_DEVICE');
});

test('a frozen (no longer re-signed) desired state expires; re-signing before expiry keeps it alive', async (t) => {
  const { pki, a, repoA } = await fleet(t);
  const t0 = new Date();
  publish(repoA, pki, a, ['web'], t0, 2 * DAY);
  assert.equal(await poll(repoA, pki.ca.certPem, a, t0), 'applied');
  // healthy orchestrator: re-signs inside the renew window
  const t1 = new Date(t0.getTime() + 1.5 * DAY);
  assert.equal(
    needsResign(repoA.readTree().get(MANIFEST_FILE), t1, {
      renewBeforeMs: DAY,
      signingCertPem: pki.signing.certPem,
    }),
    true,
  );
  publish(repoA, pki, a, ['web'], t1, 2 * DAY);
  assert.equal(await poll(repoA, pki.ca.certPem, a, t1), 'applied');
  // attacker freezes the repository: the device notices once the manifest expires
  const t2 = new Date(t1.getTime() + 2 * DAY + 1);
  assert.equal(await poll(repoA, pki.ca.certPem, a, t2), 'TRUST_MANIFEST_EXPIRED');
});

test('manifests signed outside the orchestrator PKI are refused; a rotated signing key is accepted', async (t) => {
  const { root, pki, a, repoA } = await fleet(t);
  const now = new Date();
  publish(repoA, pki, a, ['web'], now);
  assert.equal(await poll(repoA, pki.ca.certPem, a, now), 'applied');
  const evilCa = createRootCA({ commonName: 'security test root', bits: BITS }); // same name, other key
  const evil: Pki = {
    dir: join(root, 'evil'),
    ca: evilCa,
    signing: createSigningKey(evilCa, { bits: BITS }),
  };
  publish(repoA, evil, a, ['web', 'miner'], new Date(now.getTime() + 1000));
  assert.equal(await poll(repoA, pki.ca.certPem, a, now), 'TRUST_MANIFEST_SIGNER_UNTRUSTED');
  const deviceAsSigner: Pki = { dir: '', ca: pki.ca, signing: { keyPem: a.keyPem, certPem: a.certPem } };
  publish(repoA, deviceAsSigner, a, ['web', 'miner'], new Date(now.getTime() + 2000));
  assert.equal(
    await poll(repoA, pki.ca.certPem, a, now),
    'TRUST_MANIFEST_SIGNER_UNTRUSTED',
    'a device key cannot sign desired state',
  );

  const rotated = await rotateSigningKey(pki, { bits: BITS });
  assert.equal(
    needsResign(repoA.readTree().get(MANIFEST_FILE), now, {
      renewBeforeMs: DAY,
      signingCertPem: rotated.signing.certPem,
    }),
    true,
  );
  publish(repoA, rotated, a, ['web', 'db'], new Date(now.getTime() + 3000));
  assert.equal(
    await poll(repoA, pki.ca.certPem, a, now),
    'applied',
    'no change on the device for a rotation',
  );
});

test('secrets are sealed to one device: never in plaintext in the repository, unreadable by another device', async (t) => {
  const { pki, a, b, repoA } = await fleet(t);
  publish(repoA, pki, a, ['web', 'db'], new Date());
  assert.equal(repoA.allObjectBytes().includes(SECRET), false, 'no plaintext secret in any Git object');
  const doc = parseYaml(repoA.readTree().get('deployments/web.yaml')!.toString('utf8'));
  const sealed = doc.spec.parameters.registryPassword.value as string;
  assert.match(sealed, /^sealed:v1:/);
  assert.equal(unseal(sealed, a.keyPem), SECRET);
  assert.equal(await codeOf(() => unseal(sealed, b.keyPem)), 'TRUST_SEALED_WRONG_KEY');
});
