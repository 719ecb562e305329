// Signer revocation carried in signed desired state: a device remembers the revoked signing
// certificates of every manifest it accepts and refuses what they sign from then on.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRootCA, createSigningKey, type KeyAndCert } from './ca.js';
import { createDesiredStateVerifier } from './desired-state-verifier.js';
import {
  MANIFEST_FILE,
  buildManifest,
  createSignedManifest,
  needsResign,
  parseSignedManifest,
  signManifest,
  verifyManifest,
} from './manifest.js';
import { AppliedManifestStore } from './manifest-state.js';
import {
  initPki,
  loadPki,
  loadSigningState,
  readRevokedSigners,
  revokeSigner,
  rotateSigningKey,
} from './pki-store.js';
import { certificateSerial, readCertificate } from './x509-native.js';

const BITS = 2048;
const DAY = 86_400_000;
const ca = createRootCA({ commonName: 'revocation test root', validityDays: 30, bits: BITS });
const oldKey = createSigningKey(ca, { bits: BITS, validityDays: 20 });
const newKey = createSigningKey(ca, { bits: BITS, validityDays: 20 });
const serial = (k: KeyAndCert) => certificateSerial(readCertificate(k.certPem));
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'margo-signer-rev-'));
  dirs.push(d);
  return d;
}

const files = new Map([['deployments/web.yaml', Buffer.from('kind: ApplicationDeployment\n')]]);

function tree(version: bigint, key: KeyAndCert, revokedSigners?: string[]): Map<string, Buffer> {
  const m = createSignedManifest(
    { deviceId: 'press-7', files, version, expiresAt: new Date(Date.now() + 7 * DAY), revokedSigners },
    key,
  );
  return new Map([...files, [MANIFEST_FILE, m]]);
}

async function device() {
  const path = join(await tmp(), 'identity', 'applied-manifest.json');
  const verify = createDesiredStateVerifier({
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    appliedManifestPath: path,
  });
  const code = async (t: Map<string, Buffer>) => {
    try {
      await verify(t, { commit: 'c' });
      return 'accepted';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  return { path, code, store: new AppliedManifestStore(path) };
}

test('a manifest without revokedSigners keeps its canonical form; the list is normalised and signed', () => {
  const plain = buildManifest({
    deviceId: 'press-7',
    files,
    version: 1n,
    expiresAt: new Date(Date.now() + DAY),
  });
  assert.equal('revokedSigners' in plain, false);
  const m = buildManifest({
    deviceId: 'press-7',
    files,
    version: 1n,
    expiresAt: new Date(Date.now() + DAY),
    revokedSigners: ['0A:BC', 'abc', '01'],
  });
  assert.deepEqual(m.revokedSigners, ['1', 'abc']);
  assert.throws(
    () =>
      buildManifest({
        deviceId: 'press-7',
        files,
        version: 1n,
        expiresAt: new Date(),
        revokedSigners: ['xyz'],
      }),
    { code: 'TRUST_MANIFEST_MALFORMED' },
  );
  // Removing the list after signing breaks the signature: the list is covered by it.
  const signed = JSON.parse(
    signManifest({ ...m, revokedSigners: [serial(oldKey)] }, newKey.keyPem, newKey.certPem).toString(),
  );
  const check = (doc: unknown) =>
    verifyManifest(Buffer.from(JSON.stringify(doc)), { caCertPem: ca.certPem, deviceId: 'press-7', files });
  assert.deepEqual(check(signed).manifest.revokedSigners, [serial(oldKey)]);
  signed.manifest.revokedSigners = ['1', serial(oldKey)].sort();
  assert.throws(() => check(signed), { code: 'TRUST_MANIFEST_SIGNATURE_INVALID' });
  delete signed.manifest.revokedSigners;
  assert.throws(() => check(signed), { code: 'TRUST_MANIFEST_SIGNATURE_INVALID' });
  signed.manifest.revokedSigners = ['00' + serial(oldKey)]; // not the normalised form
  assert.throws(() => parseSignedManifest(Buffer.from(JSON.stringify(signed))), {
    code: 'TRUST_MANIFEST_MALFORMED',
  });
});

test('the accepted list is persisted; a revoked signer is refused even with a higher version', async () => {
  const d = await device();
  assert.equal(await d.code(tree(10n, oldKey)), 'accepted');
  assert.equal(await d.code(tree(11n, newKey, [serial(oldKey)])), 'accepted');
  assert.deepEqual((await d.store.read())?.revokedSigners, [serial(oldKey)]);
  assert.equal(await d.code(tree(99n, oldKey)), 'TRUST_MANIFEST_SIGNER_REVOKED');
  // a restarted device (new verifier, same state file) still refuses it
  const again = createDesiredStateVerifier({
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    appliedManifestPath: d.path,
  });
  await assert.rejects(again(tree(100n, oldKey), { commit: 'x' }), { code: 'TRUST_MANIFEST_SIGNER_REVOKED' });
  assert.equal(await d.code(tree(11n, newKey, [serial(oldKey)])), 'TRUST_MANIFEST_ROLLBACK');
  assert.equal(await d.code(tree(12n, newKey, [serial(oldKey)])), 'accepted');
  assert.equal((await stat(d.path)).mode & 0o777, 0o600);
});

test('the list only grows: a later manifest without it cannot un-revoke', async () => {
  const d = await device();
  assert.equal(await d.code(tree(1n, newKey, [serial(oldKey)])), 'accepted');
  assert.equal(await d.code(tree(2n, newKey)), 'accepted');
  assert.deepEqual((await d.store.read())?.revokedSigners, [serial(oldKey)]);
  assert.equal(await d.code(tree(3n, oldKey)), 'TRUST_MANIFEST_SIGNER_REVOKED');
  // the revoked key cannot sign its way back in with a list of its own
  assert.equal(await d.code(tree(4n, oldKey, [serial(newKey)])), 'TRUST_MANIFEST_SIGNER_REVOKED');
  assert.deepEqual((await d.store.read())?.revokedSigners, [serial(oldKey)]);
  // a corrupt list in the device state stops the device rather than forgetting revocations
  const rec = JSON.parse(await readFile(d.path, 'utf8'));
  await import('node:fs/promises').then((fs) =>
    fs.writeFile(d.path, JSON.stringify({ ...rec, revokedSigners: 'none' })),
  );
  assert.equal(await d.code(tree(5n, newKey)), 'IO_ERROR');
});

test('a manifest listing its own signer is malformed; the signer refuses to produce one', async () => {
  const d = await device();
  const own = buildManifest({
    deviceId: 'press-7',
    files,
    version: 1n,
    expiresAt: new Date(Date.now() + DAY),
    revokedSigners: [serial(oldKey)],
  });
  assert.throws(() => signManifest(own, oldKey.keyPem, oldKey.certPem), {
    code: 'TRUST_SIGNING_KEY_REVOKED',
  });
  // hand-made, bypassing signManifest's check
  const { sign } = await import('node:crypto');
  const { canonicalJson } = await import('./canonical-json.js');
  const forged = {
    manifest: own,
    signature: {
      algorithm: 'rsa-v1_5-sha256',
      value: sign('sha256', Buffer.from(canonicalJson(own)), oldKey.keyPem).toString('base64'),
    },
    signer: { certificates: [oldKey.certPem] },
  };
  assert.equal(
    await d.code(new Map([...files, [MANIFEST_FILE, Buffer.from(JSON.stringify(forged))]])),
    'TRUST_MANIFEST_MALFORMED',
  );
  assert.equal(await d.store.read(), undefined, 'nothing recorded');
});

test('rotateSigningKey --compromised records the old serial first; loadSigningState follows the files', async () => {
  const dir = join(await tmp(), 'pki');
  const pki = await initPki(dir, { commonName: 'rot root', bits: BITS });
  assert.deepEqual(await readRevokedSigners(dir), []);
  const s0 = await loadSigningState(dir);
  assert.equal(s0.serial, serial(pki.signing));
  const plain = await rotateSigningKey(pki, { bits: BITS });
  assert.deepEqual(await readRevokedSigners(dir), [], 'a routine rotation revokes nothing');
  const next = await rotateSigningKey(plain, { bits: BITS, compromised: true });
  assert.deepEqual(await readRevokedSigners(dir), [serial(plain.signing)]);
  assert.equal((await stat(join(dir, 'revoked-signers.json'))).mode & 0o777, 0o644);
  const s1 = await loadSigningState(dir);
  assert.equal(s1.serial, serial(next.signing));
  assert.deepEqual(s1.revokedSigners, [serial(plain.signing)]);
  assert.deepEqual((await loadPki(dir)).signing, next.signing);
  await revokeSigner(dir, plain.signing.certPem); // idempotent
  assert.deepEqual(await readRevokedSigners(dir), [serial(plain.signing)]);
  // needsResign: a manifest that lacks a revocation must be re-signed
  const m = createSignedManifest(
    { deviceId: 'press-7', files, version: 1n, expiresAt: new Date(Date.now() + 7 * DAY) },
    next.signing,
  );
  const opts = { renewBeforeMs: DAY, signingCertPem: next.signing.certPem };
  assert.equal(needsResign(m, new Date(), opts), false);
  assert.equal(needsResign(m, new Date(), { ...opts, revokedSigners: s1.revokedSigners }), true);
});
